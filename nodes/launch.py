"""How the hub and the nodes of a scenario are configured, started and wired together.

Two ways to run a scenario share this module:

* `caravan run` starts the hub and every node in one process, each on its own loopback port, with
  real HTTP between them (`local_deployment`);
* `caravan prepare` writes the PKI and one YAML config per component, which `caravan hub --config`
  and `caravan node --config` start as separate processes (or containers, see docker-compose.yml);
  `caravan run --attach DIR` then drives them.

Every component talks mutual TLS by default (`exchange.tls`); plain HTTP only when asked for.

Start-up touches nothing until it can run: a component's port is bound first (`exchange.listener`),
then its store is opened, then it serves and says so. A port in use stops it before its store (most
likely a running copy's) is opened. Once it serves, its `GET /health` answers (`exchange.health`).

A separately started component stops on SIGTERM as on Ctrl-C: its server stops taking requests, what is
in flight gets a moment to finish, its store is closed, and the process exits 0. A container engine's
`stop` therefore ends it in well under a second instead of killing it after its grace period.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from exchange.errors import InputError, ResourceBusy, ScenarioError, TransportError
from exchange.health import check_health
from exchange.hub import Hub
from exchange.inputs import foreign_entry
from exchange.intake import UnsignedPolicy
from exchange.ippc.client import HubClient
from exchange.ippc.face import PREFIX as IPPC_PREFIX
from exchange.listener import bind_listener, bound_port
from exchange.pki import Credentials, NodeSubject, ScenarioPKI, TrustStore, ca_name
from exchange.revocation import CRL_FILE
from exchange.runner import Deployment
from exchange.scenario import Scenario
from exchange.store import ensure_unused
from exchange.tls import DRIVER, HUB, TLS_DIR, TRADER_ORGANIZATION, TRADERS_DIR, TlsIdentity
from nodes.configs import (
    HubConfig,
    NodeConfig,
    component_url,
    load_hub_config,
    write_hub_config,
    write_node_config,
)
from nodes.declarant import Declarants, trader_ids
from nodes.declarant_api import DeclarantApi
from nodes.external import ExternalNode, read_external, write_external
from nodes.families import build_desks
from nodes.ippc_deliver import deliver_file
from nodes.ippc_pull import pull_ephytos
from nodes.language import load_scenario
from nodes.node import Node, Service
from nodes.serving import attempts_limit, component_clock, open_and_serve, open_hub, serve_until_stopped, tls_identity

__all__ = [
    "COMPOSE",
    "LOOPBACK",
    "PLACEMENTS",
    "OutsideRestarts",
    "Placement",
    "attached_deployment",
    "local_deployment",
    "node_services",
    "prepare",
    "serve_node",
]

HOST = "127.0.0.1"
PKI_DIR = "pki"
DB_DIR = "db"


@dataclass(frozen=True)
class Placement:
    """Where every component listens, and by which name the others reach each one.

    `by_name`: each component is reached by its own name (`hub`, `uz`, …), as on a docker-compose network
    whose services are named after them. Every TLS certificate carries its party's name (`exchange.pki`),
    so host name verification holds under either placement.
    """

    listen: str
    by_name: bool

    def address(self, party: str) -> str | None:
        return party if self.by_name else None


LOOPBACK = Placement(HOST, by_name=False)
COMPOSE = Placement("0.0.0.0", by_name=True)
PLACEMENTS: Mapping[str, Placement] = {"loopback": LOOPBACK, "compose": COMPOSE}


def write_pki(scenario: Scenario, directory: Path, tls_hosts: Mapping[str, str] | None = None) -> None:
    """The scenario CA, each node's signing certificate, and TLS identities for the hub, nodes, driver and traders.

    Signing certificates live in scenario time: valid from a day before the scenario starts, unless a
    node's `certificate: {valid_until: …}` makes one expire during it. TLS identities are checked by the
    TLS stack against the system clock, so they are valid from a day before the earlier of the scenario
    start and today for ten years. Each trader a node lists gets one too, under `tls/traders/` (its CN the
    EORI), to call its node's trader API with (docs/TRADERS.md). `tls_hosts` names the host an external node
    serves its inbox on: its TLS certificate carries it, so the hub's host name check holds wherever the system
    under test runs.

    Set-up is the one place that reads the wall clock, twice: for the TLS dates above, and for the
    CA's creation instant in its subject (`exchange.pki.ca_name`). That instant is what tells apart the
    CAs of two runs of one scenario, whose scenario times are the same; it is taken before scenario
    time exists, and nothing in a scenario's course depends on it.
    """
    now = datetime.now(timezone.utc)
    valid_from = scenario.start - timedelta(days=1)
    signing = ScenarioPKI.generate(list(scenario.nodes), valid_from=valid_from, algorithm=scenario.algorithm,
                                   ca_subject=ca_name(scenario.name, now))
    expiring = {
        node: datetime.fromisoformat(str(spec.data["certificate"]["valid_until"]).replace("Z", "+00:00"))
        for node, spec in scenario.nodes.items()
        if (spec.data.get("certificate") or {}).get("valid_until")
    }
    if expiring:
        signing = signing.issue(list(expiring), valid_from=valid_from, valid_until=expiring)
    signing.write(directory)
    (directory / CRL_FILE).unlink(missing_ok=True)  # a new CA: a CRL left from an earlier run is not its own
    tls_from = min(valid_from, now - timedelta(days=1))
    parties = [HUB, DRIVER, *scenario.nodes]
    tls = ScenarioPKI(signing.ca_certificate, signing.ca_key, {})
    hosts = {party: NodeSubject(hosts=(host,)) for party, host in (tls_hosts or {}).items()}
    tls.issue(parties, valid_from=tls_from, valid_until=tls_from + timedelta(days=3650), subjects=hosts).write(
        directory / TLS_DIR, with_ca_key=False
    )
    traders = {trader: spec.country for spec in scenario.nodes.values() for trader in trader_ids(spec.data)}
    subjects = {trader: NodeSubject(TRADER_ORGANIZATION, country) for trader, country in traders.items()}
    tls.issue(traders, valid_from=tls_from, valid_until=tls_from + timedelta(days=3650), subjects=subjects).write(
        directory / TLS_DIR / TRADERS_DIR, with_ca_key=False
    )


def _nppo_settings(node: Mapping[str, Any]) -> dict[str, Any]:
    """What the IPPC Hub face needs to know of a node's NPPO: its name, how it receives, its channel rules."""
    ephyto = node.get("ephyto") or {}
    return {"name": str((node.get("nppo") or {}).get("name", "")), "receive": str(ephyto.get("receive", "push")),
            "rules": [dict(rule) for rule in ephyto.get("rules") or ()]}


