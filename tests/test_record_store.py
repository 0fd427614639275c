"""A node's agency state in SQLite, one row per aggregate: a decision reads and writes only its movement's rows.

The store is driven as a node drives it (`RecordStore.decision`, then `write` inside a transaction) with
the real CATS desk of the pilot's Uzbek node, holding many movements. What the store reads and writes is
counted through its access hook, row by row.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from lxml import etree

from bench.movements import movement_key, write_movements_scenario
from exchange.cli import main as caravan
from exchange.errors import OutOfSequence
from exchange.scenario import Scenario
from exchange.store import Database
from nodes.customs.codec import encode
from nodes.customs.desk import CatsDesk
from nodes.customs.ledger import DEPARTURE, DepartureRecord
from nodes.customs.model import Header, InvalidationRequest, NotificationCrossingFrontier, WriteOffNotification
from nodes.customs.scenario import CatsScenario
from nodes.customs.tables import DepartureState
from nodes.customs.trader import MOVEMENT_BY_MRN, TRADER_MOVEMENT
from nodes.desk import DeskResult, decision_rounds
from nodes.language import load_scenario
from nodes.record_store import RECORD_SCHEMA, RecordStore
from nodes.records import COUNTER, Due, Key, Lookup, Put, Trigger
from tests.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
HOLDER, DEPARTURE_OFFICE = "UZ301234567001", "UZ000100"
MOVEMENTS = 30
COUNTERS = {Key("counter", "mrn"), Key("counter", "customs-messages")}


@dataclass
class Touched:
    """Every row the store read or wrote, as (action, key)."""

    rows: list[tuple[str, Key]] = field(default_factory=list)

    def __call__(self, action: str, family: str, key: Key) -> None:
        self.rows.append((action, key))

    def take(self) -> tuple[set[Key], list[Key]]:
        read = {key for action, key in self.rows if action == "read"}
        written = [key for action, key in self.rows if action == "write"]
        self.rows.clear()
        return read, written


@dataclass
class UzbekNode:
    """The pilot's Uzbek node without HTTP: its CATS desk on a real store, answering its own offices."""

    desk: CatsDesk
    database: Database
    store: RecordStore
    touched: Touched
    scenario: Scenario
    mrns: dict[int, str] = field(default_factory=dict)

    async def decide(self, trigger: Trigger, now: datetime) -> DeskResult:
        result = await self.store.decision(self.desk, trigger, now)
        async with self.database.transaction() as db:
            await self.store.write(db, self.desk.family, self.desk.kinds, result.changes)
        return result

    async def declare(self, number: int, now: datetime) -> None:
        """Declare movement `number` and let Uzbekistan's offices and holder settle it: accepted, reserved,
        released. Messages for the other countries are dropped."""
        step = self.desk.on_action("declare", {"movement": movement_key(number)})
        pending = list((await self.decide(step, now)).outgoing)
        while pending:
            document = pending.pop(0)
            if document.recipient == "uz":
                pending += (await self.decide(self.desk.on_message(document.root, []), now)).outgoing
            if document.message_type == "CC028C":
                self.mrns[number] = document.root.findtext("TransitOperation/MRN") or ""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def uzbek(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UzbekNode]:
    """Thirty movements declared a day apart, each released at Tashkent (so their time limits end a day apart)."""
    tmp_path = tmp_path_factory.mktemp("store")
    database = await Database.open(tmp_path / "uz.sqlite", RECORD_SCHEMA)
    touched = Touched()
    try:  # an open connection's thread would keep the test run from ending
        scenario = load_scenario(write_movements_scenario(MOVEMENTS, tmp_path))
        node = UzbekNode(CatsDesk(scenario, "uz"), database, RecordStore(database, touched), touched, scenario)
        for number in range(1, MOVEMENTS + 1):
            await node.declare(number, T0 + timedelta(days=number))
        touched.take()
        yield node
    finally:
        await database.close()


def _expiry(number: int) -> datetime:
    """When movement `number`'s time limit (eight days from its release) has passed."""
    limit: date = (T0 + timedelta(days=number + 8)).date()
    return datetime.combine(limit + timedelta(days=1), time(), tzinfo=timezone.utc)


