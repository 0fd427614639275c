"""The hub's status totals, and its IPPC face's, are running totals (exchange/tally.py): after any mix of
traffic, and after the hub is opened again on its store, they are what a count over the store says."""

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
from exchange.hub import ABSORBED, Hub
from exchange.ippc.directory import Directory
from exchange.ippc.entities import Receive
from exchange.ippc.face import IppcFace
from exchange.store import Database
from exchange.tally import Tally
from tests import cats_samples
from tests.ippc_support import NOW, NPPOS, Deployment, deployment
from tests.ippc_support import envelope as soap_envelope
from tests.test_hub import envelope as cats_envelope
from tests.test_ippc_tracking import caravan_ephyto

ROOT = Path(__file__).resolve().parent.parent


def counted(store: Path, query: str) -> dict[str, int]:
    """Rows of (name, n), counted over the whole store (what status used to do at every request)."""
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        return {name: n for name, n in db.execute(query).fetchall() if n}


def store_totals(store: Path) -> tuple[dict[str, int], int]:
    """Deliveries per state, and duplicates absorbed."""
    absorbed = counted(store, "SELECT 'absorbed', SUM(duplicates) FROM deliveries").get("absorbed", 0)
    return counted(store, "SELECT state, COUNT(*) FROM deliveries GROUP BY state ORDER BY state"), absorbed


def assert_status_is_the_stores(status: dict[str, int], hub: Hub, store: Path) -> None:
    states, absorbed = store_totals(store)
    assert hub._tally.counts() == {**states, **({ABSORBED: absorbed} if absorbed else {})}
    assert {name: status[name] for name in ("pending", "delivered", "failed")} == {
        name: states.get(name, 0) for name in ("pending", "delivered", "failed")}
    assert status["duplicates_absorbed"] == absorbed


def assert_ippc_status_is_the_stores(status: dict[str, int], store: Path) -> None:
    ippc = {**counted(store, "SELECT state, COUNT(*) FROM ippc_deliveries GROUP BY state"),
            **counted(store, "SELECT signature, COUNT(*) FROM ippc_deliveries GROUP BY signature")}
    assert {name.removeprefix("ippc:"): n for name, n in status.items() if name.startswith("ippc:") and n} == ippc


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
        assert_status_is_the_stores(status, running.hub, store)
        assert store_totals(store) == ({"delivered": 3, "failed": 1, "held": 1, "pending": 1}, 1)
        assert (status["held"], status["refused"]) == (1, 1)
        assert_ippc_status_is_the_stores(status, store)
        assert (status["ippc:Delivered"], status["ippc:PendingDelivery"]) == (1, 1)

    clock = VirtualClock(NOW)
    face = IppcFace(Directory.from_pki(running.pki_dir, NPPOS, clock), clock, running.pki.trust_store())
    nowhere = {node: "http://127.0.0.1:9" for node in NPPOS}
    reopened = await Hub.open(store, running.pki.trust_store(), nowhere, clock, ippc=face)
    try:
        await face.start(reopened._db, reopened)  # the face's part of `Hub.start`, without pushing anything
        status = await reopened.status()
        assert_status_is_the_stores(status, reopened, store)
        assert_ippc_status_is_the_stores(status, store)
    finally:
        await reopened.stop()


async def test_a_tally_reads_the_store_and_moves_only_with_what_commits(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "hub.sqlite", [
        "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, state TEXT NOT NULL, signed TEXT NOT NULL)"])
    async with database.transaction() as db:
        await db.executemany("INSERT INTO deliveries (state, signed) VALUES (?, ?)",
                             [("delivered", "yes"), ("delivered", "no"), ("pending", "yes")])
    tally = await Tally.read(database, "SELECT state AS name, COUNT(*) AS n FROM deliveries GROUP BY state",
                             "SELECT signed AS name, COUNT(*) AS n FROM deliveries GROUP BY signed")
    assert tally.counts() == {"delivered": 2, "no": 1, "pending": 1, "yes": 2}
    async with database.transaction() as db:
        tally.added(db, "pending", "yes")
        tally.moved(db, "pending", "failed")
        tally.moved(db, "delivered", "delivered")
        assert tally.counts() == {"delivered": 2, "no": 1, "pending": 1, "yes": 2}, "nothing moves before the COMMIT"
    assert tally.counts() == {"delivered": 2, "failed": 1, "no": 1, "pending": 1, "yes": 3}
    async with database.transaction() as db:
        tally.moved(db, "pending", "delivered")
    assert tally.counts() == {"delivered": 3, "failed": 1, "no": 1, "yes": 3}, "a name without rows is left out"
    with pytest.raises(RuntimeError):
        async with database.transaction() as db:
            tally.added(db, "held")
            raise RuntimeError("the batch failed")
    assert tally.counts() == {"delivered": 3, "failed": 1, "no": 1, "yes": 3}
    await database.close()


@pytest.mark.parametrize(("table", "owner"), [("deliveries", "exchange/hub.py"),
                                              ("ippc_deliveries", "exchange/ippc/store.py")])
def test_one_module_writes_each_tallied_table_so_every_write_reaches_its_tally(table: str, owner: str) -> None:
    """A write elsewhere (the IPPC face wrote the hub's deliveries twice) would leave status behind the store."""
    writes = re.compile(rf"(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+{table}\b")
    writers = {path.relative_to(ROOT).as_posix() for path in (ROOT / "exchange").rglob("*.py")
               if writes.search(path.read_text(encoding="utf-8"))}
    assert writers == {owner}
