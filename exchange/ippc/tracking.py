"""The Hub's delivery state machine, as one table.

A delivery is born `PendingDelivery` (or `FailedDelivery` when `ValidateAndDeliverEnvelope` finds SEVERE
issues, or when a pushed NPPO could never take the content) and ends in one of the Delivered states or
`FailedDelivery`. What moves it is the importing NPPO's answer: a push the NPPO took (2xx) or refused
(4xx), pushes that never got through, or, for an NPPO that pulls, which acknowledgement it sends.
A repeated acknowledgement of the same kind is idempotent (a client that lost the answer retries).

SetTrackingInfoUpdate is the importer's later word on a delivery it holds, pushed or pulled: it may settle
a pending one, or refine a plain `Delivered` once its own checks found warnings or could not read the
content (a push is taken before it is read). It never reopens a delivery nor makes a finding disappear.
"""

from __future__ import annotations

from enum import Enum

from exchange.client import Answer, Outcome
from exchange.ippc.entities import TrackingInfo

__all__ = ["REPORTS", "TRANSITIONS", "TrackingEvent", "advance", "push_event"]


class TrackingEvent(Enum):
    QUEUED = "queued"  # accepted for delivery
    INVALID = "invalid"  # ValidateAndDeliverEnvelope found SEVERE issues
    ACKNOWLEDGED = "acknowledged"  # AcknowledgeEnvelopeReceipt, or a push the NPPO took
    ACKNOWLEDGED_WITH_WARNINGS = "acknowledged-with-warnings"  # AdvancedAcknowledgeEnvelopeReceipt
    ACKNOWLEDGED_NOT_READABLE = "acknowledged-not-readable"  # AcknowledgeFailedEnvelopeReceipt
    REFUSED = "refused"  # the NPPO refused the push (4xx)
    GAVE_UP = "gave-up"  # the NPPO could not be reached within the attempts
    UNDELIVERABLE = "undeliverable"  # a pushed NPPO's node cannot take this content at all
    REPORTED_DELIVERED = "reported-delivered"  # SetTrackingInfoUpdate: Delivered
    REPORTED_WITH_WARNINGS = "reported-with-warnings"  # SetTrackingInfoUpdate: DeliveredWithWarnings
    REPORTED_NOT_READABLE = "reported-not-readable"  # SetTrackingInfoUpdate: DeliveredNotReadable
    REPORTED_FAILED = "reported-failed"  # SetTrackingInfoUpdate: FailedDelivery


_P, _D, _W, _N, _F = (
    TrackingInfo.PENDING_DELIVERY,
    TrackingInfo.DELIVERED,
    TrackingInfo.DELIVERED_WITH_WARNINGS,
    TrackingInfo.DELIVERED_NOT_READABLE,
    TrackingInfo.FAILED_DELIVERY,
)

TRANSITIONS: dict[tuple[TrackingInfo | None, TrackingEvent], TrackingInfo] = {
    (None, TrackingEvent.QUEUED): _P,
    (None, TrackingEvent.INVALID): _F,
    (None, TrackingEvent.UNDELIVERABLE): _F,
    (_P, TrackingEvent.ACKNOWLEDGED): _D,
    (_P, TrackingEvent.ACKNOWLEDGED_WITH_WARNINGS): _W,
    (_P, TrackingEvent.ACKNOWLEDGED_NOT_READABLE): _N,
    (_P, TrackingEvent.REFUSED): _F,
    (_P, TrackingEvent.GAVE_UP): _F,
    # the same acknowledgement again: a retry, not a change
    (_D, TrackingEvent.ACKNOWLEDGED): _D,
    (_W, TrackingEvent.ACKNOWLEDGED_WITH_WARNINGS): _W,
    (_N, TrackingEvent.ACKNOWLEDGED_NOT_READABLE): _N,
    # the importer's own report (SetTrackingInfoUpdate)
    (_P, TrackingEvent.REPORTED_DELIVERED): _D,
    (_P, TrackingEvent.REPORTED_WITH_WARNINGS): _W,
    (_P, TrackingEvent.REPORTED_NOT_READABLE): _N,
    (_P, TrackingEvent.REPORTED_FAILED): _F,
    (_D, TrackingEvent.REPORTED_DELIVERED): _D,
    (_D, TrackingEvent.REPORTED_WITH_WARNINGS): _W,
    (_D, TrackingEvent.REPORTED_NOT_READABLE): _N,
    (_W, TrackingEvent.REPORTED_WITH_WARNINGS): _W,
    (_N, TrackingEvent.REPORTED_NOT_READABLE): _N,
    (_F, TrackingEvent.REPORTED_FAILED): _F,
}
"""(state, event) → next state. `None` is a delivery not yet stored."""


def advance(state: TrackingInfo | None, event: TrackingEvent) -> TrackingInfo | None:
    """The next state, or None when `event` cannot happen in `state` (the caller says why to whom)."""
    return TRANSITIONS.get((state, event))


REPORTS: dict[TrackingInfo, TrackingEvent] = {
    TrackingInfo.DELIVERED: TrackingEvent.REPORTED_DELIVERED,
    TrackingInfo.DELIVERED_WITH_WARNINGS: TrackingEvent.REPORTED_WITH_WARNINGS,
    TrackingInfo.DELIVERED_NOT_READABLE: TrackingEvent.REPORTED_NOT_READABLE,
    TrackingInfo.FAILED_DELIVERY: TrackingEvent.REPORTED_FAILED,
}
"""The states an importer may report with SetTrackingInfoUpdate (not PendingDelivery, not EnvelopeNotExists)."""

PUSH_EVENTS: dict[Outcome, TrackingEvent] = {
    Outcome.ACCEPTED: TrackingEvent.ACKNOWLEDGED,
    Outcome.REFUSED: TrackingEvent.REFUSED,
    Outcome.UNREACHABLE: TrackingEvent.GAVE_UP,
}
"""What one push answer means for the delivery (UNREACHABLE only once the attempts have run out)."""

ACCEPTED_AS: dict[str, TrackingEvent] = {
    TrackingInfo.DELIVERED.value: TrackingEvent.ACKNOWLEDGED,
    TrackingInfo.DELIVERED_WITH_WARNINGS.value: TrackingEvent.ACKNOWLEDGED_WITH_WARNINGS,
    TrackingInfo.DELIVERED_NOT_READABLE.value: TrackingEvent.ACKNOWLEDGED_NOT_READABLE,
}
"""A pushed NPPO that took the envelope may say how in its answer's `HUBTrackingInfo` (the Hub's push
contract answers with an EnvelopeHeader); a plain 2xx is a plain acknowledgement."""


def push_event(answer: Answer, *, gave_up: bool) -> TrackingEvent | None:
    """The event a push answer causes, or None while an unreachable NPPO still has attempts left."""
    if answer.outcome is Outcome.UNREACHABLE and not gave_up:
        return None
    if answer.outcome is Outcome.ACCEPTED:
        return ACCEPTED_AS.get(str(answer.body.get("HUBTrackingInfo", "")), TrackingEvent.ACKNOWLEDGED)
    return PUSH_EVENTS[answer.outcome]