on_one_loop = pytest.mark.asyncio(loop_scope="module")


@on_one_loop
async def test_the_store_holds_a_row_per_movement_record_and_every_movement_is_released(uzbek: UzbekNode) -> None:
    loaded = await uzbek.store.load_page("cats", uzbek.desk.kinds, None, 10 * MOVEMENTS)
    kinds = [key.kind for key in loaded.rows]
    assert kinds.count("departure") == kinds.count("lrn") == kinds.count("trader-movement") == MOVEMENTS
    assert len(uzbek.mrns) == MOVEMENTS
    snapshot = uzbek.desk.snapshot(loaded)
    assert {view["departure"] for view in snapshot["movements"].values()} == {"Released"}
    uzbek.touched.take()


@on_one_loop
async def test_receiving_one_message_reads_and_writes_only_that_movements_rows(uzbek: UzbekNode) -> None:
    mrn = uzbek.mrns[17]
    crossing = NotificationCrossingFrontier(
        Header("NTA.AZ", "NTA.UZ", T0 + timedelta(days=19), "AZ000000001", mrn), mrn, T0 + timedelta(days=19),
        "AZ000210", DEPARTURE_OFFICE,
    )
    result = await uzbek.decide(uzbek.desk.on_message(encode(crossing), []), T0 + timedelta(days=19))
    read, written = uzbek.touched.take()
    departure = Key("departure", mrn, DEPARTURE_OFFICE)
    assert read == {departure} | COUNTERS
    assert written == [departure]
    [change] = result.changes
    assert change.value.passed_offices == ("AZ000210",) and result.outgoing == ()


@on_one_loop
async def test_a_message_to_a_trader_reads_only_the_movement_it_names(uzbek: UzbekNode) -> None:
    mrn = uzbek.mrns[5]
    [movement] = (await uzbek.store.load("cats", uzbek.desk.kinds,
                                         [Lookup(TRADER_MOVEMENT.name, MOVEMENT_BY_MRN.name, mrn)])).rows
    uzbek.touched.take()
    trigger = uzbek.desk.on_message(_write_off(mrn), [])
    assert Lookup(TRADER_MOVEMENT.name, MOVEMENT_BY_MRN.name, mrn) in trigger.needs
    await uzbek.decide(trigger, T0 + timedelta(days=6))
    read, written = uzbek.touched.take()
    assert read == {movement} | COUNTERS
    assert written == [movement]


@on_one_loop
async def test_a_clock_move_reads_only_the_records_whose_timer_is_due(uzbek: UzbekNode) -> None:
    quiet = await uzbek.decide(uzbek.desk.on_clock(_expiry(1) - timedelta(seconds=1)), _expiry(1))
    assert quiet.changes == quiet.outgoing == () and uzbek.touched.take()[0] == COUNTERS

    result = await uzbek.decide(uzbek.desk.on_clock(_expiry(3)), _expiry(3))
    read, written = uzbek.touched.take()
    due = {Key("departure", uzbek.mrns[number], DEPARTURE_OFFICE) for number in (1, 2, 3)}
    assert read == due | COUNTERS
    assert set(written) == due | {Key("counter", "customs-messages")}
    assert [document.message_type for document in result.outgoing] == ["CC140C"] * 3
    again = await uzbek.decide(uzbek.desk.on_clock(_expiry(3)), _expiry(3))
    assert again.outgoing == () and uzbek.touched.take()[0] == COUNTERS, "a timer fires once"


@on_one_loop
async def test_each_familys_earliest_timer_comes_in_one_reading(uzbek: UzbekNode) -> None:
    """What a node's status and its clock moves ask: every family's earliest timer, None for a family without."""
    rows = await uzbek.database.fetch_all("SELECT family, due_at FROM timers")
    earliest = min(datetime.fromisoformat(row["due_at"]).replace(tzinfo=timezone.utc) for row in rows
                   if row["family"] == "cats")
    assert earliest > _expiry(3)  # the timers that fired in the clock move before are gone
    assert await uzbek.store.next_due_each(["cats", "ephyto", "cats"]) == {"cats": earliest, "ephyto": None}
    assert await uzbek.store.next_due(["ephyto", "cats"]) == earliest
    assert await uzbek.store.next_due(["ephyto"]) is None and await uzbek.store.next_due_each([]) == {}


