"""The pilot across separate processes, started with exactly the commands of docker-compose.yml.

Each compose service's command runs here as a local process, with the defaults of `.env` filled in. The
bind mount `./out/compose` is mounted at /data in every container; a temporary directory plays that part.
In compose each party is its own container, reached by its own name (`prepare --hosts compose`); those
names resolve only on the compose network, so here the components stay on loopback and that one option is
left out. `make compose-test` runs the same file in containers (scripts/compose-test.sh).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from functools import partial
from pathlib import Path
from string import Template

import yaml

from exchange.errors import TransportError
from exchange.health import check_health
from exchange.tls import DRIVER, TlsIdentity
from tests.ports import free_ports
from tests.processes import wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
CARAVAN = Path(sys.executable).with_name("caravan")
IN_COMPOSE_ONLY = " --hosts compose"
COMPOSE_PORTS = "--base-port 8700"  # each container has its own; processes on one machine take free ones


def _defaults() -> dict[str, str]:
    """The variables of `.env`, as docker-compose reads them when the shell sets none."""
    lines = (ROOT / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _command(service: dict[str, object], data: Path, base_port: int = 0) -> list[str]:
    text = Template(str(service["command"])).substitute(_defaults())
    assert IN_COMPOSE_ONLY in text or "prepare" not in text
    text = text.replace(IN_COMPOSE_ONLY, "").replace("/data", str(data))
    text = text.replace(COMPOSE_PORTS, f"--base-port {base_port}")
    words = shlex.split(text)
    assert words[0] == "caravan"
    return [str(CARAVAN), *words[1:]]


def _healthy(url: str, driver: TlsIdentity) -> bool:
    try:
        check_health(url, driver.client_context(), timeout=1)
    except TransportError:
        return False
    return True


def test_pilot_runs_across_the_compose_services_as_processes(tmp_path: Path) -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"prepare", "hub", "uz", "az", "ge", "pilot"} <= set(services)

    assert COMPOSE_PORTS in str(services["prepare"]["command"])
    prepare = _command(services["prepare"], tmp_path, free_ports(4))
    done = subprocess.run(prepare, cwd=ROOT, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()

    prepared = tmp_path / _defaults()["CARAVAN_SCENARIO"]
    hub_config = yaml.safe_load((prepared / "hub.yaml").read_text())
    assert hub_config["tls"] is True
    urls = {"hub": f"https://{hub_config['listen']['host']}:{hub_config['listen']['port']}", **hub_config["nodes"]}
    driver = TlsIdentity.in_pki(prepared / "pki", DRIVER)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("hub", "uz", "az", "ge"):
            with (tmp_path / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    _command(services[name], tmp_path), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
                )
        for name, process in processes.items():
            wait_until_ready(partial(_healthy, urls[name], driver), process, f"{name} at {urls[name]}",
                             tmp_path / f"{name}.log")
        pilot = subprocess.run(_command(services["pilot"], tmp_path), cwd=ROOT, capture_output=True, timeout=300)
        output = pilot.stdout.decode()
        assert pilot.returncode == 0, output + pilot.stderr.decode()
        assert "✗" not in output
        for name, process in processes.items():
            assert process.poll() is None, f"{name} died during the run"
    finally:
        for process in processes.values():
            process.terminate()
        stopped = {name: process.wait(timeout=10) for name, process in processes.items()}
    assert stopped == {name: 0 for name in processes}  # SIGTERM is a clean stop

    messages = sorted((prepared / "run" / "messages").iterdir())
    assert len(messages) > 40
    databases = {path.name for path in (prepared / "db").iterdir()}
    assert {"hub.sqlite", "uz.sqlite", "az.sqlite", "ge.sqlite"} <= databases
