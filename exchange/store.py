"""One small layer over SQLite for everything caravan must not lose.

The hub and every node keep their outbox, inbox, tracking and agency state in one SQLite file each,
in WAL mode with `synchronous=FULL`: a message is acknowledged only after its row is committed, and a
commit survives a killed process. caravan adds a lock so that one logical transaction (for example "mark
inbox row processed, save the new movement state, queue the answers") is never interleaved with another.

Where the time goes decides the shape. A statement is answered from memory in microseconds; only COMMIT
waits for the disk (the fsync that makes it durable). So:

1. a transaction's statements, and its COMMIT, run at once on the event loop's thread, on the store's one
   writing connection, inside `BEGIN IMMEDIATE`. The loop waits out the fsync (0.2 ms on this project's
   machine). Handing the COMMIT to a thread so the loop could go on meanwhile cost more: the hand-off and
   the loop's wake-up each time made every part of a run slower, crypto included, 4 CPU s of 31 in a
   100-movement run, about 1 ms per commit (docs/bench-history.md, session 9). One fsync at a time also keeps
   the hub's group commit whole: intakes that arrive during one are read, and committed together, after it;
2. reads outside a transaction (`fetch_one`, `fetch_all`) run on a second, read-only connection, once any
   transaction under way has committed: a task woken from inside a transaction (a forwarder told of a new
   delivery) finds its rows when it reads;
3. a write that a power cut may lose because whoever needs it redoes it (the hub's mark that a recipient
   took a push: a lost mark means one more push, which the recipient answers as a duplicate) commits with
   `durable=False`: into the WAL, without the fsync. A killed process loses nothing of it (the WAL is written
   before COMMIT returns); a power cut may lose what was committed this way since the last durable commit,
   which syncs the whole WAL, these frames included.

Commit listeners run before that lock is released, so whoever reads after a commit has seen it
(exchange/activity.py relies on this). A transaction's own `on_commit` actions (state kept in memory beside
the store, such as the hub's running totals) run just before them, and only once its COMMIT has succeeded.

One store, one process: opening a store takes an exclusive advisory lock on a `.lock` file beside it,
which the operating system drops when the process ends, however it ends. A second hub or node given
the same store is refused (ResourceBusy) before it reads or writes a row: two writers would each
keep their own idea of sequence numbers and queues in memory and corrupt the other's.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from exchange.errors import ResourceBusy, StoreError

__all__ = ["Database", "Row", "Transaction", "ensure_unused"]

_LOCK_SUFFIX = ".lock"
_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default

Row = sqlite3.Row


class Transaction:
    """The statements of one open transaction. Each runs when called: nothing reaches the disk before COMMIT."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._on_commit: list[Callable[[], None]] = []

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction has committed, and never if what asked for it rolled back.

        For state kept in memory beside the store (running totals): it moves only with what the store kept.
        """
        self._on_commit.append(action)

    @asynccontextmanager
    async def savepoint(self, name: str) -> AsyncIterator[None]:
        """A part of the transaction that an exception rolls back alone before it goes on up: the part's writes
        and `on_commit` actions are dropped, the rest of the transaction stays (one intake of a group commit)."""
        kept = len(self._on_commit)
        self._connection.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if self._connection.in_transaction:  # else SQLite already rolled everything back (an I/O error)
                self._connection.execute(f"ROLLBACK TO {name}")
                self._connection.execute(f"RELEASE {name}")
            del self._on_commit[kept:]
            raise
        self._connection.execute(f"RELEASE {name}")

    def committed(self) -> None:
        """The transaction committed: run what asked to run then, in the order asked."""
        for action in self._on_commit:
            action()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement; the cursor says `lastrowid` and `rowcount`."""
        return self._connection.execute(sql, parameters)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._connection.executemany(sql, rows)

    async def fetch_one(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None:
        """The first row, as this transaction sees it (its own writes included)."""
        return _fetch_one(self._connection, sql, parameters)

    async def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        return self._connection.execute(sql, parameters).fetchall()


class Database:
    """A single-writer SQLite database with explicit transactions."""

    def __init__(self, writer: sqlite3.Connection, reader: sqlite3.Connection, owner: int) -> None:
        self._writer = writer
        self._reader = reader
        self._owner = owner  # the descriptor holding the store's lock
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    async def open(cls, path: Path, schema: Iterable[str], *, component: str | None = None) -> Database:
        """Open (creating if needed) the database at `path` and apply the `CREATE … IF NOT EXISTS` schema.

        `component` ("hub", a node's id) claims a new store for that component, and refuses a store another
        component claimed (StoreError) before the schema touches it: a node given the hub's store by a slip in
        its config added its tables beside the hub's and logged into the hub's transport table.
        ResourceBusy when another process has the store open.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        owner = _take(path)
        connections: list[sqlite3.Connection] = []
        try:
            writer = _connect(path, connections)
            writer.execute("PRAGMA journal_mode=WAL")
            writer.execute("PRAGMA synchronous=FULL")
            if component is not None:
                _claim(writer, path, component)
            for statement in schema:
                writer.execute(statement)
            reader = _connect(path, connections)
            reader.execute("PRAGMA query_only=ON")
        except BaseException as exc:
            for connection in connections:
                connection.close()
            os.close(owner)
            if isinstance(exc, sqlite3.Error):
                raise _unopenable(path, exc) from exc
            raise
        return cls(writer, reader, owner)

    async def close(self) -> None:
        try:
            async with self._lock:  # a transaction under way finishes first
                self._reader.close()
                self._writer.close()
        finally:
            os.close(self._owner)  # drops the lock

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every committed transaction, before any other transaction can start."""
        self._listeners.append(listener)

    @asynccontextmanager
    async def transaction(self, *, durable: bool = True) -> AsyncIterator[Transaction]:
        """Run the block as one `BEGIN IMMEDIATE … COMMIT`; any exception rolls everything back.

        `durable=False` is for a write that a power cut may lose because whoever needs it redoes it (see the
        module docstring, 3.): it commits without waiting for the disk.
        """
        async with self._lock:
            transaction = Transaction(self._writer)
            with self._safety(durable=durable):
                self._writer.execute("BEGIN IMMEDIATE")
                try:
                    yield transaction
                    self._writer.execute("COMMIT")
                except BaseException:
                    if self._writer.in_transaction:  # the block failed, or the COMMIT did (disk full, I/O error)
                        self._writer.execute("ROLLBACK")
                    raise
            transaction.committed()
            for listener in self._listeners:
                listener()

    @contextmanager
    def _safety(self, *, durable: bool) -> Iterator[None]:
        """A durable COMMIT syncs the WAL (and with it the frames of every unsynced one before it), and
        checkpoints it now and then. An unsynced one goes into the WAL without fsync and without a checkpoint
        (which would fsync). SQLite takes a safety level only between transactions: it is lowered around
        that one alone."""
        if durable:
            yield
            return
        self._writer.execute("PRAGMA synchronous=NORMAL")
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        try:
            yield
        finally:
            self._writer.execute("PRAGMA synchronous=FULL")
            self._writer.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")

    async def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        """Rows as committed, after any transaction under way: a reader it woke finds what it wrote."""
        async with self._lock:
            return self._reader.execute(sql, parameters).fetchall()

    async def fetch_one(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None:
        async with self._lock:
            return _fetch_one(self._reader, sql, parameters)


def _claim(connection: sqlite3.Connection, path: Path, component: str) -> None:
    """Mark the store as `component`'s, or refuse it when another component's mark is there. A store written
    before stores were marked has no mark: it is claimed by whoever opens it first, as before."""
    connection.execute("CREATE TABLE IF NOT EXISTS store_owner (component TEXT NOT NULL)")
    row = connection.execute("SELECT component FROM store_owner").fetchone()
    if row is None:
        connection.execute("INSERT INTO store_owner (component) VALUES (?)", (component,))
    elif row[0] != component:
        raise StoreError(f"{path}: is the store of {row[0]!r}, not of {component!r}: each component keeps its own; "
                         "give this one its own file (a new one is made where none is)",
                         document=str(path), rule="store-of-another-component")


def _unopenable(path: Path, error: sqlite3.Error) -> StoreError:
    """A file SQLite will not take as a store (not a database, a damaged one, a place it cannot write): named with
    SQLite's reason, rather than an internal error from the first statement. Nothing was written to it."""
    return StoreError(f"{path}: cannot be opened as a store: {error}; give the component a store of its own (a new "
                      "file is made where none is), or `caravan prepare` the directory afresh",
                      document=str(path), rule="store-unreadable")


def _connect(path: Path, opened: list[sqlite3.Connection]) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), rows readable by column name."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    opened.append(connection)
    connection.row_factory = sqlite3.Row
    return connection


def _fetch_one(connection: sqlite3.Connection, sql: str, parameters: Sequence[Any]) -> Row | None:
    """The first row; the statement is closed at once, so a reader holds no snapshot open."""
    cursor = connection.execute(sql, parameters)
    try:
        row: Row | None = cursor.fetchone()
    finally:
        cursor.close()
    return row


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
