"""Start-up that fails fast and touches nothing: `caravan hub` and `caravan node` as processes.

A component binds its port before it opens its store or says "listening"; a port in use ends it with exit 3
naming the port. A store is held by one process. Prepared configs resolve their paths relative to themselves,
so components start from any working directory.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from exchange.errors import ResourceBusy
from exchange.store import Database, ensure_unused
from tests.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
CARAVAN = Path(sys.executable).with_name("caravan")
START = 120.0  # how long a component may take to come up on a loaded machine: a guard against hanging, not a goal


def _caravan(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CARAVAN), *argv], cwd=cwd, capture_output=True, text=True, timeout=START)


def _prepare(directory: Path, base_port: int) -> Path:
    """Prepare the pilot (plain HTTP, so that a test can ask /status without a client certificate)."""
    done = _caravan("prepare", str(PILOT), "--out", str(directory), "--base-port", str(base_port), "--plain-http",
                    cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return directory


class Started:
    """A component process that said it is listening; stopped, by its own pid, when the test ends."""

    def __init__(self, argv: list[str], cwd: Path, log: Path) -> None:
        self.log = log
        with log.open("w") as stream:
            self.process = subprocess.Popen([str(CARAVAN), *argv], cwd=cwd, stdout=stream, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START
        while "listening on" not in log.read_text():
            assert self.process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"not listening after {START} s: {log.read_text()}"
            time.sleep(0.1)

    def status(self, url: str) -> dict[str, object]:
        with urllib.request.urlopen(f"{url}/status", timeout=10) as answer:
            return dict(json.loads(answer.read()))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def started() -> Iterator[list[Started]]:
    components: list[Started] = []
    yield components
    for component in components:
        component.stop()


@pytest.mark.parametrize("component", ["hub", "uz"])
def test_a_port_in_use_stops_the_component_before_its_store_is_opened(component: str, tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        prepared = _prepare(tmp_path / "prep", port if component == "hub" else port - 1)
        kind = "hub" if component == "hub" else "node"
        done = _caravan(kind, "--config", str(prepared / f"{component}.yaml"), cwd=tmp_path)
    finally:
        holder.close()
    assert done.returncode == 3, done.stderr
    assert "listening" not in done.stdout and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"caravan: port {port} on 127.0.0.1 is in use by another process (a copy of this "
                                   "component already running?); stop it or choose another port (at listen.port)")
    assert not (prepared / "db").exists()  # no store opened, not even created


def test_a_second_copy_leaves_the_running_hub_and_its_store_alone(tmp_path: Path, started: list[Started]) -> None:
    base = free_ports(4)
    prepared = _prepare(tmp_path / "prep", base)
    hub = Started(["hub", "--config", str(prepared / "hub.yaml")], tmp_path, tmp_path / "hub.log")
    started.append(hub)
    url = f"http://127.0.0.1:{base}"
    before = hub.status(url)

    again = _caravan("hub", "--config", str(prepared / "hub.yaml"), cwd=tmp_path)
    assert again.returncode == 3 and f"port {base} on 127.0.0.1 is in use" in again.stderr
    assert "listening" not in again.stdout

    elsewhere = yaml.safe_load((prepared / "hub.yaml").read_text())
    elsewhere["listen"]["port"] = 0  # any free port: this copy must fail on the store, not on a port
    (prepared / "hub-elsewhere.yaml").write_text(yaml.safe_dump(elsewhere))
    shared = _caravan("hub", "--config", str(prepared / "hub-elsewhere.yaml"), cwd=tmp_path)
    assert shared.returncode == 3, shared.stderr
    assert shared.stderr.strip() == (f"caravan: store {prepared / 'db' / 'hub.sqlite'} is in use by another process "
                                     f"(pid {hub.process.pid}); stop it, or give this one another store")
    assert "listening" not in shared.stdout

    assert hub.process.poll() is None and hub.status(url) == before


def test_prepared_configs_work_from_any_working_directory(tmp_path: Path, started: list[Started]) -> None:
    """Prepared in one directory with relative paths; started from another with relative config paths."""
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    shutil.copy(PILOT, here / "pilot.yaml")
    base = free_ports(4)
    done = _caravan("prepare", "pilot.yaml", "--out", "out", "--base-port", str(base), "--plain-http", cwd=here)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load((here / "out" / "uz.yaml").read_text())
    assert (config["scenario"], config["database"], config["pki"]) == ("../pilot.yaml", "db/uz.sqlite", "pki")

    hub = Started(["hub", "--config", "../here/out/hub.yaml"], elsewhere, elsewhere / "hub.log")
    started.append(hub)
    node = Started(["node", "--config", "../here/out/uz.yaml"], elsewhere, elsewhere / "uz.log")
    started.append(node)
    assert node.status(f"http://127.0.0.1:{base + 1}")
    assert hub.status(f"http://127.0.0.1:{base}")
    assert {path.name for path in (here / "out" / "db").glob("*.sqlite")} == {"hub.sqlite", "uz.sqlite"}
    assert not (elsewhere / "db").exists() and not (elsewhere / "pki").exists()


def test_a_store_is_held_by_one_opener_at_a_time(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = tmp_path / "db" / "hub.sqlite"
        first = await Database.open(store, [])
        with pytest.raises(ResourceBusy, match="in use by another process"):
            await Database.open(store, [])
        with pytest.raises(ResourceBusy):
            ensure_unused(store.parent)
        await first.close()
        ensure_unused(store.parent)
        await (await Database.open(store, [])).close()

    asyncio.run(scenario())


@pytest.mark.parametrize("component", ["hub", "uz"])
def test_a_component_on_port_0_serves_at_the_port_its_ready_line_tells(component: str, tmp_path: Path,
                                                                         started: list[Started]) -> None:
    """`listen.port: 0` takes any free port, and the ready line tells which, so whoever starts it reads the port
    instead of guessing a free one that another process could take first."""
    prepared = _prepare(tmp_path / "prep", free_ports(4))
    config = yaml.safe_load((prepared / f"{component}.yaml").read_text())
    config["listen"]["port"] = 0
    (prepared / f"{component}-any-port.yaml").write_text(yaml.safe_dump(config))
    kind = "hub" if component == "hub" else "node"
    process = Started([kind, "--config", str(prepared / f"{component}-any-port.yaml")], tmp_path, tmp_path / "log")
    started.append(process)
    line = process.log.read_text().strip()
    prefix = f"caravan {kind} {'' if component == 'hub' else 'uz '}listening on http://127.0.0.1:"
    assert line.startswith(prefix), line
    port = int(line.removeprefix(prefix))
    assert port != 0
    assert process.status(f"http://127.0.0.1:{port}")  # the port told is the one it serves on


def test_a_run_leaves_what_it_loaded_to_the_exit_not_to_the_collector(tmp_path: Path) -> None:
    """`caravan run` freezes its objects out of the collector's passes at exit (shutdown would go over them all
    for nothing), not when `main` returns: a caller that goes on, as this suite does, collects as before."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("not: a scenario\n", encoding="utf-8")
    program = ("import atexit, gc, sys\n"
               "atexit.register(lambda: print(gc.get_freeze_count()))\n"  # atexit runs in reverse: this one last
               "from exchange.cli import main\n"
               "code = main(['run', sys.argv[1]])\n"
               "print(code, gc.get_freeze_count())\n")
    done = subprocess.run([sys.executable, "-c", program, str(broken)], capture_output=True, text=True,
                          timeout=START, check=True)
    code, when_returned, at_exit = map(int, done.stdout.split())
    assert code != 0  # the scenario is refused: the run registered the freeze before it read the scenario
    assert when_returned == 0
    assert at_exit > 10_000


def test_a_hub_process_loads_none_of_the_nodes_or_the_drivers_code() -> None:
    """`caravan hub` imports `nodes.serving`, not `nodes.launch`: the agencies' desks, the scenario language and the
    driver are about half of what `nodes.launch` loads, and a hub process needs none of them."""
    program = ("import sys\n"  # what `caravan hub` imports, in `exchange.cli` and in its `_hub`
               "import exchange.cli, exchange.listener, nodes.configs, nodes.serving\n"
               "print(' '.join(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=START,
                          check=True)
    loaded = set(done.stdout.split())
    assert "exchange.hub" in loaded
    assert loaded.isdisjoint({"nodes.launch", "nodes.node", "nodes.language", "nodes.families", "exchange.runner"})
