"""The YAML config of one separately started component: what `caravan prepare` writes and `caravan hub`
and `caravan node` read.

1. Every path in a config (database, pki, scenario) is relative to the config file itself, so a prepared
   directory works from any working directory: a container's, a service manager's, another shell's.
2. A config says which component it is for: the hub's has `nodes`, a node's has `node`. Starting one
   with the other's config, or with a scenario file, is refused with the command that fits.
3. Unknown keys are refused with the known ones; values are checked for their type, and the files a
   config points to for being there, so a mistake is named with its key before anything starts.
4. Reading a config imports nothing heavy: the CLI reads it and binds the port before it loads the hub
   or node code, so that a port in use is reported at once.
5. Where a component listens (`listen.host`) and the name the others reach it by (`address`) differ in a
   container: it listens on every interface (0.0.0.0) and is reached by its service name, which its TLS
   certificate carries. Without `address`, the listening host is the name.
6. `listen.port: 0` takes any free port, which the ready line tells (`caravan node uz listening on URL`): for a
   component no peer finds through a config, such as one behind a proxy that reads that line.
7. `retry: {max_attempts: N}` is how many times the component tries the head of one of its queues (the
   hub's pushes to a node, a node's submissions to the hub) before it gives that envelope up and sends the
   next; without it, `exchange.client.MAX_ATTEMPTS` (about half an hour of a peer that answers nothing).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import yaml

from exchange.errors import InputError
from exchange.inputs import read_yaml_input

__all__ = [
    "HubConfig",
    "NodeConfig",
    "component_url",
    "load_component_config",
    "load_hub_config",
    "load_node_config",
    "write_hub_config",
    "write_node_config",
]

_CA_FILE = "ca.pem"  # what a config's pki directory must hold (exchange.pki writes it)


@dataclass(frozen=True)
class HubConfig:
    host: str
    port: int
    database: Path
    pki: Path
    nodes: Mapping[str, str]  # node id -> base URL
    clock_start: datetime | None  # None: the system clock
    tls: bool = True
    countries: Mapping[str, str] | None = None  # node id -> the country it serves
    nppos: Mapping[str, Mapping[str, Any]] | None = None  # node id -> its NPPO's name and IPPC Hub settings
    address: str | None = None  # the name the others reach it by; None: `host`
    max_attempts: int | None = None  # `retry.max_attempts`; None: exchange.client.MAX_ATTEMPTS

    @property
    def url(self) -> str:
        return component_url(self.tls, self.address or self.host, self.port)


@dataclass(frozen=True)
class NodeConfig:
    node: str
    scenario: Path
    host: str
    port: int
    hub: str
    database: Path
    pki: Path
    clock_start: datetime | None
    tls: bool = True
    address: str | None = None  # the name the others reach it by; None: `host`
    max_attempts: int | None = None  # `retry.max_attempts`; None: exchange.client.MAX_ATTEMPTS

    @property
    def url(self) -> str:
        return component_url(self.tls, self.address or self.host, self.port)


def component_url(tls: bool, host: str, port: int) -> str:
    return f"{'https' if tls else 'http'}://{host}:{port}"


_HUB_KEYS = ("listen", "address", "database", "pki", "nodes", "countries", "nppos", "clock", "tls", "retry")
_NODE_KEYS = ("node", "scenario", "listen", "address", "hub", "database", "pki", "clock", "tls", "retry")
_SECTION_KEYS = {"listen": ("host", "port"), "clock": ("start",), "retry": ("max_attempts",)}
"""The keys of a config's sections: `clock: {start: ..., speed: 2}` ran on as if `speed` were not there."""


def load_hub_config(path: Path) -> HubConfig:
    config = _Config.read(path, "hub")
    return HubConfig(
        host=config.host(),
        port=config.port(),
        database=config.store("database"),
        pki=config.pki(),
        nodes=config.mapping("nodes", required=True),
        clock_start=config.clock_start(),
        tls=config.flag("tls"),
        countries=config.mapping("countries"),
        nppos=config.settings("nppos"),
        address=config.optional_text("address"),
        max_attempts=config.max_attempts(),
    )


