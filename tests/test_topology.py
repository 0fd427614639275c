"""What the docker-compose topology asks of caravan itself, proven with real processes and no container engine.

`make compose-test` runs the same things in containers (scripts/compose-test.sh); these tests keep them true
on every `make test`:

* `caravan prepare --hosts compose` names each party by its own name and binds every interface, and every
  TLS certificate carries that name;
* a prepared directory is prepared afresh: its stores emptied, a new PKI; refused, untouched, while a
  component still holds a store there;
* `GET /health` and `caravan health` tell whether a component serves, and which start of it answers;
* SIGTERM stops a hub or node cleanly: exit 0, store released, well within the bound a container engine
  gives before it kills (the one-second goal is measured in bench/shutdown.py, not here);
* a driver attached to components it did not start waits for a restart made from outside.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from exchange.errors import TransportError
from exchange.health import Health, check_health
from exchange.store import ensure_unused
from exchange.tls import DRIVER, TLS_DIR, TlsIdentity
from nodes.launch import OutsideRestarts
from tests.ports import free_ports
from tests.test_startup import Started

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
CARAVAN = Path(sys.executable).with_name("caravan")
STOP_BOUND = 5.0  # seconds: far under a container engine's 10 s grace, far over the 1 s goal (bench/shutdown.py)


def _caravan(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CARAVAN), *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _prepare(out: Path, base_port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return _caravan("prepare", str(PILOT), "--out", str(out), "--base-port", str(base_port), *extra)


@dataclass(frozen=True)
class _Pilot:
    """The pilot prepared in `out` (mutual TLS) on free loopback ports from `base`: hub, uz, az, ge."""

    out: Path
    base: int
    logs: Path

    @classmethod
    def prepare(cls, tmp_path: Path) -> _Pilot:
        pilot = cls(tmp_path / "prep", free_ports(4), tmp_path)
        done = _prepare(pilot.out, pilot.base)
        assert done.returncode == 0, done.stderr
        return pilot

    def url(self, component: str) -> str:
        return f"https://127.0.0.1:{self.base + ['hub', 'uz', 'az', 'ge'].index(component)}"

    def start(self, component: str) -> Started:
        kind = "hub" if component == "hub" else "node"
        log = self.logs / f"{component}-{len(list(self.logs.glob(f'{component}-*.log')))}.log"
        return Started([kind, "--config", str(self.out / f"{component}.yaml")], self.logs, log)

    def driver(self) -> TlsIdentity:
        return TlsIdentity.in_pki(self.out / "pki", DRIVER)

    def health(self, component: str) -> Health:
        return check_health(self.url(component), self.driver().client_context(), timeout=10)

    def ca(self) -> bytes:
        return (self.out / "pki" / "ca.pem").read_bytes()


def test_prepare_for_compose_names_each_party_and_listens_on_every_interface(tmp_path: Path) -> None:
    done = _prepare(tmp_path, 8700, "--hosts", "compose")
    assert done.returncode == 0, done.stderr

    hub = yaml.safe_load((tmp_path / "hub.yaml").read_text())
    assert hub["listen"] == {"host": "0.0.0.0", "port": 8700} and hub["address"] == "hub"
    assert hub["nodes"] == {"uz": "https://uz:8701", "az": "https://az:8702", "ge": "https://ge:8703"}
    for index, node in enumerate(("uz", "az", "ge"), start=1):
        config = yaml.safe_load((tmp_path / f"{node}.yaml").read_text())
        assert config["listen"] == {"host": "0.0.0.0", "port": 8700 + index}
        assert (config["address"], config["hub"]) == (node, "https://hub:8700")
    for party in ("hub", "uz", "az", "ge"):
        certificate = x509.load_pem_x509_certificate((tmp_path / "pki" / TLS_DIR / f"{party}.pem").read_bytes())
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert party in names.get_values_for_type(x509.DNSName), party


def test_prepare_on_loopback_writes_no_address(tmp_path: Path) -> None:
    assert _prepare(tmp_path, 8700).returncode == 0
    hub = yaml.safe_load((tmp_path / "hub.yaml").read_text())
    assert hub["listen"]["host"] == "127.0.0.1" and "address" not in hub
    assert hub["nodes"]["uz"] == "https://127.0.0.1:8701"


def test_prepare_notes_ports_an_outgoing_connection_could_take_before_the_components_start(tmp_path: Path) -> None:
    """Prepared ports are bound only when each component starts; in the kernel's ephemeral range any process's
    outgoing connection may take one first, so prepare says so (and still prepares: the choice is the user's)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    inside = _prepare(tmp_path / "inside", low)
    assert inside.returncode == 0, inside.stderr
    assert (f"note: ports {low}-{low + 3} lie in this machine's ephemeral range {low}-" in inside.stderr
            and "a --base-port outside it (the default 8700 is) avoids that" in inside.stderr)
    outside = _prepare(tmp_path / "outside", 8700)
    assert outside.returncode == 0 and "note:" not in outside.stderr, outside.stderr


def test_preparing_again_starts_afresh_with_a_new_pki_and_empty_stores(tmp_path: Path) -> None:
    pilot = _Pilot.prepare(tmp_path)
    first_ca = pilot.ca()
    pilot.start("hub").stop()
    assert (pilot.out / "db" / "hub.sqlite").is_file()  # the store of a run under the first CA

    again = _prepare(pilot.out, pilot.base)
    assert again.returncode == 0, again.stderr
    assert pilot.ca() != first_ca
    assert not (pilot.out / "db").exists()  # no store of the old PKI is left beside the new one


def test_preparing_again_is_refused_while_a_component_holds_a_store(tmp_path: Path) -> None:
    pilot = _Pilot.prepare(tmp_path)
    ca, out = pilot.ca(), pilot.out
    hub = pilot.start("hub")
    try:
        before = pilot.health("hub")
        again = _prepare(out, pilot.base)
        assert again.returncode == 3, again.stderr
        assert again.stderr.strip() == (
            f"caravan: {out} holds the store {out / 'db' / 'hub.sqlite'} of a component still running; stop its "
            "components before the directory is prepared afresh (with docker-compose: docker-compose down)")
        assert pilot.ca() == ca
        assert pilot.health("hub") == before and hub.process.poll() is None
    finally:
        hub.stop()


def test_caravan_health_says_which_component_serves(tmp_path: Path) -> None:
    pilot = _Pilot.prepare(tmp_path)
    hub = pilot.start("hub")
    try:  # the hub is stopped even when the node fails to start
        node = pilot.start("uz")
        try:
            checked = _caravan("health", "--config", str(pilot.out / "hub.yaml"))
            assert checked.returncode == 0, checked.stderr
            instance = pilot.health("hub").instance
            assert checked.stdout.strip() == f"hub at {pilot.url('hub')}: serving (instance {instance})"
            checked = _caravan("health", "--config", str(pilot.out / "uz.yaml"))  # a node checks itself as itself
            assert checked.returncode == 0 and checked.stdout.startswith(f"uz at {pilot.url('uz')}: serving")
        finally:
            node.stop()
    finally:
        hub.stop()
    gone = _caravan("health", "--config", str(pilot.out / "hub.yaml"), "--timeout", "2")
    assert gone.returncode == 3 and "Traceback" not in gone.stderr
    assert gone.stderr.startswith(f"caravan: {pilot.out / 'hub.yaml'}: {pilot.url('hub')} does not answer")


@pytest.mark.parametrize("component", ["hub", "uz"])
def test_sigterm_stops_a_component_cleanly(component: str, tmp_path: Path) -> None:
    pilot = _Pilot.prepare(tmp_path)
    started = pilot.start(component)
    pilot.health(component)

    began = time.monotonic()
    started.process.send_signal(signal.SIGTERM)
    code = started.process.wait(timeout=60)
    took = time.monotonic() - began
    assert code == 0, started.log.read_text()
    assert took < STOP_BOUND, f"{component} took {took:.2f} s to stop"
    assert "Traceback" not in started.log.read_text()
    ensure_unused(pilot.out / "db")  # the store's lock is released: nothing holds it any more


def test_an_attached_driver_waits_for_a_restart_made_from_outside(tmp_path: Path) -> None:
    pilot = _Pilot.prepare(tmp_path)
    hubs = [pilot.start("hub")]
    said: list[str] = []
    waiting = threading.Event()

    def announce(line: str) -> None:
        said.append(line)
        waiting.set()

    def restart_from_outside() -> None:  # what `docker-compose restart hub` does, once the driver says it waits
        if waiting.wait(timeout=60):
            hubs[0].stop()
            hubs.append(pilot.start("hub"))

    outside = threading.Thread(target=restart_from_outside)
    outside.start()
    try:
        restarts = OutsideRestarts(60.0, announce)
        asyncio.run(restarts.wait_for("hub", urls={"hub": pilot.url("hub")}, tls=pilot.driver()))
    finally:
        outside.join(timeout=120)
        hubs[-1].stop()
    assert len(hubs) == 2
    assert said[0].lstrip().startswith("waiting for hub to be restarted from outside (for example: "
                                       "docker-compose restart hub)")
    assert said[1].lstrip().startswith("hub was restarted: instance ")


def test_an_attached_driver_says_when_no_restart_came(tmp_path: Path) -> None:
    pilot = _Pilot.prepare(tmp_path)
    hub = pilot.start("hub")
    try:
        restarts = OutsideRestarts(1.5, lambda line: None)
        with pytest.raises(TransportError, match="hub was not restarted within 2 s"):
            asyncio.run(restarts.wait_for("hub", urls={"hub": pilot.url("hub")}, tls=pilot.driver()))
        assert hub.process.poll() is None
    finally:
        hub.stop()


def test_the_compose_file_gives_every_party_readiness_restarts_and_a_clean_stop() -> None:
    """The shape `make compose-test` relies on, checked where no engine runs: one build, health, init, restart."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    parties = {"hub", "uz", "az", "ge"}
    assert [name for name, service in services.items() if "build" in service] == ["prepare"]
    assert {service["image"] for service in services.values()} == {"caravan:latest"}
    assert all(service["init"] is True for service in services.values())
    for name in parties:
        service = services[name]
        assert service["restart"] == "on-failure" and "network_mode" not in service
        assert service["healthcheck"]["test"][:4] == ["CMD", "caravan", "health", "--config"]
        assert service["depends_on"] == {"prepare": {"condition": "service_completed_successfully"}}
    assert services["pilot"]["depends_on"] == {name: {"condition": "service_healthy"} for name in parties}
    assert services["hub"]["ports"] == ["127.0.0.1:${CARAVAN_HUB_PORT}:8700"]
    assert "--hosts compose" in services["prepare"]["command"]
    assert services["prepare"]["build"]["args"] == {"BASE_IMAGE": "${CARAVAN_BASE_IMAGE}"}
    assert any(volume.startswith("./out/compose:") for volume in services["hub"]["volumes"])


def test_the_compose_file_publishes_each_party_and_the_view_on_the_host_loopback_only(tmp_path: Path) -> None:
    """A system under test, a trader's system and a trainer's browser on the host reach the hub, the nodes'
    trader APIs and the view; nothing is published beyond 127.0.0.1. Each container port is the one prepare
    gives that party, so a change to prepare's numbering cannot leave a port published where nothing listens."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    lines = (ROOT / ".env").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    base = int(re.search(r"--base-port (\d+)", services["prepare"]["command"])[1])
    assert _prepare(tmp_path, base, "--hosts", "compose").returncode == 0
    published = {}
    for name in ("hub", "uz", "az", "ge", "view"):
        [mapping] = services[name]["ports"]
        variable, container_port = re.fullmatch(r"127\.0\.0\.1:\$\{(\w+)\}:(\d+)", mapping).groups()
        published[name] = int(container_port)
        assert env[variable].isdigit(), variable
    for party in ("hub", "uz", "az", "ge"):
        assert yaml.safe_load((tmp_path / f"{party}.yaml").read_text())["listen"]["port"] == published[party]
    view = shlex.split(services["view"]["command"])
    assert view[:2] == ["caravan", "view"] and view[view.index("--host") + 1] == "0.0.0.0"
    assert int(view[view.index("--port") + 1]) == published["view"]
    assert services["view"]["profiles"] == ["view"] and "depends_on" not in services["view"]
    assert len({env[name] for name in env if name.endswith("_PORT")}) == 5  # no two on one host port


def test_every_dependency_is_pinned_for_the_image_and_make_alike() -> None:
    """A dependency added to pyproject.toml without `make constraints` would install unpinned: caught here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))
    pinned = {_normalised(name) for name in pins}
    for requirement in wanted:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        assert _normalised(name) in pinned, f"{name} is not pinned in constraints.txt; run `make constraints`"
    assert "-c constraints.txt" in (ROOT / "Dockerfile").read_text()
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
