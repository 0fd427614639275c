"""One small layer over SQLite for everything caravan must not lose.

The hub and every node keep their outbox, inbox, tracking and agency state in one SQLite file each,
in WAL mode with `synchronous=FULL`: a message is acknowledged only after its row is committed, and a
commit survives a killed process. aiosqlite gives each database one connection on its own thread;
caravan adds a lock so that one logical transaction (for example "mark inbox row processed, save the
new movement state, queue the answers") is never interleaved with another.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

__all__ = ["Database"]


class Database:
    """A single-writer SQLite database with explicit transactions."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, schema: Iterable[str]) -> Database:
        """Open (creating if needed) the database at `path` and apply the `CREATE … IF NOT EXISTS` schema."""
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = aiosqlite.Row
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=FULL")
        await connection.execute("PRAGMA busy_timeout=5000")
        for statement in schema:
            await connection.execute(statement)
        return cls(connection)

    async def close(self) -> None:
        await self._connection.close()

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

    async def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            async with self._connection.execute(sql, parameters) as cursor:
                return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, parameters: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock:
            async with self._connection.execute(sql, parameters) as cursor:
                return await cursor.fetchone()
