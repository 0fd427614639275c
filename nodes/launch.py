"""How the hub and the nodes of a scenario are configured, started and wired together.

Two ways to run a scenario share this module:

* `caravan run` starts the hub and every node in one process, each on its own loopback port, with
  real HTTP between them (`local_deployment`);
* `caravan prepare` writes the PKI and one YAML config per component, which `caravan hub --config`
  and `caravan node --config` start as separate processes (or containers, see docker-compose.yml);
  `caravan run --attach DIR` then drives them.

Every component talks mutual TLS by default (`exchange.tls`); plain HTTP only when asked for.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from exchange.clock import Clock, SystemClock, VirtualClock
from exchange.errors import ScenarioError
from exchange.hub import Hub
from exchange.ippc.client import HubClient
from exchange.ippc.directory import Directory
from exchange.ippc.entities import Receive
from exchange.ippc.face import PREFIX as IPPC_PREFIX
from exchange.ippc.face import IppcFace
from exchange.pki import Credentials, ScenarioPKI, TrustStore
from exchange.revocation import CRL_FILE
from exchange.runner import Deployment
from exchange.scenario import Scenario
from exchange.tls import DRIVER, HUB, TLS_DIR, TlsIdentity
from nodes.ephyto.validation import validate_phyto
from nodes.families import build_desks
from nodes.ippc_pull import pull_ephytos
from nodes.language import load_scenario
from nodes.node import Node

__all__ = [
    "HubConfig",
    "NodeConfig",
    "attached_deployment",
    "local_deployment",
    "prepare",
    "serve_hub",
    "serve_node",
]

HOST = "127.0.0.1"
PKI_DIR = "pki"
DB_DIR = "db"


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
    pulling: tuple[str, ...] = ()  # nodes that pull their ePhytos from the IPPC Hub face instead of push

    @property
    def url(self) -> str:
        return _url(self.tls, self.host, self.port)


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

    @property
    def url(self) -> str:
        return _url(self.tls, self.host, self.port)


def _url(tls: bool, host: str, port: int) -> str:
    return f"{'https' if tls else 'http'}://{host}:{port}"


def _clock(start: datetime | None, database: Path) -> Clock:
    """The system clock, or scenario time kept beside the database so that it survives a restart."""
    return SystemClock() if start is None else VirtualClock(start, keep=database.with_suffix(".clock"))


def write_pki(scenario: Scenario, directory: Path) -> None:
    """The scenario CA, each node's signing certificate, and TLS identities for the hub, nodes and driver.

    Signing certificates live in scenario time: valid from a day before the scenario starts, unless a
    node's `certificate: {valid_until: …}` makes one expire during it. TLS identities are checked by the
    TLS stack against the system clock, so they are valid from a day before the earlier of the scenario
    start and today (the one place set-up reads the wall clock) for ten years.
    """
    valid_from = scenario.start - timedelta(days=1)
    signing = ScenarioPKI.generate(list(scenario.nodes), valid_from=valid_from, algorithm=scenario.algorithm)
    expiring = {
        node: datetime.fromisoformat(str(spec.data["certificate"]["valid_until"]).replace("Z", "+00:00"))
        for node, spec in scenario.nodes.items()
        if (spec.data.get("certificate") or {}).get("valid_until")
    }
    if expiring:
        signing = signing.issue(list(expiring), valid_from=valid_from, valid_until=expiring)
    signing.write(directory)
    (directory / CRL_FILE).unlink(missing_ok=True)  # a new CA: a CRL left from an earlier run is not its own
    tls_from = min(valid_from, datetime.now(timezone.utc) - timedelta(days=1))
    parties = [HUB, DRIVER, *scenario.nodes]
    tls = ScenarioPKI(signing.ca_certificate, signing.ca_key, {})
    tls.issue(parties, valid_from=tls_from, valid_until=tls_from + timedelta(days=3650)).write(
        directory / TLS_DIR, with_ca_key=False
    )


def _tls(enabled: bool, pki: Path, party: str) -> TlsIdentity | None:
    return TlsIdentity.in_pki(pki, party) if enabled else None


async def open_hub(config: HubConfig) -> Hub:
    trust = TrustStore.from_file(config.pki / "ca.pem")
    tls = _tls(config.tls, config.pki, HUB)
    clock = _clock(config.clock_start, config.database)
    receive = {node: Receive.PULL for node in config.pulling}
    directory = Directory.from_pki(config.pki, config.nodes, receive=receive)
    ippc = IppcFace(directory, config.nodes, clock, validator=validate_phyto)
    hub = await Hub.open(
        config.database, trust, config.nodes, clock, tls=tls, countries=config.countries, ippc=ippc
    )
    await hub.start()
    return hub


async def open_node(config: NodeConfig, scenario: Scenario) -> Node:
    def credentials() -> Credentials:
        return ScenarioPKI.load(config.pki).credentials(config.node)

    node = await Node.open(
        config.node,
        config.database,
        TrustStore.from_file(config.pki / "ca.pem"),
        credentials(),
        _clock(config.clock_start, config.database),
        config.hub,
        build_desks(scenario, config.node),
        tls=_tls(config.tls, config.pki, config.node),
        reload_credentials=credentials,
        services={"pull_ephytos": _pull_ephytos},
    )
    await node.start()
    return node


async def _pull_ephytos(node: Node, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Scenario step `pull_ephytos`: take what waits at the IPPC Hub face, through the node's own intake."""
    client = HubClient(node.session, f"{node.hub_url}{IPPC_PREFIX.rstrip('/')}/DeliveryService")
    pulled = await pull_ephytos(client, node.receive, node.clock.now)
    return [item.as_event() for item in pulled]


