"""A node's `GET /state` a page at a time, so that a snapshot never decodes every record at once.

1. A page is at most `limit` records of one family, in the order of their keys (`RecordStore.load_page`),
   and the family desk's snapshot of those records alone (`Desk.snapshot`): a fragment of the whole.
   The first page of a family also shows what its configuration starts with (a guarantee register not
   yet written); a later page holding the written row replaces it.
2. `next` says where the following page starts: after the page's last key, or at the next family's
   first record; null after the last family. It travels as an opaque token (`Cursor.token`).
3. Pages merged in order (`exchange.snapshots.merge_page`) give the whole state; `read_whole_state` does
   exactly that for `GET /state` without `after`, holding one page of decoded records at a time.

Pages are read one after another, not in one transaction: a node that is still working between two
pages may show one movement before and another after a message. The driver reads at the end of a run,
once every component has settled; a person reads a live node as it moves anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exchange.errors import InputError
from exchange.snapshots import PAGE_RECORDS, merge_page
from nodes.desk import Desk
from nodes.record_store import RecordStore
from nodes.records import Key

__all__ = ["Cursor", "StatePage", "page_limit", "read_state_page", "read_whole_state"]

MAX_PAGE_RECORDS = 10_000


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after `after` in `family`, or at its first record when `after` is None."""

    family: str
    after: Key | None = None

    def token(self) -> str:
        """The cursor as the text a client passes back as `after`."""
        fields = [self.family] if self.after is None else [self.family, self.after.kind, self.after.owner,
                                                           self.after.id]
        return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")  # no "=" in a query

    @classmethod
    def read(cls, token: str, families: Mapping[str, Desk]) -> Cursor:
        """The cursor a `next` token names; InputError for a token this node did not give."""
        try:
            fields = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError) as exc:  # the decoder's own words name its insides, not the caller's error
            raise InputError(f"after={token!r} is not a token from a previous page's next: pass that next as it was "
                             "given", document="GET /state", path="after", rule="state-cursor") from exc
        if (not isinstance(fields, list) or len(fields) not in (1, 4) or fields[0] not in families
                or not all(isinstance(field, str) for field in fields)):
            raise InputError(f"after={token!r} does not name a family of this node and a record key: pass the "
                             "next of the page before", document="GET /state", path="after", rule="state-cursor")
        family, *key = fields
        return cls(family, Key(key[0], key[2], key[1]) if key else None)


@dataclass(frozen=True)
class StatePage:
    state: dict[str, Any]  # {family: the snapshot of this page's records}
    next: Cursor | None  # None: this was the last page

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "next": None if self.next is None else self.next.token()}


def page_limit(text: str | None) -> int:
    """The `limit` query parameter: records per page, PAGE_RECORDS when not given."""
    if text is None:
        return PAGE_RECORDS
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_RECORDS:
        raise InputError(f"limit={text!r}: give a whole number of records from 1 to {MAX_PAGE_RECORDS:,}",
                         document="GET /state", path="limit", rule="state-page-limit")
    return int(text)


async def read_state_page(records: RecordStore, desks: Mapping[str, Desk], at: Cursor | None,
                          limit: int) -> StatePage:
    """The page that starts at `at` (the first family's first record when None)."""
    families = list(desks)
    if not families:
        return StatePage({}, None)
    at = at or Cursor(families[0])
    desk = desks[at.family]
    loaded = await records.load_page(at.family, desk.kinds, at.after, limit)
    fragment = desk.snapshot(loaded, configured=at.after is None)
    if len(loaded.rows) == limit:
        return StatePage({at.family: fragment}, Cursor(at.family, list(loaded.rows)[-1]))
    following = families.index(at.family) + 1
    return StatePage({at.family: fragment}, Cursor(families[following]) if following < len(families) else None)


async def read_whole_state(records: RecordStore, desks: Mapping[str, Desk],
                           limit: int = PAGE_RECORDS) -> dict[str, Any]:
    """Every family's snapshot, folded from its pages."""
    whole: dict[str, Any] = {}
    cursor: Cursor | None = None
    while True:
        page = await read_state_page(records, desks, cursor, limit)
        merge_page(whole, page.state)
        if page.next is None:
            return whole
        cursor = page.next
