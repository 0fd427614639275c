"""Partial agency state: what a decision holds is what was loaded, and nothing passes for the whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from nodes.records import (
    Counter,
    Due,
    Index,
    Key,
    Layout,
    Loaded,
    Lookup,
    Put,
    RecordKind,
    Shelved,
    Table,
    Unloaded,
    at_hand,
    put,
    select,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Parcel:
    number: str
    owner_ref: str | None = None


BY_REF = Index("ref", lambda parcel: parcel.owner_ref)
PARCEL = RecordKind("parcel", Parcel, (BY_REF,))
SHELVED = RecordKind("shelved", Parcel, (BY_REF,))


@dataclass(frozen=True)
class Ledger:
    parcels: dict[str, Parcel] = field(default_factory=dict)
    shelves: dict[str, dict[str, Parcel]] = field(default_factory=dict)
    serial: int = 0


LAYOUT = Layout(Ledger, (Table("parcels", PARCEL), Shelved("shelves", SHELVED), Counter("serial", "serial")))
SERIAL = Key("counter", "serial")


def test_a_key_asked_for_reads_as_found_or_absent_and_any_other_key_is_unloaded() -> None:
    loaded = Loaded({Key("parcel", "P1"): Parcel("P1")}, frozenset({Key("parcel", "P1"), Key("parcel", "P2"), SERIAL}))
    ledger = LAYOUT.state(loaded)
    assert ledger.parcels["P1"] == Parcel("P1")
    assert ledger.parcels.get("P2") is None and "P2" not in ledger.parcels
    with pytest.raises(Unloaded) as missing:
        ledger.parcels.get("P3")
    assert missing.value.query == Key("parcel", "P3")


def test_a_partial_mapping_refuses_to_be_scanned_counted_or_copied() -> None:
    ledger = LAYOUT.state(Loaded({}, frozenset({SERIAL})))
    for scan in (lambda: list(ledger.parcels), lambda: len(ledger.parcels), lambda: {**ledger.parcels},
                 lambda: dict(ledger.shelves), lambda: ledger.parcels == {}):
        with pytest.raises(TypeError, match="only some"):
            scan()


def test_a_counter_must_be_loaded_and_a_missing_counter_row_reads_as_zero() -> None:
    with pytest.raises(Unloaded) as missing:
        LAYOUT.state(Loaded())
    assert missing.value.query == SERIAL
    assert LAYOUT.state(Loaded(answered=frozenset({SERIAL}))).serial == 0


def test_changes_are_exactly_the_records_put_and_the_counters_moved() -> None:
    loaded = Loaded({Key("parcel", "P1"): Parcel("P1"), SERIAL: 4}, frozenset({Key("parcel", "P1"), SERIAL}))
    before = LAYOUT.state(loaded)
    after = Ledger(
        parcels=put(before.parcels, "P9", Parcel("P9")),
        shelves=put(before.shelves, "UZ000100", put(before.shelves["UZ000100"], "M1", Parcel("M1", "L1"))),
        serial=before.serial + 1,
    )
    assert set(LAYOUT.changes(before, after)) == {
        Put(Key("parcel", "P9"), Parcel("P9")),
        Put(Key("shelved", "M1", "UZ000100"), Parcel("M1", "L1")),
        Put(SERIAL, 5),
    }
    assert after.parcels["P9"] == Parcel("P9") and after.parcels["P1"] == Parcel("P1")
    assert LAYOUT.changes(before, before) == ()


def test_replacing_a_partial_mapping_with_a_plain_one_is_refused_rather_than_written_whole() -> None:
    before = LAYOUT.state(Loaded(answered=frozenset({SERIAL})))
    with pytest.raises(TypeError, match="put"):
        LAYOUT.changes(before, Ledger(parcels={"P1": Parcel("P1")}, shelves=before.shelves))  # type: ignore[arg-type]


def test_select_needs_its_lookup_loaded_and_sees_records_put_since() -> None:
    lookup = Lookup("shelved", "ref", "L1")
    found = Key("shelved", "M1", "UZ000100")
    loaded = Loaded({found: Parcel("M1", "L1"), SERIAL: 0}, frozenset({lookup, SERIAL}))
    ledger = LAYOUT.state(loaded)
    assert select(ledger.shelves, BY_REF, "L1") == [Parcel("M1", "L1")]
    assert ledger.shelves["UZ000100"]["M1"] == Parcel("M1", "L1")  # found by the lookup, so known by key too
    with pytest.raises(Unloaded) as missing:
        select(ledger.shelves, BY_REF, "L2")
    assert missing.value.query == Lookup("shelved", "ref", "L2")
    shelves = put(ledger.shelves, "GE000510", put(ledger.shelves["GE000510"], "M2", Parcel("M2", "L1")))
    assert select(shelves, BY_REF, "L1") == [Parcel("M2", "L1"), Parcel("M1", "L1")]
    assert select(shelves["GE000510"], BY_REF, "L1") == [Parcel("M2", "L1")]  # one owner's records only


def test_whole_state_from_every_row_is_plain_dicts_with_defaults_under_written_rows() -> None:
    rows = {Key("parcel", "P1"): Parcel("P1", "new"), Key("shelved", "M1", "UZ000100"): Parcel("M1"), SERIAL: 7}
    whole = LAYOUT.state(Loaded(rows, complete=True), {"parcels": {"P1": Parcel("P1"), "P2": Parcel("P2")}})
    assert whole == Ledger({"P1": Parcel("P1", "new"), "P2": Parcel("P2")}, {"UZ000100": {"M1": Parcel("M1")}}, 7)
    assert set(LAYOUT.rows(whole)) == {Put(Key("parcel", "P1"), Parcel("P1", "new")), Put(Key("parcel", "P2"),
                                       Parcel("P2")), Put(Key("shelved", "M1", "UZ000100"), Parcel("M1")),
                                       Put(SERIAL, 7)}


def test_a_default_record_reads_where_no_row_was_written_yet() -> None:
    loaded = Loaded(answered=frozenset({Key("parcel", "G1"), SERIAL}))
    ledger = LAYOUT.state(loaded, {"parcels": {"G1": Parcel("G1", "configured")}})
    assert ledger.parcels["G1"] == Parcel("G1", "configured")
    with pytest.raises(Unloaded):
        ledger.parcels.get("G2")  # a default is no licence to read a row that was not asked for


def test_at_hand_is_what_a_clock_move_loaded_or_a_whole_mapping() -> None:
    due = Key("shelved", "M1", "UZ000100")
    ledger = LAYOUT.state(Loaded({due: Parcel("M1"), SERIAL: 0}, frozenset({Due(T0), SERIAL})))
    assert at_hand(ledger.shelves, shelved=True) == [Parcel("M1")]
    assert at_hand({"A": {"1": Parcel("1")}, "B": {"2": Parcel("2")}}, shelved=True) == [Parcel("1"), Parcel("2")]
