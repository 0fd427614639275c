"""How the hub and the nodes of a scenario are configured, started and wired together.

Two ways to run a scenario share this module:

* `caravan run` starts the hub and every node in one process, each on its own loopback port, with
  real HTTP between them (`local_deployment`);
* `caravan prepare` writes the PKI and one YAML config per component, which `caravan hub --config`
  and `caravan node --config` start as separate processes (or containers, see docker-compose.yml);
  `caravan run --attach DIR` then drives them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from exchange.clock import Clock, SystemClock, VirtualClock
from exchange.errors import ScenarioError
from exchange.hub import Hub
from exchange.pki import ScenarioPKI, TrustStore
from exchange.runner import Deployment
from exchange.scenario import Scenario, load_scenario
from nodes.families import build_desks
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

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


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

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _clock(start: datetime | None) -> Clock:
    return SystemClock() if start is None else VirtualClock(start)


def generate_pki(scenario: Scenario) -> ScenarioPKI:
    """Certificates valid from a day before the scenario starts, so every step falls inside their validity."""
    return ScenarioPKI.generate(
        list(scenario.nodes), valid_from=scenario.start - timedelta(days=1), algorithm=scenario.algorithm
    )


async def open_hub(config: HubConfig) -> Hub:
    trust = TrustStore.from_file(config.pki / "ca.pem")
    hub = await Hub.open(config.database, trust, config.nodes, _clock(config.clock_start))
    await hub.start()
    return hub


async def open_node(config: NodeConfig, scenario: Scenario) -> Node:
    pki = ScenarioPKI.load(config.pki)
    node = await Node.open(
        config.node,
        config.database,
        pki.trust_store(),
        pki.credentials(config.node),
        _clock(config.clock_start),
        config.hub,
        build_desks(scenario, config.node),
    )
    await node.start()
    return node


async def _serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def local_deployment(scenario: Scenario, workdir: Path) -> AsyncIterator[Deployment]:
    """Start the hub and every node in this process on free loopback ports; stop them on exit."""
    configs = _configs(scenario, workdir, {name: _free_port() for name in ["hub", *scenario.nodes]})
    generate_pki(scenario).write(workdir / PKI_DIR)
    hub_config, node_configs = configs
    hub = await open_hub(hub_config)
    runners = [await _serve(hub.application(), hub_config.host, hub_config.port)]
    nodes = []
    try:
        for config in node_configs.values():
            node = await open_node(config, scenario)
            nodes.append(node)
            runners.append(await _serve(node.application(), config.host, config.port))
        yield Deployment(hub_config.url, {name: config.url for name, config in node_configs.items()})
    finally:
        for runner in runners:
            await runner.cleanup()
        for node in nodes:
            await node.stop()
        await hub.stop()


def _configs(
    scenario: Scenario, workdir: Path, ports: Mapping[str, int], host: str = HOST
) -> tuple[HubConfig, dict[str, NodeConfig]]:
    hub_url = f"http://{host}:{ports['hub']}"
    hub = HubConfig(
        host=host,
        port=ports["hub"],
        database=workdir / DB_DIR / "hub.sqlite",
        pki=workdir / PKI_DIR,
        nodes={node: f"http://{host}:{ports[node]}" for node in scenario.nodes},
        clock_start=scenario.start,
    )
    nodes = {
        node: NodeConfig(
            node=node,
            scenario=scenario.path,
            host=host,
            port=ports[node],
            hub=hub_url,
            database=workdir / DB_DIR / f"{node}.sqlite",
            pki=workdir / PKI_DIR,
            clock_start=scenario.start,
        )
        for node in scenario.nodes
    }
    return hub, nodes


# -- separate processes -------------------------------------------------------------------------------------


def prepare(scenario: Scenario, out: Path, base_port: int) -> list[Path]:
    """Write the PKI and a config per component for running them as separate processes."""
    ports = {name: base_port + index for index, name in enumerate(["hub", *scenario.nodes])}
    hub, nodes = _configs(scenario, out, ports)
    generate_pki(scenario).write(out / PKI_DIR)
    written = [out / "hub.yaml"]
    _write_yaml(written[0], {
        "listen": {"host": hub.host, "port": hub.port},
        "database": f"{DB_DIR}/hub.sqlite",
        "pki": PKI_DIR,
        "nodes": dict(hub.nodes),
        "clock": {"start": scenario.start.isoformat()},
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
    )


async def serve_hub(config: HubConfig) -> None:
    """Run the hub until cancelled (the process is stopped)."""
    hub = await open_hub(config)
    runner = await _serve(hub.application(), config.host, config.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await hub.stop()


async def serve_node(config: NodeConfig) -> None:
    """Run one node until cancelled."""
    node = await open_node(config, load_scenario(config.scenario))
    runner = await _serve(node.application(), config.host, config.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await node.stop()


def attached_deployment(directory: Path) -> Deployment:
    """The deployment described by the configs `prepare` wrote into `directory`."""
    hub = load_hub_config(directory / "hub.yaml")
    return Deployment(hub.url, dict(hub.nodes))
