"""How a run reads in a terminal: parties by name, lines that fit a projector, a clock while the run waits.

The driver prints one line per thing that happens. Three things make that readable for a class:

1. Parties are named as NCTS and the IPPC name them (`trader UZ301234567001 → office UZ000100`), not by
   the administration whose node carried the envelope (`UZ → UZ`). `PartyBook` knows each party's kind
   from the scenario (offices, traders, NPPOs) and from the conventional names documents use (`NTA.UZ`).
2. Every line fits `width` columns (120 by default, what a projector shows without wrapping); the full
   form (`--wide`) keeps every character, for logs and for people who grep.
3. While `--speed` paces virtual time, a `Ticker` redraws one clock line on a terminal, and clears it
   before the next line is printed, so a silent wait reads as time passing.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

__all__ = ["DEFAULT_WIDTH", "PartyBook", "Ticker", "columns", "fit"]

DEFAULT_WIDTH = 120
_PARTY_WIDTH = 21  # "trader UZ301234567001": the longest label of the pilot, so arrows line up


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
"""No ASCII character is wide: only the others (a line's few arrows and emoji) need a look-up."""


def columns(text: str) -> int:
    """How many terminal columns `text` takes: East Asian wide characters and emoji take two."""
    return len(text) + len(_wide_positions(text))


def _wide_positions(text: str) -> list[int]:
    """Where `text` has a character that takes two columns; found by a regular expression, not a Python
    loop over every character: the timeline measures a line or two per message of a run."""
    return [match.start() for match in _NON_ASCII.finditer(text)
            if unicodedata.east_asian_width(match.group()) in ("W", "F")]


def fit(text: str, width: int | None) -> str:
    """`text` cut to `width` columns with an ellipsis; None keeps it whole."""
    if width is None:
        return text
    wide = _wide_positions(text)
    if len(text) + len(wide) <= width:
        return text
    return text[:_kept(len(text), wide, max(width - 1, 0))].rstrip() + "…"


def _kept(length: int, wide: list[int], room: int) -> int:
    """How many leading characters of a text of `length` characters, wide at the positions `wide`, fit in
    `room` columns."""
    kept = used = 0
    for position in wide:
        narrow = position - kept  # the narrow characters before this wide one
        if used + narrow >= room:
            return kept + room - used
        used, kept = used + narrow, position
        if used + 2 > room:
            return kept
        used, kept = used + 2, position + 1
    return kept + min(length - kept, room - used)


@dataclass(frozen=True)
class Party:
    kind: str  # trader, office, customs, NPPO, hub
    code: str
    name: str
    country: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.code}"


class PartyBook:
    """Every party a scenario names, by the identification documents and events use for it."""

    def __init__(self, nodes: Mapping[str, Mapping[str, Any]]) -> None:
        self._nodes = {node_id: str(spec.get("country", node_id.upper())) for node_id, spec in nodes.items()}
        self._parties: dict[str, Party] = {}
        for spec in nodes.values():
            country = str(spec.get("country", ""))
            self._add(Party("customs", country, f"{country} customs administration", country), f"NTA.{country}")
            if isinstance(spec.get("nppo"), Mapping):
                self._add(Party("NPPO", country, str(spec["nppo"].get("name", "")), country), f"NPPO.{country}")
            for office in spec.get("offices") or []:
                self._add(Party("office", str(office["reference"]), str(office.get("name", "")), country))
            for trader in spec.get("traders") or []:
                self._add(Party("trader", str(trader["id"]), str(trader.get("name", "")), country))
            eco = spec.get("eco") if isinstance(spec.get("eco"), Mapping) else {}
            for authority in eco.get("authorities") or []:
                self._add(Party("authority", str(authority["id"]), str(authority.get("name", "")), country))
            if isinstance(eco.get("customs"), Mapping):
                self._add(Party("customs", str(eco["customs"]["id"]), f"{country} customs", country))
        self._add(Party("hub", "IPPC", "IPPC ePhyto Hub", ""), "ippc-hub")

    def _add(self, party: Party, key: str | None = None) -> None:
        self._parties[key or party.code] = party

    def party(self, code: str, node: str = "") -> Party:
        """The party a document or event names; an unknown name is taken as a party of `node`'s country."""
        known = self._parties.get(code)
        if known is not None:
            return known
        country = self._nodes.get(node, node.upper())
        return Party("party", code, "", country) if code else Party("node", country, "", country)

    def label(self, code: str, node: str = "") -> str:
        found = self.party(code, node)
        return found.country if found.kind == "node" else found.label

    def parties(self) -> list[Party]:
        return list(self._parties.values())

    @staticmethod
    def aligned(sender: str, recipient: str) -> str:
        return f"{sender:>{_PARTY_WIDTH}} → {recipient:<{_PARTY_WIDTH}}"


class Ticker:
    """One clock line, redrawn while the driver waits for virtual time to pass (only on a terminal)."""

    def __init__(self, stream: IO[str] | None, total_steps: int) -> None:
        self._stream = stream if stream is not None and _is_terminal(stream) else None
        self._total = total_steps
        self._shown = False

    async def wait(self, previous: datetime, at: datetime, speed: float, step: int) -> None:
        """Sleep (at - previous) / speed real seconds, showing the virtual clock four times a second."""
        loop = asyncio.get_running_loop()
        real = (at - previous).total_seconds() / speed
        started = loop.time()
        while (elapsed := loop.time() - started) < real:
            self._draw(previous + timedelta(seconds=elapsed * speed), at, step)
            await asyncio.sleep(min(0.25, real - elapsed))
        self.clear()

    def _draw(self, now: datetime, next_at: datetime, step: int) -> None:
        if self._stream is None:
            return
        line = (f"⏱ {now:%Y-%m-%d %H:%M:%S} virtual  ·  step {step + 1}/{self._total} at {next_at:%Y-%m-%d %H:%M}"
                "  ·  Ctrl-C stops")
        self._stream.write(f"\r\x1b[K{line}")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._stream is not None and self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
