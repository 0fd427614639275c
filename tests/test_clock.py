"""The scenario clock's keep file: a component restarted mid-scenario comes back at the time it had reached."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from exchange.clock import VirtualClock

START = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)


def test_a_restarted_clock_comes_back_at_the_last_time_it_was_set(tmp_path: Path) -> None:
    keep = tmp_path / "hub.clock"
    clock = VirtualClock(START, keep=keep)
    clock.set(datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=timezone.utc))  # the longest form: with microseconds
    clock.set(datetime(2026, 3, 4, 15, 57, tzinfo=timezone.utc))  # a shorter form must leave no tail behind

    again = VirtualClock(START, keep=keep)

    assert again.now() == datetime(2026, 3, 4, 15, 57, tzinfo=timezone.utc)


def test_a_keep_file_behind_the_start_does_not_take_the_clock_back(tmp_path: Path) -> None:
    keep = tmp_path / "node.clock"
    VirtualClock(START, keep=keep).set(datetime(2026, 3, 2, 7, 0, tzinfo=timezone.utc))

    later_start = datetime(2026, 3, 3, 0, 0, tzinfo=timezone.utc)

    assert VirtualClock(later_start, keep=keep).now() == later_start


def test_a_clock_refuses_to_go_back_and_keeps_its_time(tmp_path: Path) -> None:
    keep = tmp_path / "node.clock"
    clock = VirtualClock(START, keep=keep)
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))

    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(START)

    assert VirtualClock(START, keep=keep).now() == datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
