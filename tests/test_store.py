"""The store's commits that do not wait for the disk (`durable=False`): kept across a killed process, and
only around their own transaction."""

from __future__ import annotations

import asyncio
import contextlib
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
    assert (await database.fetch_one("PRAGMA journal_mode"))[0] == "wal"  # a killed writer's commits are in the WAL
    async with database.transaction(durable=False) as db:
        await db.execute("INSERT INTO marks VALUES (1)")
        assert (await db.fetch_one("PRAGMA synchronous"))[0] == 1  # NORMAL: no fsync at this COMMIT
        assert (await db.fetch_one("PRAGMA wal_autocheckpoint"))[0] == 0  # nor a checkpoint, which would sync
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


async def test_a_transactions_commit_actions_run_once_it_committed_before_the_listeners_and_never_when_undone(
        tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "store.sqlite", SCHEMA)
    ran: list[str] = []
    database.on_commit(lambda: ran.append("listener"))
    for durable in (True, False):
        async with database.transaction(durable=durable) as db:
            await db.execute("INSERT INTO marks VALUES (1)")
            db.on_commit(lambda: ran.append("kept"))
            assert ran == []  # not before the COMMIT
        assert ran == ["kept", "listener"], "an action runs before the listeners: a reader they wake sees it"
        ran.clear()
        with pytest.raises(RuntimeError):
            async with database.transaction(durable=durable) as db:
                db.on_commit(lambda: ran.append("undone"))
                raise RuntimeError("refused half-way")
        assert ran == []
    await database.close()


async def test_a_savepoint_that_fails_drops_its_writes_and_its_commit_actions_and_the_rest_commits(
        tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "store.sqlite", SCHEMA)
    ran: list[int] = []
    async with database.transaction() as db:
        for n in (1, 2, 3):
            with pytest.raises(ValueError) if n == 2 else contextlib.nullcontext():
                async with db.savepoint("part"):
                    await db.execute("INSERT INTO marks VALUES (?)", (n,))
                    db.on_commit(lambda n=n: ran.append(n))
                    if n == 2:
                        raise ValueError("this part is refused")
    assert ran == [1, 3]
    assert [row["n"] for row in await database.fetch_all("SELECT n FROM marks ORDER BY n")] == [1, 3]
    await database.close()