async def _serve(app: web.Application, host: str, port: int, tls: TlsIdentity | None) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=tls.server_context() if tls else None).start()
    return runner


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def local_deployment(scenario: Scenario, workdir: Path, *, tls: bool = True) -> AsyncIterator[Deployment]:
    """Start the hub and every node in this process on free loopback ports; stop them on exit."""
    ports = {name: _free_port() for name in [HUB, *scenario.nodes]}
    hub_config, node_configs = _configs(scenario, workdir, ports, tls=tls)
    shutil.rmtree(workdir / DB_DIR, ignore_errors=True)  # a run starts from empty stores, not an earlier run's
    write_pki(scenario, workdir / PKI_DIR)
    local = _Local(scenario, hub_config, node_configs)
    try:
        for name in [HUB, *node_configs]:
            await local.start(name)
        yield replace(_deployment(hub_config), restart=local.restart)
    finally:
        await local.close()


class _Local:
    """The components of a one-process run, each behind its own server, so that one can be restarted.

    A restart closes the component's server and its object (database, forwarders) and opens both again
    on the same port and store, as a restarted process would: what was committed, the scenario time kept
    beside the store and the fault plan kept beside it too are all it resumes from.
    """

    def __init__(self, scenario: Scenario, hub: HubConfig, nodes: Mapping[str, NodeConfig]) -> None:
        self._scenario = scenario
        self._hub = hub
        self._nodes = dict(nodes)
        self._running: dict[str, tuple[Hub | Node, web.AppRunner]] = {}

    async def start(self, name: str) -> None:
        component: Hub | Node
        if name == HUB:
            component, host, port = await open_hub(self._hub), self._hub.host, self._hub.port
        elif name in self._nodes:
            config = self._nodes[name]
            component, host, port = await open_node(config, self._scenario), config.host, config.port
        else:
            raise ScenarioError(f"there is no component {name!r} to start; known: {HUB}, {', '.join(self._nodes)}")
        identity = _tls(self._hub.tls, self._hub.pki, name)
        try:
            runner = await _serve(component.application(), host, port, identity)
        except BaseException:
            await component.stop()  # its store and tasks are open: close them, or the process cannot exit
            raise
        self._running[name] = (component, runner)

    async def restart(self, name: str) -> None:
        if name not in self._running:
            raise ScenarioError(f"there is no running component {name!r} to restart; known: {', '.join(self._running)}")
        component, runner = self._running.pop(name)
        await runner.cleanup()
        await component.stop()
        await self.start(name)

    async def close(self) -> None:
        """Servers first (nothing new comes in), then the components, the hub last."""
        running = [self._running.pop(name) for name in [*self._nodes, HUB] if name in self._running]
        for _, runner in running:
            await runner.cleanup()
        for component, _ in running:
            await component.stop()


def _deployment(hub: HubConfig) -> Deployment:
    return Deployment(hub.url, dict(hub.nodes), pki=hub.pki, driver_tls=_tls(hub.tls, hub.pki, DRIVER))