def _unsigned_policy(node: Mapping[str, Any]) -> UnsignedPolicy:
    """The importing NPPO's policy for ePhytos without XMLDSig (scenario `ephyto: {unsigned: ...}`)."""
    return UnsignedPolicy(str((node.get("ephyto") or {}).get("unsigned", UnsignedPolicy.ACCEPT.value)))


async def open_node(config: NodeConfig, scenario: Scenario) -> Node:
    def credentials() -> Credentials:
        return ScenarioPKI.load(config.pki).credentials(config.node)

    node = await Node.open(
        config.node,
        config.database,
        TrustStore.from_file(config.pki / "ca.pem"),
        credentials(),
        component_clock(config.clock_start, config.database),
        config.hub,
        build_desks(scenario, config.node),
        tls=tls_identity(config.tls, config.pki, config.node),
        reload_credentials=credentials,
        services=node_services(config.scenario.parent, scenario.nodes[config.node].country),
        unsigned={"ephyto": _unsigned_policy(scenario.nodes[config.node].data)},
        max_attempts=attempts_limit(config.max_attempts),
    )
    spec = scenario.nodes[config.node]
    declarants = await Declarants.open(node, spec.country, frozenset(trader_ids(spec.data)), config.scenario.parent)
    node.attach(DeclarantApi(declarants))
    await node.start()
    return node


def node_services(base: Path, country: str) -> dict[str, Service]:
    """The steps a node carries out with I/O of its own (the IPPC Hub face's client side); `base` is the
    scenario's directory (files named by steps are relative to it), `country` the node's."""
    return {"pull_ephytos": _pull_ephytos, "deliver_to_hub": partial(_deliver_to_hub, base, country)}


