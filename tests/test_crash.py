"""Crash safety: SIGKILL the hub and the nodes in the middle of a run of more than 1,000 messages.

The hub and the three nodes run as separate processes started with the same commands as
docker-compose.yml; the scenario driver runs as a fourth. While the driver works through 60 complete
movements (about 17 messages each), the test kills the hub, then the Uzbek node, then the Georgian node,
then the hub again, each with SIGKILL at a chosen point of progress, and restarts it at once with the same
command. Afterwards it reads every store and checks the fate of every message: each accepted envelope
was delivered exactly once and processed exactly once, nothing was lost, nothing was applied twice, and
every movement ended as it would have without the crashes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from exchange.tls import DRIVER, TlsIdentity
from tests.ports import free_ports
from tests.processes import answers, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
CARAVAN = str(Path(sys.executable).with_name("caravan"))
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
MOVEMENTS = 60
KILLS = (("hub", 150), ("uz", 400), ("ge", 650), ("hub", 850))  # (component, deliveries seen before the kill)


def _scenario(path: Path) -> None:
    """The pilot's administrations with 60 movements Tashkent → Poti, each run to write-off."""
    pilot = yaml.safe_load(PILOT.read_text())
    nodes = pilot["nodes"]
    nodes["uz"]["guarantees"][0]["reference_amount"] = "100000000.00"
    movements, steps = {}, []
    for n in range(1, MOVEMENTS + 1):
        key = f"C{n:03d}"
        movements[key] = {
            "lrn": f"UZ26CRASH{n:05d}",
            "holder": "UZ301234567001",
            "consignee": "GE204512345",
            "departure": "UZ000100",
            "transit": [{"office": "AZ000210"}, {"office": "GE000110"}],
            "destination": "GE000510",
            "route": ["UZ", "TM", "AZ", "GE"],
            "equipment": [{"container": None, "seals": [f"UZ-CR-{n:05d}"]}],
            "guarantee": {"type": "1", "grn": "26UZ0009000000011", "access_code": "AC01", "amount": "1000.00",
                          "currency": "USD"},
            "items": [{"description": "Cotton yarn", "hs": "520512", "gross_kg": "1000", "net_kg": "990",
                       "packages": {"type": "BL", "count": 5}}],
        }
        steps += [
            {"at": "+1m", "node": "uz", "do": "declare", "movement": key},
            {"at": "+1m", "node": "az", "do": "present_at_transit", "movement": key, "office": "AZ000210"},
            {"at": "+1m", "node": "ge", "do": "present_at_transit", "movement": key, "office": "GE000110"},
            {"at": "+1m", "node": "ge", "do": "notify_arrival", "movement": key},
            {"at": "+1m", "node": "ge", "do": "record_control", "movement": key, "seals_ok": True},
        ]
    steps[0]["at"] = "2026-03-02T08:00:00Z"
    scenario = {
        "scenario": "crash-1000",
        "title": "60 movements while components are killed",
        "start": "2026-03-02T06:00:00Z",
        "nodes": nodes,
        "movements": movements,
        "steps": steps,
        "expect": {
            "movements": {key: {"departure": "WrittenOff", "destination": "GoodsReleased"} for key in movements},
            "guarantees": {"26UZ0009000000011": {"reserved": "0.00"}},
            "deliveries": {"failed": 0},
        },
    }
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stream:
        return subprocess.Popen(command, cwd=ROOT, stdout=stream, stderr=subprocess.STDOUT)


