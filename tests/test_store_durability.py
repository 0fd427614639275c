"""A commit that need not wait for the disk is still a commit; every other one still waits for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from exchange.store import Database

_SCHEMA = ["CREATE TABLE IF NOT EXISTS marks (id INTEGER PRIMARY KEY, state TEXT NOT NULL)"]
_FULL = 2  # PRAGMA synchronous: 1 is NORMAL, 2 is FULL


def _synchronous(database: Database) -> int:
    level: int = database._writer.execute("PRAGMA synchronous").fetchone()[0]
    return level


def test_a_commit_without_waiting_for_the_disk_is_read_back_and_kept_after_reopening(tmp_path: Path) -> None:
    async def scenario() -> None:
        database = await Database.open(tmp_path / "s.sqlite", _SCHEMA)
        async with database.transaction(durable=False) as db:
            await db.execute("INSERT INTO marks (id, state) VALUES (1, 'sent')")
        row = await database.fetch_one("SELECT state FROM marks WHERE id = 1")
        assert row is not None and row["state"] == "sent"
        assert _synchronous(database) == _FULL  # the next transaction waits for the disk again
        await database.close()
        reopened = await Database.open(tmp_path / "s.sqlite", _SCHEMA)
        row = await reopened.fetch_one("SELECT state FROM marks WHERE id = 1")
        await reopened.close()
        assert row is not None and row["state"] == "sent"

    asyncio.run(scenario())


def test_a_failed_block_without_waiting_for_the_disk_keeps_nothing_and_restores_full_durability(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        database = await Database.open(tmp_path / "s.sqlite", _SCHEMA)
        with pytest.raises(RuntimeError):
            async with database.transaction(durable=False) as db:
                await db.execute("INSERT INTO marks (id, state) VALUES (1, 'sent')")
                raise RuntimeError("the block failed")
        assert await database.fetch_one("SELECT 1 FROM marks") is None
        assert _synchronous(database) == _FULL
        async with database.transaction() as db:  # the store goes on
            await db.execute("INSERT INTO marks (id, state) VALUES (2, 'pending')")
        assert (await database.fetch_one("SELECT COUNT(*) AS n FROM marks"))["n"] == 1
        await database.close()

    asyncio.run(scenario())
