"""The pilot across separate processes, started with exactly the commands of docker-compose.yml.

There is no container engine here, so each compose service's command runs as a local process. The
named volume `caravan-data` is mounted at /data in every container; a temporary directory plays that
part. All services share the hub's network namespace in compose, so the loopback addresses in the
configs are the same in both settings.
"""

from __future__ import annotations

import shlex
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from exchange.tls import DRIVER, TlsIdentity

ROOT = Path(__file__).resolve().parent.parent
CARAVAN = Path(sys.executable).with_name("caravan")


def _command(service: dict[str, object], data: Path) -> list[str]:
    words = shlex.split(str(service["command"]).replace("/data", str(data)))
    assert words[0] == "caravan"
    return [str(CARAVAN), *words[1:]]


def _wait_until_up(url: str, process: subprocess.Popen[bytes], context: ssl.SSLContext, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/status", timeout=1, context=context):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def test_pilot_runs_across_the_compose_services_as_processes(tmp_path: Path) -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"prepare", "hub", "uz", "az", "ge", "pilot"} <= set(services)

    prepared = subprocess.run(_command(services["prepare"], tmp_path), cwd=ROOT, capture_output=True, timeout=120)
    assert prepared.returncode == 0, prepared.stderr.decode()

    hub_config = yaml.safe_load((tmp_path / "pilot" / "hub.yaml").read_text())
    assert hub_config["tls"] is True
    urls = {"hub": f"https://{hub_config['listen']['host']}:{hub_config['listen']['port']}", **hub_config["nodes"]}
    driver = TlsIdentity.in_pki(tmp_path / "pilot" / "pki", DRIVER).client_context()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("hub", "uz", "az", "ge"):
            with (tmp_path / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    _command(services[name], tmp_path), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
                )
        for name, process in processes.items():
            _wait_until_up(urls[name], process, driver)
        pilot = subprocess.run(_command(services["pilot"], tmp_path), cwd=ROOT, capture_output=True, timeout=300)
        output = pilot.stdout.decode()
        assert pilot.returncode == 0, output + pilot.stderr.decode()
        assert "✗" not in output
        for name, process in processes.items():
            assert process.poll() is None, f"{name} died during the run"
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=10)

    messages = sorted((tmp_path / "pilot" / "run" / "messages").iterdir())
    assert len(messages) > 40
    databases = {path.name for path in (tmp_path / "pilot" / "db").iterdir()}
    assert {"hub.sqlite", "uz.sqlite", "az.sqlite", "ge.sqlite"} <= databases
