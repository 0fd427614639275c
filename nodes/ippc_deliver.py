"""A national system that sends its ePhytos to the IPPC Hub face itself, over SOAP, as any Hub client does.

The scenario step `deliver_to_hub` takes a certificate file as the national system wrote it (any shape
a real NPPO sends: other prefixes, literal NULLs, no XMLDSig) and delivers it with DeliverEnvelope or
ValidateAndDeliverEnvelope, the header read from the document itself (ID, TypeCode, StatusCode), with
the node's TLS identity as the only proof of who sends it. Nothing here signs or rewrites the
certificate: it reaches the importer byte for byte, which is the point of sending it this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from exchange.errors import CaravanError, ScenarioError
from exchange.ippc.client import HubClient
from exchange.ippc.entities import EnvelopeHeader, Forwarding, HubEnvelope
from exchange.safexml import parse_document

__all__ = ["Delivered", "deliver_file"]


@dataclass(frozen=True)
class Delivered:
    header: EnvelopeHeader
    file: str

    def as_event(self) -> dict[str, Any]:
        """In the shape of a node event, for the control API's answer and the timeline."""
        header = self.header
        copies = ", ".join(f"{f.code} {f.delivery_number}" for f in header.forwardings)
        return {"kind": "delivered-to-hub", "agency": "ippc-hub", "reference": header.certificate_number,
                "detail": f"{header.delivery_number}: {header.certificate_number} {header.sender} → "
                          f"{header.recipient} {header.tracking.value if header.tracking else ''}"
                          + (f", copies {copies}" if copies else ""),
                "data": {"hubDeliveryNumber": header.delivery_number, "file": self.file,
                         "HUBTrackingInfo": header.tracking.value if header.tracking else None,
                         "hubDeliveryErrorMessage": header.error}}


def _stated(root: etree._Element, name: str) -> str:
    return str(root.xpath(f"string(*[local-name()='SPSExchangedDocument']/*[local-name()='{name}'])")).strip()


async def deliver_file(client: HubClient, path: Path, sender: str, recipient: str, *, validate: bool = False,
                       forward: tuple[str, ...] = ()) -> Delivered:
    """Deliver the certificate in `path` from `sender` to `recipient` (country codes) through the Hub face."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ScenarioError(f"deliver_to_hub: cannot read {path}: {error.strerror}", path="file") from error
    try:
        root = parse_document(content)
        kind, status = int(_stated(root, "TypeCode")), int(_stated(root, "StatusCode"))
    except (CaravanError, ValueError) as error:
        raise ScenarioError(f"deliver_to_hub: {path} is not a certificate with a numeric TypeCode and StatusCode "
                            f"({error})", path="file") from error
    header = EnvelopeHeader(sender, recipient, kind, status, _stated(root, "ID"),
                            forwardings=tuple(Forwarding(code) for code in forward))
    delivered = await client.deliver(HubEnvelope(header, content.decode("utf-8")), validate=validate)
    return Delivered(delivered, path.name)
