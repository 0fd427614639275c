"""A node that receives its ePhytos by pull: take what waits at the IPPC Hub face, hand it to the inbox,
and acknowledge the way the Hub expects.

Per waiting envelope: PULLSingleImportEnvelope, wrap the certificate as the caravan envelope the
node's intake takes (so it is verified exactly as a pushed one, unsigned ones under the node's policy), then
- the intake refused it (not XML, unknown document, bad signature, wrong sender, unsigned where the policy
  refuses them): AcknowledgeFailedEnvelopeReceipt → DeliveredNotReadable;
- taken, and `validate_phyto` has SEVERE or WARNING findings, or the intake warned (unsigned where the policy
  warns): AdvancedAcknowledgeEnvelopeReceipt with them → DeliveredWithWarnings (what Mattilsynet's client does);
- taken and clean: AcknowledgeEnvelopeReceipt → Delivered.
An envelope left unacknowledged (the node stopped half-way) stays pending and is pulled again next time;
the inbox absorbs the duplicate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exchange.errors import CaravanError, Issue
from exchange.ippc.bridge import caravan_envelope, content_bytes
from exchange.ippc.client import HubClient
from exchange.ippc.entities import TrackingInfo
from nodes.ephyto.validation import validate_phyto

__all__ = ["Pulled", "pull_ephytos"]


@dataclass(frozen=True)
class Pulled:
    number: str
    certificate_number: str
    outcome: TrackingInfo
    detail: str = ""
    signature: str = ""  # what the node's intake found: "signed", "unsigned" ("" when it refused the envelope)

    def as_event(self) -> dict[str, Any]:
        """In the shape of a node event, for the control API's answer and the timeline."""
        signature = f" ({self.signature})" if self.signature else ""
        return {"kind": "pulled", "agency": "ippc-hub", "reference": self.certificate_number,
                "detail": f"{self.number}: {self.outcome.value}{signature} {self.detail}".strip(),
                "data": {"hubDeliveryNumber": self.number, "HUBTrackingInfo": self.outcome.value,
                         "signature": self.signature}}


async def pull_ephytos(
    client: HubClient,
    receive: Callable[[bytes], Awaitable[Mapping[str, Any]]],
    now: Callable[[], datetime],
    *,
    country: str | None = None,
    validator: Callable[[bytes], list[Issue]] = validate_phyto,
) -> list[Pulled]:
    """Pull, deliver to `receive` (the node's inbox intake) and acknowledge everything waiting."""
    done = []
    for header in await client.import_headers(country):
        number = header.delivery_number or ""
        envelope = await client.pull(number)
        try:
            receipt = await receive(caravan_envelope(envelope.header, envelope.content or "", now()).to_xml())
        except CaravanError as error:
            await client.acknowledge_failed(number, error.message[:1000])
            done.append(Pulled(number, header.certificate_number, TrackingInfo.DELIVERED_NOT_READABLE, error.message))
            continue
        concerns = [str(issue) for issue in validator(content_bytes(envelope.content or "")) if issue.level != "INFO"]
        if receipt.get("HUBTrackingInfo") == TrackingInfo.DELIVERED_WITH_WARNINGS.value:
            concerns.insert(0, str(receipt.get("hubDeliveryErrorMessage", "")))
        signature = str(receipt.get("signature", ""))
        if concerns:
            summary = "; ".join(concerns[:5])[:1000]
            await client.acknowledge_with_warnings(number, summary)
            done.append(Pulled(number, header.certificate_number, TrackingInfo.DELIVERED_WITH_WARNINGS, summary,
                               signature))
        else:
            await client.acknowledge(number)
            done.append(Pulled(number, header.certificate_number, TrackingInfo.DELIVERED, signature=signature))
    return done
