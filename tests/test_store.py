"""The store's commits that do not wait for the disk (`durable=False`): kept across a killed process, and
only around their own transaction."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from exchange.store import Database

SCHEMA = ["CREATE TABLE IF NOT EXISTS marks (n INTEGER NOT NULL)"]


async def test_an_unsynced_commit_is_read_back_told_to_listeners_and_leaves_the_next_commit_synced(
        tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "store.sqlite", SCHEMA)
    told = []
    database.on_commit(lambda: told.append(1))
    async with database.transaction(durable=False) as db:
        await db.execute("INSERT INTO marks VALUES (1)")
    assert (await database.fetch_one("SELECT COUNT(*) AS n FROM marks"))["n"] == 1
    assert told == [1]
    with pytest.raises(RuntimeError):
        async with database.transaction(durable=False) as db:
            await db.execute("INSERT INTO marks VALUES (2)")
            raise RuntimeError("refused half-way")
    assert (await database.fetch_one("SELECT COUNT(*) AS n FROM marks"))["n"] == 1  # rolled back whole
    async with database.transaction() as db:
        assert (await db.fetch_one("PRAGMA synchronous"))[0] == 2  # FULL again
        assert (await db.fetch_one("PRAGMA wal_autocheckpoint"))[0] == 1000
    await database.close()


def test_unsynced_commits_survive_a_killed_process(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    writer = textwrap.dedent(f"""
        import asyncio, os, signal
        from pathlib import Path
        from exchange.store import Database
        async def main():
            database = await Database.open(Path({str(store)!r}), {SCHEMA!r})
            async with database.transaction() as db:
                await db.execute("INSERT INTO marks VALUES (0)")
            for n in range(1, 51):
                async with database.transaction(durable=False) as db:
                    await db.execute("INSERT INTO marks VALUES (?)", (n,))
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
    """)
    killed = subprocess.run([sys.executable, "-c", writer], capture_output=True, timeout=60)
    assert killed.returncode == -9, killed.stderr

    async def count() -> int:
        database = await Database.open(store, SCHEMA)
        row = await database.fetch_one("SELECT COUNT(*) AS n FROM marks")
        await database.close()
        return row["n"]

    assert asyncio.run(count()) == 51