def load_node_config(path: Path) -> NodeConfig:
    config = _Config.read(path, "node")
    return NodeConfig(
        node=config.node(),
        scenario=config.path("scenario", existing=True),
        host=config.host(),
        port=config.port(),
        hub=config.url("hub"),
        database=config.store("database"),
        pki=config.pki(),
        clock_start=config.clock_start(),
        tls=config.flag("tls"),
        address=config.optional_text("address"),
        max_attempts=config.max_attempts(),
    )


def load_component_config(path: Path) -> HubConfig | NodeConfig:
    """The hub's config or a node's, whichever `path` holds: for commands that serve both (`caravan health`)."""
    data = read_yaml_input(path, "component config")
    is_hub = isinstance(data, Mapping) and "nodes" in data and "node" not in data
    return load_hub_config(path) if is_hub else load_node_config(path)


def write_hub_config(path: Path, config: HubConfig) -> None:
    base = path.parent
    _write(path, {
        "listen": {"host": config.host, "port": config.port},
        **_address(config.address),
        "database": _relative(config.database, base),
        "pki": _relative(config.pki, base),
        "nodes": dict(config.nodes),
        "countries": dict(config.countries or {}),
        "nppos": {node: dict(settings) for node, settings in (config.nppos or {}).items()},
        "clock": _clock(config.clock_start),
        "tls": config.tls,
        **_retry(config.max_attempts),
    })


def write_node_config(path: Path, config: NodeConfig) -> None:
    base = path.parent
    _write(path, {
        "node": config.node,
        "scenario": _relative(config.scenario, base),
        "listen": {"host": config.host, "port": config.port},
        **_address(config.address),
        "hub": config.hub,
        "database": _relative(config.database, base),
        "pki": _relative(config.pki, base),
        "clock": _clock(config.clock_start),
        "tls": config.tls,
        **_retry(config.max_attempts),
    })


def _has_port(parts: SplitResult) -> bool:
    try:
        return parts.port is not None
    except ValueError:  # not a number, or out of range
        return False


def _relative(target: Path, base: Path) -> str:
    """`target` as the config in `base` will resolve it: relative to the config file's directory."""
    return os.path.relpath(target.absolute(), base.absolute())


def _address(address: str | None) -> dict[str, str]:
    return {} if address is None else {"address": address}


def _retry(max_attempts: int | None) -> dict[str, Any]:
    return {} if max_attempts is None else {"retry": {"max_attempts": max_attempts}}


def _clock(start: datetime | None) -> Any:
    return "system" if start is None else {"start": start.isoformat()}