@on_one_loop
async def test_a_row_named_only_by_a_row_just_read_is_loaded_in_a_second_round(uzbek: UzbekNode) -> None:
    """A CC014C that names its declaration by LRN: the LRN row gives the MRN, which names the record."""
    lrn, mrn = uzbek.scenario.movements[movement_key(12)]["lrn"], uzbek.mrns[12]
    request = InvalidationRequest(Header(HOLDER, "NTA.UZ", T0, f"{HOLDER}-900001", lrn), lrn, None, T0.date(),
                                  "no longer needed", DEPARTURE_OFFICE, HOLDER)
    trigger = uzbek.desk.on_message(encode(request), [])
    rounds = decision_rounds(uzbek.desk, trigger, T0)
    assert next(rounds) == trigger.needs and Key("lrn", lrn, HOLDER) in trigger.needs
    further = rounds.send(await uzbek.store.load("cats", uzbek.desk.kinds, trigger.needs))
    assert further == (Key("departure", mrn, DEPARTURE_OFFICE),)
    with pytest.raises(StopIteration) as decided:
        rounds.send(await uzbek.store.load("cats", uzbek.desk.kinds, further))
    result: DeskResult = decided.value.value
    assert [document.message_type for document in result.outgoing] == ["CC056C"]  # released: too late (92)
    assert [change.key for change in result.changes] == [Key("counter", "customs-messages")]


@on_one_loop
async def test_a_step_names_the_rows_of_its_movement_so_it_decides_in_one_round(uzbek: UzbekNode) -> None:
    """An officer's step finds the record by the movement's LRN in the first round, and is refused on it."""
    trigger = uzbek.desk.on_action("resolve_discrepancies", {"movement": movement_key(8)})
    rounds = decision_rounds(uzbek.desk, trigger, T0)
    with pytest.raises(OutOfSequence):  # Released, no discrepancies to resolve: decided, not asking for more
        rounds.send(await uzbek.store.load("cats", uzbek.desk.kinds, next(rounds)))
    uzbek.touched.take()


def _write_off(mrn: str) -> etree._Element:
    return encode(WriteOffNotification(Header("NTA.UZ", HOLDER, T0, "UZ900000001", mrn), mrn, T0.date(),
                                       DEPARTURE_OFFICE, HOLDER, ()))


@on_one_loop
async def test_a_decision_whose_commit_fails_leaves_no_row_index_or_timer(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "node.sqlite", RECORD_SCHEMA)
    store, kinds = RecordStore(database), {DEPARTURE.name: DEPARTURE}
    record = _released(T0)
    try:
        with pytest.raises(RuntimeError):
            async with database.transaction() as db:
                await store.write(db, "cats", kinds, [Put(Key("departure", record.mrn, DEPARTURE_OFFICE), record)])
                raise RuntimeError("killed before the commit")
        for table in ("records", "record_index", "timers"):
            assert await database.fetch_all(f"SELECT * FROM {table}") == []
        async with database.transaction() as db:
            await store.write(db, "cats", kinds, [Put(Key("departure", record.mrn, DEPARTURE_OFFICE), record)])
        assert len(await database.fetch_all("SELECT * FROM timers")) == 1
        found = await RecordStore(database).load("cats", kinds, [Lookup("departure", "lrn", record.lrn),
                                                                 Due(record.deadline)])  # as after a restart
        assert list(found.rows.values()) == [record], "found by its index and by its timer, read back whole"
    finally:
        await database.close()


