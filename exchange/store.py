"""One small layer over SQLite for everything caravan must not lose.

The hub and every node keep their outbox, inbox, tracking and agency state in one SQLite file each,
in WAL mode with `synchronous=FULL`: a message is acknowledged only after its row is committed, and a
commit survives a killed process. aiosqlite gives each database one connection on its own thread;
caravan adds a lock so that one logical transaction (for example "mark inbox row processed, save the
new movement state, queue the answers") is never interleaved with another. Commit listeners run
before that lock is released, so whoever reads after a commit has seen it (exchange/activity.py relies on this).

One store, one process: opening a store takes an exclusive advisory lock on a `.lock` file beside it,
which the operating system drops when the process ends, however it ends. A second hub or node given
the same store is refused (ResourceBusy) before it reads or writes a row: two writers would each
keep their own idea of sequence numbers and queues in memory and corrupt the other's.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from exchange.errors import ResourceBusy

__all__ = ["Database", "ensure_unused"]

_LOCK_SUFFIX = ".lock"


class Database:
    """A single-writer SQLite database with explicit transactions."""

    def __init__(self, connection: aiosqlite.Connection, owner: int) -> None:
        self._connection = connection
        self._owner = owner  # the descriptor holding the store's lock
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    async def open(cls, path: Path, schema: Iterable[str]) -> Database:
        """Open (creating if needed) the database at `path` and apply the `CREATE … IF NOT EXISTS` schema.

        ResourceBusy when another process has the store open.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        owner = _take(path)
        try:
            connection = await aiosqlite.connect(path, isolation_level=None)
            connection.row_factory = aiosqlite.Row
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA synchronous=FULL")
            await connection.execute("PRAGMA busy_timeout=5000")
            for statement in schema:
                await connection.execute(statement)
        except BaseException:
            os.close(owner)
            raise
        return cls(connection, owner)

    async def close(self) -> None:
        try:
            await self._connection.close()
        finally:
            os.close(self._owner)  # drops the lock

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every committed transaction, before any other read or write can start."""
        self._listeners.append(listener)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block as one `BEGIN IMMEDIATE … COMMIT`; any exception rolls everything back."""
        async with self._lock:
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            await self._connection.execute("COMMIT")
            for listener in self._listeners:
                listener()

    async def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            async with self._connection.execute(sql, parameters) as cursor:
                return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, parameters: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock:
            async with self._connection.execute(sql, parameters) as cursor:
                return await cursor.fetchone()


def ensure_unused(directory: Path) -> None:
    """ResourceBusy if a store in `directory` is open in some process: before a directory is wiped."""
    for lock in sorted(directory.glob(f"*{_LOCK_SUFFIX}")):
        os.close(_take(lock.with_suffix(".sqlite"), lock))


def _take(store: Path, lock: Path | None = None) -> int:
    """Lock `store` for this process (a descriptor on its lock file, held open), or ResourceBusy naming the holder."""
    lock = lock or store.with_suffix(_LOCK_SUFFIX)
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise ResourceBusy(
            f"store {store} is in use by another process (pid {holder}); stop it, or give this one another store",
            document=str(store),
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor
