"""What every CATS agency returns: its new state, the messages to send and the events to log.

Customs offices and trader desks are sans-IO (ecosystem.md §5.1): they never send, store or read the
clock themselves. The caller persists `state`, hands `messages` to the transport and appends `events`
to the timeline, all from one `Outcome`, so a decision is never half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from nodes.customs.model import CatsMessage

__all__ = ["Event", "Outcome"]

S = TypeVar("S")


@dataclass(frozen=True)
class Event:
    """One thing an agency did or refused, worded for a timeline.

    `kind` is "state" (a transition, detail "Accepted → Released on …"), "rejected" (a message or
    action that was not applied, with its functional error), "guarantee" (a reservation or release
    at the office of guarantee), "nack" (a CD906C received), "status" (a trader's view changed),
    "lodged" (a trader's own system sent a follow-up message through the declarant channel) or
    "unmatched" (a trader got a message about a movement it does not know).
    `office` is the office reference number, or the trader's identification number for trader desks.
    """

    kind: str
    office: str
    reference: str  # MRN, or LRN before an MRN exists
    detail: str


@dataclass(frozen=True)
class Outcome(Generic[S]):
    state: S
    messages: tuple[CatsMessage, ...] = ()
    events: tuple[Event, ...] = ()
