"""Where a certificate stands, on either side of the exchange, as one explicit transition table.

The exporting NPPO's register starts a certificate at Issued, the importing NPPO's at Received; from
there the same four things can happen to it, whoever records them: it is withdrawn (status 40, same
number), replaced (a new certificate whose ADRPN names it), accepted or rejected by the importing NPPO.
A pair missing from the table is a step the NPPO refuses (ProtocolError), e.g. deciding twice, or
replacing a certificate that was accepted.
"""

from __future__ import annotations

from enum import Enum

from exchange.errors import ProtocolError

__all__ = ["TRANSITIONS", "CertificateState", "Receipt", "Transition", "advance"]


class CertificateState(str, Enum):
    ISSUED = "Issued"  # exporting side: sent, no decision known
    RECEIVED = "Received"  # importing side: delivered, waiting for the import decision
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    WITHDRAWN = "Withdrawn"
    REPLACED = "Replaced"


class Transition(str, Enum):
    WITHDRAW = "withdraw"
    REPLACE = "replace"
    ACCEPT = "accept"
    REJECT = "reject"


class Receipt(str, Enum):
    """How the importing NPPO acknowledged a delivery, named as the IPPC Hub's tracking states."""

    DELIVERED = "Delivered"
    DELIVERED_WITH_WARNINGS = "DeliveredWithWarnings"
    NOT_READABLE = "DeliveredNotReadable"


_OPEN = (CertificateState.ISSUED, CertificateState.RECEIVED)
TRANSITIONS: dict[tuple[CertificateState, Transition], CertificateState] = {
    **{(state, Transition.WITHDRAW): CertificateState.WITHDRAWN for state in _OPEN},
    **{(state, Transition.REPLACE): CertificateState.REPLACED for state in _OPEN},
    **{(state, Transition.ACCEPT): CertificateState.ACCEPTED for state in _OPEN},
    **{(state, Transition.REJECT): CertificateState.REJECTED for state in _OPEN},
    # A rejected certificate is typically replaced (corrected) or withdrawn.
    (CertificateState.REJECTED, Transition.WITHDRAW): CertificateState.WITHDRAWN,
    (CertificateState.REJECTED, Transition.REPLACE): CertificateState.REPLACED,
    # A certificate issued in error may be withdrawn even after the goods were accepted.
    (CertificateState.ACCEPTED, Transition.WITHDRAW): CertificateState.WITHDRAWN,
}


def advance(state: CertificateState, transition: Transition, number: str) -> CertificateState:
    """The state after `transition`, or ProtocolError naming the certificate and why not."""
    after = TRANSITIONS.get((state, transition))
    if after is None:
        raise ProtocolError(f"certificate {number} is {state.value}; it cannot be {_PAST[transition]} now",
                            document="SPSCertificate", rule="out-of-sequence")
    return after


_PAST = {Transition.WITHDRAW: "withdrawn", Transition.REPLACE: "replaced", Transition.ACCEPT: "accepted",
         Transition.REJECT: "rejected"}