async def _pull_ephytos(node: Node, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Scenario step `pull_ephytos`: take what waits at the IPPC Hub face, through the node's own intake."""
    pulled = await pull_ephytos(_hub_client(node), node.receive, node.clock.now)
    return [item.as_event() for item in pulled]


async def _deliver_to_hub(
    base: Path, country: str, node: Node, arguments: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Scenario step `deliver_to_hub`: the node's national system sends a certificate file over SOAP."""
    delivered = await deliver_file(
        _hub_client(node), base / str(arguments["file"]), country, str(arguments["to"]),
        validate=arguments.get("operation") == "ValidateAndDeliverEnvelope",
        forward=tuple(str(code) for code in arguments.get("forward") or ()),
    )
    return [delivered.as_event()]


def _hub_client(node: Node) -> HubClient:
    """A client of the IPPC Hub face with the node's own TLS identity."""
    return HubClient(node.session, f"{node.hub_url}{IPPC_PREFIX.rstrip('/')}/DeliveryService")


@asynccontextmanager
async def local_deployment(scenario: Scenario, workdir: Path, *, tls: bool = True) -> AsyncIterator[Deployment]:
    """Start the hub and every node in this process on free loopback ports; stop them on exit.

    Every port is bound (to port 0: the kernel's choice) before any config is written, and each component is
    served on the very socket its port came from: a port chosen first and bound later could be taken in between
    by any process's outgoing connection, which on a busy machine happens.
    """
    listeners = {name: bind_listener(HOST, 0) for name in [HUB, *scenario.nodes]}
    local: _Local | None = None
    try:
        ports = {name: bound_port(listener) for name, listener in listeners.items()}
        hub_config, node_configs = _configs(scenario, workdir, ports, tls=tls)
        _empty_stores(workdir / DB_DIR)
        write_pki(scenario, workdir / PKI_DIR)
        local = _Local(scenario, hub_config, node_configs)
        for name in [HUB, *node_configs]:
            await local.start(name, listeners.pop(name))
        yield replace(_deployment(hub_config), restart=local.restart)
    finally:
        for listener in listeners.values():  # those of components that never started
            listener.close()
        if local is not None:
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

    async def start(self, name: str, listener: socket.socket) -> None:
        """Open the component behind `listener`, bound by the caller first, and serve, as `caravan hub`/`caravan
        node` do."""
        opener: Callable[[], Awaitable[Hub | Node]]
        if name == HUB:
            opener = partial(open_hub, self._hub)
        else:
            opener = partial(open_node, self._nodes[name], self._scenario)
        self._running[name] = await open_and_serve(listener, opener, tls_identity(self._hub.tls, self._hub.pki, name))

    async def restart(self, name: str) -> None:
        """Bind the port again the moment the old server lets it go, before the component's slower stop: the
        port came from the kernel's ephemeral range, and the shorter it is unbound, the less chance an outgoing
        connection of any process takes it (the new socket queues what arrives until the component serves)."""
        if name not in self._running:
            raise ScenarioError(f"there is no running component {name!r} to restart; known: {', '.join(self._running)}")
        component, runner = self._running.pop(name)
        config = self._hub if name == HUB else self._nodes[name]
        await runner.cleanup()
        listener = bind_listener(config.host, config.port)
        try:
            await component.stop()
        except BaseException:
            listener.close()
            raise
        await self.start(name, listener)

    async def close(self) -> None:
        """Servers first (nothing new comes in), then the components, the hub last."""
        running = [self._running.pop(name) for name in [*self._nodes, HUB] if name in self._running]
        for _, runner in running:
            await runner.cleanup()
        for component, _ in running:
            await component.stop()


def _deployment(hub: HubConfig) -> Deployment:
    return Deployment(hub.url, dict(hub.nodes), pki=hub.pki, driver_tls=tls_identity(hub.tls, hub.pki, DRIVER))


_STORE_FILES = re.compile(r"[\w.-]+\.(sqlite(-wal|-shm|-journal)?|lock|clock|faults(-tmp)?)")
"""What a component keeps in the stores' directory: its SQLite store (and the WAL beside it), its lock, its clock
and its fault plan (`exchange.faults`)."""


def _empty_stores(directory: Path) -> None:
    """Start from empty stores, not an earlier run's: wipe `directory`, unless a running component holds a store there.

    Wiping the stores of components still running would leave them writing into deleted files and the next
    run reading nothing they wrote; so a held store stops everything (ResourceBusy) with the directory untouched.
    """
    foreign = foreign_entry(directory, _STORE_FILES)
    if foreign is not None:  # `--out .` in a project, a typo: the stores' directory is wiped, so nothing else goes
        raise InputError(f"{foreign}: is none of caravan's stores, and {directory} is emptied for the components' "
                         f"stores; give an output directory of caravan's own, or a new one", document=str(foreign))
    try:
        ensure_unused(directory)
    except ResourceBusy as exc:
        raise ResourceBusy(f"{directory.parent} holds the store {exc.document} of a component still running; stop "
                           "its components before the directory is prepared afresh (with docker-compose: "
                           "docker-compose down)", document=exc.document) from None
    shutil.rmtree(directory, ignore_errors=True)


def _configs(
    scenario: Scenario, workdir: Path, ports: Mapping[str, int], *, tls: bool, placement: Placement = LOOPBACK
) -> tuple[HubConfig, dict[str, NodeConfig]]:
    def url(party: str) -> str:
        return component_url(tls, placement.address(party) or placement.listen, ports[party])

    hub = HubConfig(
        host=placement.listen,
        address=placement.address(HUB),
        port=ports[HUB],
        database=workdir / DB_DIR / "hub.sqlite",
        pki=workdir / PKI_DIR,
        nodes={node: url(node) for node in scenario.nodes},
        clock_start=scenario.start,
        tls=tls,
        countries={node: spec.country for node, spec in scenario.nodes.items()},
        nppos={node: _nppo_settings(spec.data) for node, spec in scenario.nodes.items()},
    )
    nodes = {
        node: NodeConfig(
            node=node,
            scenario=scenario.path,
            host=placement.listen,
            address=placement.address(node),
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


def prepare(
    scenario: Scenario, out: Path, base_port: int, *, tls: bool = True, placement: Placement = LOOPBACK,
    external: Mapping[str, ExternalNode] | None = None,
) -> list[Path]:
    """Write the PKI and a config per component for running them as separate processes.

    Every path in a config is written relative to the config file (`nodes.configs`), so the directory
    works wherever it is started from. An `external` node (`nodes.external`) is pushed to at its inbox
    URL, and its config listens there, for caravan's own node to play it.

    A directory prepared before is prepared afresh: its stores are emptied and a new PKI is written. A
    run on it then starts from nothing, never replaying an earlier run's results, and no store written
    under an old CA stays beside the new one. While a component still holds one of its stores, nothing
    is touched and ResourceBusy says which store (`_empty_stores`).
    """
    external = external or {}
    ports = {name: base_port + index for index, name in enumerate([HUB, *scenario.nodes])}
    hub, nodes = _configs(scenario, out, ports, tls=tls, placement=placement)
    hub = replace(hub, nodes={**hub.nodes, **{name: node.inbox_url for name, node in external.items()}})
    nodes.update({name: replace(nodes[name], host=node.host, port=node.port, address=None)
                  for name, node in external.items()})
    _empty_stores(out / DB_DIR)
    write_pki(scenario, out / PKI_DIR, {name: node.host for name, node in external.items()})
    written = [out / "hub.yaml"]
    write_hub_config(written[0], hub)
    for name, config in nodes.items():
        written.append(out / f"{name}.yaml")
        write_node_config(written[-1], config)
    return written + write_external(out, external, hub.url)


async def serve_node(config: NodeConfig, listener: socket.socket, announce: Callable[[], None]) -> None:
    """Run one node behind `listener` until cancelled; `announce` once it serves."""
    async def open_with_scenario() -> Node:
        return await open_node(config, load_scenario(config.scenario))

    node, runner = await open_and_serve(listener, open_with_scenario, tls_identity(config.tls, config.pki, config.node))
    await serve_until_stopped(node, runner, announce)


def attached_deployment(directory: Path, restarts: OutsideRestarts | None = None) -> Deployment:
    """The deployment described by the configs `prepare` wrote into `directory`.

    With `restarts`, a scenario's restart step waits for the component to be restarted from outside.
    """
    hub = load_hub_config(directory / "hub.yaml")
    deployment = replace(_deployment(hub), external=read_external(directory, hub.nodes))
    if restarts is None:
        return deployment
    urls = {HUB: hub.url, **hub.nodes}
    return replace(deployment, restart=partial(restarts.wait_for, urls=urls, tls=deployment.driver_tls))


@dataclass(frozen=True)
class OutsideRestarts:
    """How a driver of components it did not start lives through a scenario's `restart` step.

    It cannot restart them itself: whoever started them does (`docker-compose restart hub`). So the step
    says what it waits for, and waits until the component answers `/health` as a new instance, up to
    `timeout` seconds. The instance before is read first, and only then is the wait announced, so that a
    restart made on seeing the announcement is never taken for the old instance.
    """

    timeout: float
    announce: Callable[[str], None]

    async def wait_for(self, target: str, *, urls: Mapping[str, str], tls: TlsIdentity | None) -> None:
        if target not in urls:
            raise ScenarioError(f"there is no component {target!r} to restart; known: {', '.join(urls)}")
        context = tls.client_context() if tls else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        before = await asyncio.to_thread(check_health, urls[target], context, timeout=self.timeout)
        self.announce(f"{_UNDER_THE_TIME}waiting for {target} to be restarted from outside (for example: "
                      f"docker-compose restart {target}), up to {self.timeout:.0f} s; instance now {before.instance}")
        while loop.time() < deadline:
            try:
                now = await asyncio.to_thread(check_health, urls[target], context, timeout=1.0)
            except TransportError:  # down between the two instances
                now = before
            if now.instance != before.instance:
                self.announce(f"{_UNDER_THE_TIME}{target} was restarted: instance {before.instance} is now "
                              f"{now.instance}")
                return
            await asyncio.sleep(0.2)
        raise TransportError(f"{target} was not restarted within {self.timeout:.0f} s (it still answers as "
                             f"instance {before.instance}); restart it from outside, or run the scenario without "
                             "--attach")


_UNDER_THE_TIME = " " * len("2026-03-04 23:00  ")  # a line of the timeline that has no time of its own
