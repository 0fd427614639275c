"""Running totals of the hub's deliveries, so that `GET /status` answers without counting the store.

Counting the deliveries per state and summing the duplicates absorbed reads every delivery: 82 ms at
190,000 of them (a 10,000-movement run), on every status request a dashboard or a monitor makes. The hub
counts once instead, when it opens its store, and from then on every write that adds a delivery, moves one
to another state or absorbs a duplicate tells the tally, inside the transaction that writes it. The change
is applied when that transaction commits (`Transaction.on_commit`), before anyone can read the store after
it, and dropped if the transaction, or the savepoint of one intake in a group commit, rolls back: the totals
are always the store's, as committed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import partial

from exchange.store import Database, Transaction

__all__ = ["DeliveryTally"]


class DeliveryTally:
    """Deliveries per state, and duplicate submissions absorbed, as committed to the hub's store."""

    def __init__(self, states: Mapping[str, int], absorbed: int) -> None:
        self._states: Counter[str] = Counter(states)
        self._absorbed = absorbed

    @classmethod
    async def read(cls, database: Database) -> DeliveryTally:
        """The totals the store holds: the one count over every delivery, when the hub opens its store."""
        rows = await database.fetch_all("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
        absorbed = await database.fetch_one("SELECT COALESCE(SUM(duplicates), 0) AS n FROM deliveries")
        return cls({row["state"]: row["n"] for row in rows}, absorbed["n"] if absorbed else 0)

    def added(self, db: Transaction, state: str) -> None:
        """`db` stores a new delivery in `state`."""
        db.on_commit(partial(self._change, None, state, 0))

    def moved(self, db: Transaction, old: str, new: str) -> None:
        """`db` moves a delivery from state `old` to state `new` (the same state again changes nothing)."""
        if old != new:
            db.on_commit(partial(self._change, old, new, 0))

    def absorbed(self, db: Transaction) -> None:
        """`db` counts one more duplicate submission of a stored delivery."""
        db.on_commit(partial(self._change, None, None, 1))

    def states(self) -> dict[str, int]:
        """Deliveries per state, for the states that have any, in the order of the states' names (as a
        `GROUP BY state` answers)."""
        return {state: n for state, n in sorted(self._states.items()) if n}

    @property
    def duplicates_absorbed(self) -> int:
        return self._absorbed

    def _change(self, leaves: str | None, enters: str | None, absorbed: int) -> None:
        """The one place the totals move, once the store has committed the change."""
        if leaves is not None:
            self._states[leaves] -= 1
        if enters is not None:
            self._states[enters] += 1
        self._absorbed += absorbed
