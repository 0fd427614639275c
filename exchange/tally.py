"""Running totals of rows in a store, so that `GET /status` answers without counting the store.

Counting the hub's deliveries per state and summing the duplicates absorbed read every delivery: 82 ms at
190,000 of them (a 10,000-movement run), on every status request a dashboard or a monitor makes; the IPPC
face's counts per tracking state and per signature state read every ePhyto delivery the same way. Each
counts once instead, when it opens its store, and from then on every write that adds a row or moves one to
another state tells its tally, inside the transaction that writes it. The change is applied when that
transaction commits (`Transaction.on_commit`), before anyone can read the store after it, and dropped if the
transaction, or the savepoint of one intake in a group commit, rolls back: the totals are always the store's,
as committed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import partial

from exchange.store import Database, Transaction

__all__ = ["Tally"]


class Tally:
    """Rows per name (a state, a signature state, duplicates absorbed), as committed to a store."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts: Counter[str] = Counter(counts)

    @classmethod
    async def read(cls, database: Database, *queries: str) -> Tally:
        """The totals the store holds, once, when its owner opens it: each query answers rows of (name, n)."""
        counts: Counter[str] = Counter()
        for query in queries:
            counts.update({row["name"]: row["n"] for row in await database.fetch_all(query)})
        return cls(counts)

    def added(self, db: Transaction, *names: str) -> None:
        """`db` writes one more row under each of `names` (a new delivery's state and its signature state)."""
        for name in names:
            db.on_commit(partial(self._change, None, name))

    def moved(self, db: Transaction, old: str, new: str) -> None:
        """`db` moves a row from `old` to `new` (a delivery to another state; the same state again is no move)."""
        if old != new:
            db.on_commit(partial(self._change, old, new))

    def counts(self) -> dict[str, int]:
        """The names that have rows, in the order of their names (as a `GROUP BY` answers)."""
        return {name: n for name, n in sorted(self._counts.items()) if n}

    def _change(self, leaves: str | None, enters: str | None) -> None:
        """The one place the totals move, once the store has committed the change."""
        if leaves is not None:
            self._counts[leaves] -= 1
        if enters is not None:
            self._counts[enters] += 1
