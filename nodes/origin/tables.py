"""The e-CO protocol as data: every state a certificate, a declaration or a verification can be in.

Rule (after h11's `_state.py`, as in `nodes.customs.tables`): every move is written here and nowhere
else. A trigger (a message received, a step, a deadline) may only move a record if `(state, trigger)` is
a key of the table; `None` stands for "no record yet". Anything else is refused, never applied, with a
rule code: "ECO-UNKNOWN" for a record that does not exist, the code `REFUSALS` gives for moves the
standards forbid on purpose (cancelling a certificate that has been used), and "ECO-SEQUENCE" for any
other move out of sequence.

Four machines:

* `ISSUED`: a version of a certificate at its issuing authority (chamber of commerce or authorised body);
* `RECEIVED`: the same version as the importing customs knows it from the data pushed to it;
* `PREFERENCE`: an import declaration's claim (preference, or non-preferential proof) at customs;
* `VERIFICATION` and `INQUIRY`: a retroactive verification request, at customs and at the issuer.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from exchange.errors import ProtocolError

__all__ = [
    "INQUIRY",
    "ISSUED",
    "PREFERENCE",
    "RECEIVED",
    "REFUSALS",
    "VERIFICATION",
    "VERIFICATION_TIMERS",
    "IssuedState",
    "PreferenceState",
    "ReceivedState",
    "VerificationState",
    "next_state",
]


class IssuedState(Enum):
    """A version of a certificate at the authority that issued it."""

    ISSUED = "Issued"  # signed and pushed to the importing customs
    ACKNOWLEDGED = "Acknowledged"  # the importing customs took it (EcoAcknowledgement RECEIVED)
    REFUSED = "RefusedByReceiver"  # the importing customs did not take it (REJECTED, with errors)
    USED = "Used"  # preference granted (or a non-preferential certificate used) on an import declaration
    DENIED = "Denied"  # cited on a declaration and refused; it may still be used, replaced or cancelled
    REPLACED = "Replaced"  # a later version substitutes it; ends
    CANCELLED = "Cancelled"  # cancelled before use; ends
    INVALIDATED = "Invalidated"  # the importing customs withdrew the preference after a verification; ends


class ReceivedState(Enum):
    """A version of a certificate at the importing customs, from the data pushed to it."""

    RECEIVED = "Received"
    USED = "Used"
    CANCELLED = "Cancelled"
    REPLACED = "Replaced"
    INVALIDATED = "Invalidated"


class PreferenceState(Enum):
    """An import declaration's claim at customs: tariff preference, or origin proven by a non-preferential CO."""

    ACCEPTED = "Accepted"
    REFUSED = "Refused"
    SUSPENDED = "Suspended"  # a verification request is out and the preference waits for its answer
    WITHDRAWN = "Withdrawn"  # the verification did not confirm origin, or no answer came to a suspension


class VerificationState(Enum):
    """A verification request, at the customs that sent it and at the issuing authority that must answer."""

    REQUESTED = "Requested"
    ANSWERED = "Answered"
    OVERDUE = "Overdue"  # customs only: the due date passed without an answer
    ANSWERED_LATE = "AnsweredLate"  # customs only


_I = IssuedState
_UNUSED = (_I.ISSUED, _I.ACKNOWLEDGED, _I.REFUSED, _I.DENIED)

ISSUED: Mapping[tuple[IssuedState | None, str], IssuedState] = {
    (None, "issue"): _I.ISSUED,
    (_I.ISSUED, "acknowledged"): _I.ACKNOWLEDGED,
    (_I.ISSUED, "refused by receiver"): _I.REFUSED,
    **{(state, "replace"): _I.REPLACED for state in _UNUSED},
    **{(state, "cancel"): _I.CANCELLED for state in _UNUSED},
    **{(state, "used"): _I.USED for state in (_I.ISSUED, _I.ACKNOWLEDGED, _I.DENIED)},
    **{(state, "denied"): _I.DENIED for state in (_I.ISSUED, _I.ACKNOWLEDGED, _I.DENIED)},
    # a declaration may cite a certificate that has ended or was used already: refused, it stays as it was
    **{(state, "denied"): state for state in (_I.CANCELLED, _I.REPLACED, _I.USED, _I.INVALIDATED)},
    (_I.USED, "withdrawn"): _I.INVALIDATED,
}
"""Issuing authority. "replace" and "cancel" are the authority's own steps; "acknowledged", "refused by
receiver" come from an EcoAcknowledgement; "used", "denied", "withdrawn" from an EcoUtilisation."""

_R = ReceivedState