@on_one_loop
async def test_records_read_back_as_written_are_those_a_fresh_store_decodes(uzbek: UzbekNode) -> None:
    """The store keeps the records it wrote and read, and serves a row read back unchanged without decoding it:
    every kept record is the one its JSON gives, types included (a tuple stays a tuple, a Decimal its digits)."""
    kept = await uzbek.store.load_page("cats", uzbek.desk.kinds, None, 10 * MOVEMENTS)
    again = await uzbek.store.load_page("cats", uzbek.desk.kinds, None, 10 * MOVEMENTS)
    decoded = await RecordStore(uzbek.database).load_page("cats", uzbek.desk.kinds, None, 10 * MOVEMENTS)
    assert len(kept.rows) > 3 * MOVEMENTS
    assert all(again.rows[key] is record for key, record in kept.rows.items()), "not decoded a second time"
    assert {key: repr(record) for key, record in kept.rows.items()} == {
        key: repr(record) for key, record in decoded.rows.items()}
    uzbek.touched.take()


@on_one_loop
async def test_a_kept_record_is_not_taken_for_a_row_that_changed(tmp_path: Path) -> None:
    """What the row holds decides: a write rolled back, or a row another writer changed, is read from the row."""
    database = await Database.open(tmp_path / "node.sqlite", RECORD_SCHEMA)
    store, kinds = RecordStore(database), {DEPARTURE.name: DEPARTURE}
    key = Key("departure", _released(T0).mrn, DEPARTURE_OFFICE)
    first, second, third = (_released(T0 + timedelta(days=days)) for days in (0, 1, 2))
    try:
        async with database.transaction() as db:
            await store.write(db, "cats", kinds, [Put(key, first)])
        with pytest.raises(RuntimeError):
            async with database.transaction() as db:
                await store.write(db, "cats", kinds, [Put(key, second)])
                raise RuntimeError("killed before the commit")
        assert (await store.load("cats", kinds, [key])).rows == {key: first}
        async with database.transaction() as db:
            await RecordStore(database).write(db, "cats", kinds, [Put(key, third)])
        assert (await store.load("cats", kinds, [key])).rows == {key: third}
    finally:
        await database.close()


@on_one_loop
async def test_a_store_keeps_only_the_most_recently_used_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nodes.record_store._KEPT_ROWS", 2)
    database = await Database.open(tmp_path / "node.sqlite", RECORD_SCHEMA)
    store = RecordStore(database)
    counters = {number: Key("counter", f"c{number}") for number in (1, 2, 3)}
    try:
        async with database.transaction() as db:
            await store.write(db, "cats", {"counter": COUNTER}, [Put(key, 1000 + n) for n, key in counters.items()])
        assert list(store._kept) == [("cats", "counter", "", "c2"), ("cats", "counter", "", "c3")]
        await store.load("cats", {"counter": COUNTER}, [counters[1]])
        assert list(store._kept) == [("cats", "counter", "", "c3"), ("cats", "counter", "", "c1")]
    finally:
        await database.close()


def test_a_store_kept_as_one_document_per_family_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    ports = str(free_ports(4))  # the node must fail on its store, not on a port some other run holds
    assert caravan(["prepare", str(PILOT), "--out", str(tmp_path), "--plain-http", "--base-port", ports]) == 0
    old = tmp_path / "db" / "uz.sqlite"
    old.parent.mkdir(exist_ok=True)
    with contextlib.closing(sqlite3.connect(old)) as db, db:
        db.execute("CREATE TABLE desk_state (family TEXT PRIMARY KEY, state TEXT NOT NULL)")
        db.execute("INSERT INTO desk_state VALUES ('cats', '{}')")
    node = subprocess.run([sys.executable, "-m", "exchange.cli", "node", "--config", str(tmp_path / "uz.yaml")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # a node that opened would serve
    assert node.returncode == 2
    assert node.stderr.startswith("caravan: ") and "desk_state" in node.stderr and "fresh directory" in node.stderr
    assert "Traceback" not in node.stderr
    with contextlib.closing(sqlite3.connect(old)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"desk_state"} and db.execute("SELECT state FROM desk_state").fetchall() == [("{}",)]


def _released(now: datetime) -> DepartureRecord:
    """A movement released at Tashkent with its time limit running."""
    declaration = replace(CatsScenario(load_scenario(PILOT)).declaration("M1"), limit_date=now.date())
    return DepartureRecord("26UZ000100000001J5", DEPARTURE_OFFICE, DepartureState.RELEASED, declaration, now,
                           released_at=now, deadline=now + timedelta(days=1))
