"""The hub's status totals are running totals (exchange/tally.py): after any mix of traffic, and after the hub
is opened again on its store, they are what a count over the store says."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from exchange.clock import VirtualClock
from exchange.errors import ProtocolError
from exchange.faults import Offline, plan_to_json
from exchange.hub import Hub
from exchange.ippc.entities import Receive
from exchange.store import Database
from exchange.tally import DeliveryTally
from tests import cats_samples
from tests.ippc_support import NOW, Deployment, deployment
from tests.ippc_support import envelope as soap_envelope
from tests.test_hub import envelope as cats_envelope
from tests.test_ippc_tracking import caravan_ephyto

ROOT = Path(__file__).resolve().parent.parent


def store_totals(store: Path) -> tuple[dict[str, int], int]:
    """Deliveries per state and duplicates absorbed, counted over the whole store (what status used to do)."""
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state ORDER BY state").fetchall())
        absorbed = db.execute("SELECT COALESCE(SUM(duplicates), 0) FROM deliveries").fetchone()[0]
    return states, absorbed


def assert_status_is_the_stores(status: dict[str, int], tally: DeliveryTally, store: Path) -> None:
    states, absorbed = store_totals(store)
    assert tally.states() == states
    assert {name: status[name] for name in ("pending", "delivered", "failed")} == {
        name: states.get(name, 0) for name in ("pending", "delivered", "failed")}
    assert status["duplicates_absorbed"] == absorbed


def cats(sender: str, recipient: str, message_id: str, running: Deployment) -> bytes:
    """A CATS envelope as node `sender` submits it, signed."""
    sample = cats_samples.aar()
    message = replace(sample, header=replace(sample.header, message_id=message_id))
    return cats_envelope(sender=sender, recipient=recipient, message=message).signed(
        running.pki.credentials(sender))


async def submit(session: aiohttp.ClientSession, running: Deployment, body: bytes) -> int:
    async with session.post(f"{running.url}/envelopes", data=body) as response:
        return response.status


async def get(session: aiohttp.ClientSession, running: Deployment, path: str) -> dict:
    async with session.get(f"{running.url}{path}") as response:
        assert response.status == 200
        return await response.json()


async def test_status_totals_are_the_stores_after_a_mix_of_traffic_and_after_a_restart(tmp_path: Path) -> None:
    """Delivered, failed, held by a fault, a duplicate absorbed, a refused submission, a group commit with one
    intake refused after its row was written, a pulled ePhyto acknowledged twice: over mutual TLS."""
    store = tmp_path / "hub.sqlite"
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as running:
        running.stand_ins["az"].status = 422
        driver = await running.session("driver")
        offline = Offline("uz-away", NOW, NOW + timedelta(hours=1), node="uz")
        async with driver.put(f"{running.url}/control/faults", json=plan_to_json((offline,))) as response:
            assert response.status == 200
        az, ge = await running.session("az"), await running.session("ge")
        first = cats("az", "ge", "AZ-STATUS-1", running)
        assert await submit(az, running, first) == 202  # delivered
        assert await submit(az, running, first) == 200  # a duplicate, absorbed
        assert await submit(ge, running, cats("ge", "az", "GE-STATUS-1", running)) == 202  # refused by az: failed
        assert await submit(ge, running, cats("ge", "uz", "GE-STATUS-2", running)) == 202  # held: uz is offline
        assert await submit(ge, running, b"<not-an-envelope/>") == 422  # refused, nothing stored

        # one group commit: an ePhyto held for ge to pull, one refused after its delivery row was written (its
        # savepoint rolls back alone), and a CATS envelope delivered
        held, refused = caravan_ephyto(), caravan_ephyto("UZ-PC-2026-000102", status=99)
        other = cats_envelope(sender="az", recipient="ge", message=replace(cats_samples.aar(), header=replace(
            cats_samples.aar().header, message_id="AZ-STATUS-2")))
        outcomes = await asyncio.gather(*(running.hub._store(sent, sent.to_xml()) for sent in (held, refused, other)),
                                        return_exceptions=True)
        assert [getattr(outcome, "state", None) for outcome in outcomes] == ["held", None, "pending"]
        assert isinstance(outcomes[1], ProtocolError)

        # the held ePhyto is pulled and acknowledged (held → delivered), then acknowledged again (no move); one more
        # ePhyto for ge over SOAP is held for it
        ge_soap = await running.client("ge")
        [header] = await ge_soap.import_headers()
        await ge_soap.acknowledge(header.delivery_number or "")
        await ge_soap.acknowledge(header.delivery_number or "")
        assert (await (await running.client("uz")).deliver(soap_envelope(number="UZ-PC-2026-000103"))).delivery_number

        status = await get(driver, running, "/status?wait=10")
        assert status["quiet"]
        status = await get(driver, running, "/status")
        assert_status_is_the_stores(status, running.hub._tally, store)
        assert store_totals(store) == ({"delivered": 3, "failed": 1, "held": 1, "pending": 1}, 1)
        assert (status["held"], status["refused"]) == (1, 1)

    nowhere = {node: "http://127.0.0.1:9" for node in running.stand_ins}  # opened, not started: nothing is pushed
    reopened = await Hub.open(store, running.pki.trust_store(), nowhere, VirtualClock(NOW))
    try:
        assert_status_is_the_stores(await reopened.status(), reopened._tally, store)
    finally:
        await reopened.stop()


async def test_the_tally_reads_the_store_and_moves_only_with_what_commits(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "hub.sqlite", [
        "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, state TEXT NOT NULL, duplicates INTEGER NOT NULL)"])
    async with database.transaction() as db:
        await db.executemany("INSERT INTO deliveries (state, duplicates) VALUES (?, ?)",
                             [("delivered", 2), ("delivered", 0), ("pending", 1)])
    tally = await DeliveryTally.read(database)
    assert (tally.states(), tally.duplicates_absorbed) == ({"delivered": 2, "pending": 1}, 3)
    async with database.transaction() as db:
        tally.added(db, "pending")
        tally.moved(db, "pending", "failed")
        tally.moved(db, "delivered", "delivered")
        tally.absorbed(db)
        assert tally.states() == {"delivered": 2, "pending": 1}, "nothing moves before the COMMIT"
    assert (tally.states(), tally.duplicates_absorbed) == ({"delivered": 2, "failed": 1, "pending": 1}, 4)
    with pytest.raises(RuntimeError):
        async with database.transaction() as db:
            tally.added(db, "held")
            tally.absorbed(db)
            raise RuntimeError("the batch failed")
    assert (tally.states(), tally.duplicates_absorbed) == ({"delivered": 2, "failed": 1, "pending": 1}, 4)
    await database.close()


def test_only_the_hub_writes_its_deliveries_table_so_every_write_reaches_the_tally() -> None:
    """A write to `deliveries` elsewhere (the IPPC face did two) would leave the status totals behind the store."""
    writes = re.compile(r"(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+deliveries\b")
    writers = {path.relative_to(ROOT).as_posix() for path in (ROOT / "exchange").rglob("*.py")
               if writes.search(path.read_text(encoding="utf-8"))}
    assert writers == {"exchange/hub.py"}