RECEIVED: Mapping[tuple[ReceivedState | None, str], ReceivedState] = {
    (None, "certificate"): _R.RECEIVED,
    (_R.RECEIVED, "cancelled"): _R.CANCELLED,
    (_R.RECEIVED, "replaced"): _R.REPLACED,
    (_R.RECEIVED, "used"): _R.USED,
    (_R.USED, "invalidated"): _R.INVALIDATED,
}
"""Importing customs. "certificate" is an EcoCertificate, "cancelled"/"replaced" an EcoStatusChange; "used"
and "invalidated" are customs' own decisions on a declaration and after a verification."""

_P = PreferenceState

PREFERENCE: Mapping[tuple[PreferenceState | None, str], PreferenceState] = {
    (None, "checks hold"): _P.ACCEPTED,
    (None, "checks fail"): _P.REFUSED,
    (_P.ACCEPTED, "verification requested"): _P.ACCEPTED,
    (_P.ACCEPTED, "verification requested, preference suspended"): _P.SUSPENDED,
    (_P.ACCEPTED, "origin confirmed"): _P.ACCEPTED,
    (_P.SUSPENDED, "origin confirmed"): _P.ACCEPTED,
    (_P.ACCEPTED, "origin not confirmed"): _P.WITHDRAWN,
    (_P.SUSPENDED, "origin not confirmed"): _P.WITHDRAWN,
    # No answer by the due date: a suspended preference is withdrawn (FTA practice: no reply, no
    # preference); one that was not suspended stands, and the overdue request stays visible.
    (_P.ACCEPTED, "no answer"): _P.ACCEPTED,
    (_P.SUSPENDED, "no answer"): _P.WITHDRAWN,
}
"""A declaration at the importing customs. "origin not confirmed" stands for every answer other than
CONFIRMED (ORIGIN_NOT_CONFIRMED, NOT_AUTHENTIC, NO_RECORD)."""

_V = VerificationState

VERIFICATION: Mapping[tuple[VerificationState | None, str], VerificationState] = {
    (None, "request"): _V.REQUESTED,
    (_V.REQUESTED, "answer"): _V.ANSWERED,
    (_V.REQUESTED, "due date passed"): _V.OVERDUE,
    (_V.OVERDUE, "answer"): _V.ANSWERED_LATE,
}

VERIFICATION_TIMERS: Mapping[VerificationState, str] = {_V.REQUESTED: "due date passed"}
"""States whose due date, once passed, fires the trigger named here (see `tick`)."""

INQUIRY: Mapping[tuple[VerificationState | None, str], VerificationState] = {
    (None, "request"): _V.REQUESTED,
    (_V.REQUESTED, "answer"): _V.ANSWERED,
}
"""The issuing authority's side of a verification request: the deadline is the requesting customs' to watch."""

REFUSALS: Mapping[tuple[Enum, str], str] = {
    (_I.USED, "cancel"): "ECO-CANCEL-USED",
    (_I.INVALIDATED, "cancel"): "ECO-CANCEL-USED",
    (_R.USED, "cancelled"): "ECO-CANCEL-USED",
    (_R.INVALIDATED, "cancelled"): "ECO-CANCEL-USED",
    (_I.USED, "replace"): "ECO-REPLACE-USED",
    (_I.INVALIDATED, "replace"): "ECO-REPLACE-USED",
    (_R.USED, "replaced"): "ECO-REPLACE-USED",
    (_R.RECEIVED, "certificate"): "ECO-DUPLICATE-VERSION",
    (_I.CANCELLED, "cancel"): "ECO-NOT-CURRENT",
    (_I.REPLACED, "cancel"): "ECO-NOT-CURRENT",
    (_I.CANCELLED, "replace"): "ECO-NOT-CURRENT",
    (_I.REPLACED, "replace"): "ECO-NOT-CURRENT",
}
"""Moves refused on purpose, and the rule code each refusal names: a certificate is cancelled (or
amended) only while it has not been used; a version is received once; only the current version of a
certificate can be cancelled or replaced."""

S = TypeVar("S", bound=Enum)


def next_state(
    table: Mapping[tuple[S | None, str], S], current: S | None, trigger: str, *, what: str, path: str
) -> S:
    """The state `trigger` moves a record to, or the ProtocolError that refuses it (raised, never applied).

    `what` names the record (certificate number and version, declaration, request) and `path` the place
    in the refused message (or step) for the error.
    """
    target = table.get((current, trigger))
    if target is not None:
        return target
    if current is None:
        raise ProtocolError(f"{trigger}: {what} is not known here", path=path, rule="ECO-UNKNOWN")
    rule = REFUSALS.get((current, trigger), "ECO-SEQUENCE")
    raise ProtocolError(f"{trigger} is not allowed: {what} is {current.value}", path=path, rule=rule)