def _configs(
    scenario: Scenario, workdir: Path, ports: Mapping[str, int], *, tls: bool, host: str = HOST
) -> tuple[HubConfig, dict[str, NodeConfig]]:
    hub = HubConfig(
        host=host,
        port=ports[HUB],
        database=workdir / DB_DIR / "hub.sqlite",
        pki=workdir / PKI_DIR,
        nodes={node: _url(tls, host, ports[node]) for node in scenario.nodes},
        clock_start=scenario.start,
        tls=tls,
        countries={node: spec.country for node, spec in scenario.nodes.items()},
        pulling=tuple(
            node for node, spec in scenario.nodes.items()
            if str((spec.data.get("ephyto") or {}).get("receive", "push")).lower() == "pull"
        ),
    )
    nodes = {
        node: NodeConfig(
            node=node,
            scenario=scenario.path,
            host=host,
            port=ports[node],
            hub=hub.url,
            database=workdir / DB_DIR / f"{node}.sqlite",
            pki=workdir / PKI_DIR,
            clock_start=scenario.start,
            tls=tls,
        )
        for node in scenario.nodes
    }
    return hub, nodes


# -- separate processes -------------------------------------------------------------------------------------


def prepare(scenario: Scenario, out: Path, base_port: int, *, tls: bool = True) -> list[Path]:
    """Write the PKI and a config per component for running them as separate processes."""
    ports = {name: base_port + index for index, name in enumerate([HUB, *scenario.nodes])}
    hub, nodes = _configs(scenario, out, ports, tls=tls)
    write_pki(scenario, out / PKI_DIR)
    written = [out / "hub.yaml"]
    _write_yaml(written[0], {
        "listen": {"host": hub.host, "port": hub.port},
        "database": f"{DB_DIR}/hub.sqlite",
        "pki": PKI_DIR,
        "nodes": dict(hub.nodes),
        "countries": dict(hub.countries or {}),
        "pulling": list(hub.pulling),
        "clock": {"start": scenario.start.isoformat()},
        "tls": tls,
    })
    for name, config in nodes.items():
        path = out / f"{name}.yaml"
        _write_yaml(path, {
            "node": name,
            "scenario": str(scenario.path),
            "listen": {"host": config.host, "port": config.port},
            "hub": config.hub,
            "database": f"{DB_DIR}/{name}.sqlite",
            "pki": PKI_DIR,
            "clock": {"start": scenario.start.isoformat()},
            "tls": tls,
        })
        written.append(path)
    return written


def _write_yaml(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read config: {exc}", document=str(path)) from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a config is a mapping", document=str(path))
    return data


def _start(data: Mapping[str, Any]) -> datetime | None:
    clock = data.get("clock") or {}
    if clock == "system" or not clock.get("start"):
        return None
    return datetime.fromisoformat(str(clock["start"]).replace("Z", "+00:00"))


def load_hub_config(path: Path) -> HubConfig:
    data, base = _read_yaml(path), path.parent
    return HubConfig(
        host=str(data["listen"]["host"]),
        port=int(data["listen"]["port"]),
        database=base / data["database"],
        pki=base / data["pki"],
        nodes={str(k): str(v) for k, v in data["nodes"].items()},
        clock_start=_start(data),
        tls=bool(data.get("tls", True)),
        countries={str(k): str(v) for k, v in (data.get("countries") or {}).items()},
        pulling=tuple(str(node) for node in data.get("pulling") or ()),
    )


def load_node_config(path: Path) -> NodeConfig:
    data, base = _read_yaml(path), path.parent
    return NodeConfig(
        node=str(data["node"]),
        scenario=Path(data["scenario"]),
        host=str(data["listen"]["host"]),
        port=int(data["listen"]["port"]),
        hub=str(data["hub"]),
        database=base / data["database"],
        pki=base / data["pki"],
        clock_start=_start(data),
        tls=bool(data.get("tls", True)),
    )


async def serve_hub(config: HubConfig) -> None:
    """Run the hub until cancelled (the process is stopped)."""
    hub = await open_hub(config)
    runner = await _serve(hub.application(), config.host, config.port, _tls(config.tls, config.pki, HUB))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await hub.stop()


async def serve_node(config: NodeConfig) -> None:
    """Run one node until cancelled."""
    node = await open_node(config, load_scenario(config.scenario))
    runner = await _serve(node.application(), config.host, config.port, _tls(config.tls, config.pki, config.node))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await node.stop()


def attached_deployment(directory: Path) -> Deployment:
    """The deployment described by the configs `prepare` wrote into `directory`."""
    return _deployment(load_hub_config(directory / "hub.yaml"))