def _get(url: str, context: ssl.SSLContext) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _rows(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


def test_killing_hub_and_nodes_mid_run_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    scenario = tmp_path / "crash.yaml"
    _scenario(scenario)
    work = tmp_path / "pilot"
    prepare = [CARAVAN, "prepare", str(scenario), "--out", str(work), "--base-port", str(free_ports(4))]
    prepared = subprocess.run(prepare, cwd=ROOT, capture_output=True)
    assert prepared.returncode == 0, prepared.stderr.decode()
    commands = {
        "hub": [CARAVAN, "hub", "--config", str(work / "hub.yaml")],
        **{node: [CARAVAN, "node", "--config", str(work / f"{node}.yaml")] for node in ("uz", "az", "ge")},
    }
    config = yaml.safe_load((work / "hub.yaml").read_text())
    urls = {"hub": f"https://127.0.0.1:{config['listen']['port']}", **config["nodes"]}
    context = TlsIdentity.in_pki(work / "pki", DRIVER).client_context()
    processes = {name: _start(command, tmp_path / f"{name}.log") for name, command in commands.items()}
    driver = None
    killed: list[str] = []
    try:
        for name, process in processes.items():
            wait_until_ready(partial(answers, f"{urls[name]}/status", context), process, f"{name} at {urls[name]}",
                             tmp_path / f"{name}.log")
        with (tmp_path / "driver.log").open("wb") as log:
            driver = subprocess.Popen(
                [CARAVAN, "run", str(scenario), "--attach", str(work), "--out", str(work / "run")],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )
        pending_kills = list(KILLS)
        deadline = time.monotonic() + 480
        while driver.poll() is None:
            assert time.monotonic() < deadline, "the run did not finish"
            status = _get(f"{urls['hub']}/status", context)
            seen = sum(status.get(state, 0) for state in ("pending", "delivered", "failed")) if status else 0
            if pending_kills and seen >= pending_kills[0][1]:
                name, _ = pending_kills.pop(0)
                os.kill(processes[name].pid, signal.SIGKILL)
                processes[name].wait()
                killed.append(name)
                processes[name] = _start(commands[name], tmp_path / f"{name}.log")
            time.sleep(0.05)
        output = (tmp_path / "driver.log").read_text()
        assert driver.returncode == 0, output[-3000:]
        assert "✗" not in output
    finally:
        for process in [*processes.values(), *([driver] if driver else [])]:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)

    assert killed == [name for name, _ in KILLS]
    db = work / "db"
    deliveries = _rows(db / "hub.sqlite", "SELECT sender, message_id, recipient, state, attempts, duplicates "
                                          "FROM deliveries")
    assert len(deliveries) >= 1000
    assert {row[3] for row in deliveries} == {"delivered"}, "every accepted message was delivered"
    retries = sum(row[4] - 1 for row in deliveries)
    duplicates = sum(row[5] for row in deliveries)
    for node in ("uz", "az", "ge"):
        expected = sorted((row[0], row[1]) for row in deliveries if row[2] == node)
        inbox = _rows(db / f"{node}.sqlite", "SELECT sender, message_id, state FROM inbox")
        assert sorted((row[0], row[1]) for row in inbox) == expected, f"{node}: each delivery received exactly once"
        assert {row[2] for row in inbox} <= {"processed"}, f"{node}: each received message processed"
        outbox = _rows(db / f"{node}.sqlite", "SELECT message_id, state, attempts FROM outbox")
        sent = {row[1] for row in deliveries if row[0] == node}
        assert {row[0] for row in outbox} == sent, f"{node}: every queued message reached the hub, once"
        assert {row[1] for row in outbox} == {"sent"}
        retries += sum(row[2] - 1 for row in outbox)
    nacks = [row for row in deliveries if row[1].startswith("CD906C") or "906" in row[1]]
    types = _rows(db / "hub.sqlite", "SELECT message_type, COUNT(*) FROM deliveries GROUP BY message_type")
    counts = dict(types)
    assert "CD906C" not in counts and not nacks, "no message was refused as out of sequence (applied twice)"
    assert counts["CC015C"] == counts["CC029C"] == counts["CC045C"] == counts["CD204C"] == MOVEMENTS
    assert counts["CD118C"] == 2 * MOVEMENTS
    [(mrns,)] = _rows(db / "uz.sqlite", "SELECT data FROM records WHERE family = 'cats' AND kind = 'counter' "
                                         "AND id = 'mrn'")
    assert json.loads(mrns) == MOVEMENTS, "one MRN per declaration, none allocated twice"
    summary = {"messages": len(deliveries), "kills": len(killed), "retries": retries,
               "duplicates_absorbed_at_hub": duplicates}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    print(f"crash run: {summary}")
