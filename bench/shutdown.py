"""How long a hub and a node take to stop on SIGTERM: the goal is under one second (issue 14).

    .venv/bin/python -m bench.shutdown [--rounds N]

Each round prepares the pilot, starts `caravan hub` or `caravan node` as a process, waits until `/health`
answers, sends SIGTERM and times the exit. It prints every measurement, the median and the worst, and
exits 1 when the worst misses the goal. The timed tests (tests/test_topology.py) assert only a generous
bound, as timing on a shared machine must; this is where the goal itself is measured.

The measurement is the process's own stop: the server stops taking requests, in-flight requests get
`nodes.serving.SHUTDOWN_GRACE`, the store closes. A container engine adds its own signalling and bookkeeping
on top (scripts/compose-test.sh prints `docker stop` round trips).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from exchange.errors import TransportError
from exchange.health import check_health
from exchange.tls import DRIVER, TlsIdentity

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
CARAVAN = Path(sys.executable).with_name("caravan")
GOAL = 1.0


def start_alone(component: str, directory: Path) -> tuple[subprocess.Popen[str], str]:
    """Prepare the pilot in `directory` and start `component` ("hub" or a node id) alone, on any free port (its
    `listen.port` set to 0): its ready line tells the URL, so no port is guessed free here and bound later, when
    another process could have taken it. Returns the process, serving, and that URL."""
    subprocess.run([str(CARAVAN), "prepare", str(PILOT), "--out", str(directory)], check=True, capture_output=True,
                   timeout=120)
    config = directory / f"{component}.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["listen"]["port"] = 0
    config.write_text(yaml.safe_dump(settings))
    kind = "hub" if component == "hub" else "node"
    process = subprocess.Popen([str(CARAVAN), kind, "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().rsplit(" ", 1)[-1].strip()  # "caravan hub listening on URL"; "" if it failed
    wait_until_serving(process, url, directory / "pki", component)
    return process, url


def wait_until_serving(process: subprocess.Popen[str], url: str, pki: Path, what: str) -> None:
    """Return once `url`/health answers over mutual TLS; SystemExit with the component's stderr if it never does."""
    context = TlsIdentity.in_pki(pki, DRIVER).client_context()
    deadline = time.monotonic() + 120
    while True:
        try:
            check_health(url, context, timeout=1)
            return
        except TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"{what} did not come up: {process.communicate()[1].strip()}") from None
            time.sleep(0.05)


def _stop_time(component: str, directory: Path) -> float:
    """Seconds from SIGTERM to the exit of one freshly started `component` ("hub" or a node id)."""
    process, _ = start_alone(component, directory)
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    took = time.monotonic() - began
    if code != 0:
        raise SystemExit(f"{component} exited {code} on SIGTERM")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="caravan-bench-") as scratch:
        for component in ("hub", "uz"):
            times = [_stop_time(component, Path(scratch) / f"{component}-{index}") for index in range(args.rounds)]
            worst = max(worst, *times)
            shown = ", ".join(f"{took:.3f}" for took in times)
            print(f"{component}: SIGTERM to exit {shown} s; median {statistics.median(times):.3f} s, "
                  f"worst {max(times):.3f} s (goal < {GOAL:.1f} s)")
    return 0 if worst < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