def _write(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")


class _Config:
    """One config file's mapping, read key by key; every error names the file and the key."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self._path = path
        self._data = data

    @classmethod
    def read(cls, path: Path, kind: str) -> _Config:
        data = read_yaml_input(path, f"{kind} config")
        if not isinstance(data, dict) or not data:
            shown = "empty" if not data else f"a YAML {type(data).__name__}, not a mapping"
            raise InputError(f"{path}: is not a {kind} config: {shown}; `caravan prepare` writes them",
                             document=str(path))
        config = cls(path, data)
        config._check_kind(kind)
        return config

    def _check_kind(self, kind: str) -> None:
        data, path = self._data, self._path
        if "steps" in data or "start" in data:
            raise self.error("", f"is a scenario, not a {kind} config; write the configs with "
                                 "`caravan prepare SCENARIO --out DIR`")
        if kind == "hub" and "node" in data and "nodes" not in data:
            raise self.error("", f"is the config of node {data['node']!r}, not the hub's; start it with "
                                 f"`caravan node --config {path}`")
        if kind == "node" and "nodes" in data and "node" not in data:
            raise self.error("", f"is the hub's config, not a node's; start it with `caravan hub --config {path}`")
        self._refuse_unknown(data, _HUB_KEYS if kind == "hub" else _NODE_KEYS, f"a {kind} config key")
        for section, known in _SECTION_KEYS.items():
            if isinstance(data.get(section), Mapping):
                self._refuse_unknown(data[section], known, f"a key of {section}", f"{section}.")

    def _refuse_unknown(self, data: Mapping[str, Any], known: tuple[str, ...], what: str, prefix: str = "") -> None:
        for key in data:
            if key not in known:
                near = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                raise self.error(f"{prefix}{key}", f"is not {what}; {hint}known: {', '.join(known)}")

    def error(self, key: str, what: str) -> InputError:
        where = f" {key}" if key else ""
        return InputError(f"{self._path}:{where} {what}", document=str(self._path), path=key)

    def _value(self, key: str, required: bool = True) -> Any:
        node: Any = self._data
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None and required:
            raise self.error(key, "is missing")
        return node

    def text(self, key: str) -> str:
        value = self._value(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"is {value!r}; a non-empty text is wanted")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._value(key, required=False) is None else self.text(key)

    def host(self) -> str:
        return self.text("listen.host")

    def port(self) -> int:
        value = self._value("listen.port")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 65536:
            raise self.error("listen.port", f"is {value!r}; a TCP port number (1-65535, or 0 for any free one, "
                                            "told on the ready line) is wanted")
        return value

    def path(self, key: str, *, existing: bool = False) -> Path:
        """A path relative to the config file; `existing`: the file must be there."""
        resolved = self._path.parent / self.text(key)
        if existing and not resolved.is_file():
            raise self.error(key, f"points to {resolved}, which is not a file")
        return resolved

    def store(self, key: str) -> Path:
        """Where the component's store is (made if missing); not a directory, on which SQLite's 'unable to open
        database file' was an internal error."""
        resolved = self.path(key)
        if resolved.is_dir():
            raise self.error(key, f"points to {resolved}, a directory; the store's file is wanted")
        return resolved

    def url(self, key: str) -> str:
        """An http(s)://HOST:PORT URL: a node given `hub: not a url` started and failed every push later."""
        value = self.text(key)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or not _has_port(parts):
            raise self.error(key, f"is {value!r}; an http(s)://HOST:PORT URL is wanted")
        return value

    def node(self) -> str:
        """The node's id, one the PKI has credentials for: `node: zz` got as far as serving, then stopped on
        'no credentials for node' (exit 1) without naming the config."""
        node, pki = self.text("node"), self.pki()
        if not (pki / f"{node}.pem").is_file():
            nodes = sorted(path.stem for path in pki.glob("*.pem")
                           if path.stem != "ca" and not path.stem.endswith("-key"))
            raise self.error("node", f"is {node!r}, whom {pki} issued no certificate; its nodes: {', '.join(nodes)}")
        return node

    def pki(self) -> Path:
        directory = self.path("pki")
        if not (directory / _CA_FILE).is_file():
            raise self.error("pki", f"points to {directory}, which holds no {_CA_FILE}; `caravan prepare` writes it")
        return directory

    def mapping(self, key: str, *, required: bool = False) -> dict[str, str]:
        value = self._value(key, required)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or (required and not value):
            raise self.error(key, f"is {value!r}; a mapping of node id to text is wanted")
        return {str(name): str(item) for name, item in value.items()}

    def settings(self, key: str) -> dict[str, dict[str, Any]]:
        """A mapping of node id to that node's settings (a mapping each)."""
        value = self._value(key, required=False) or {}
        if not isinstance(value, Mapping) or not all(isinstance(item, Mapping) for item in value.values()):
            raise self.error(key, f"is {value!r}; a mapping of node id to its settings is wanted")
        return {str(name): dict(item) for name, item in value.items()}

    def flag(self, key: str) -> bool:
        value = self._value(key, required=False)
        if value is None:
            return True
        if not isinstance(value, bool):
            raise self.error(key, f"is {value!r}; true or false is wanted")
        return value

    def max_attempts(self) -> int | None:
        """`retry.max_attempts`: a whole number of attempts, at least one; None when the config leaves it out."""
        retry = self._value("retry", required=False)
        if retry is None:
            return None
        value = retry.get("max_attempts") if isinstance(retry, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error("retry.max_attempts", f"is {value!r}; a whole number of attempts, at least 1, is wanted "
                                                   "(`retry: {max_attempts: 50}`)")
        return value

    def clock_start(self) -> datetime | None:
        """`clock: system`, or `clock: {start: ISO time}` for scenario time."""
        clock = self._value("clock", required=False)
        if clock is None or clock == "system":
            return None
        start = clock.get("start") if isinstance(clock, Mapping) else None
        if isinstance(start, datetime):
            return start
        try:
            return datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        except ValueError:
            raise self.error("clock", f"is {clock!r}; use `system` or `{{start: 2026-03-02T06:00:00Z}}`") from None
