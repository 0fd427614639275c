"""A node's state read in pages, and the one rule that puts the pages back together.

A node's `GET /state` at the end of a long run names every movement it held: reading every record at
once would decode them all at once (about 6 KB per movement record). So a node serves its state in pages
too, `GET /state?limit=N` and then `GET /state?after=NEXT&limit=N`, each page the snapshot of at most N
records of one family, in the order of their keys, and `next` until the last page (null).

A page is a fragment of the whole: the movements, certificates and accounts its records describe.
`merge_page` folds one into what the pages before it gave: mappings merge key by key (a movement's
offices of transit come from several records), anything else is replaced by the later page. Folding
every page in order gives what `GET /state` without `after` gives; the node builds that one the same
way, so it never holds more than one page of decoded records either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PAGE_RECORDS", "merge_page"]

PAGE_RECORDS = 500
"""Records per page unless a client asks for another size: about 3 MB decoded for movement records."""


def merge_page(whole: dict[str, Any], page: Mapping[str, Any]) -> dict[str, Any]:
    """Fold `page` into `whole` in place (and return it): mappings key by key, other values replaced."""
    for key, value in page.items():
        if isinstance(value, Mapping) and isinstance(whole.get(key), dict):
            merge_page(whole[key], value)
        elif isinstance(value, Mapping):
            whole[key] = merge_page({}, value)  # a copy: later pages merge into it, never into the page
        else:
            whole[key] = value
    return whole
