"""Trust as the IPPC Hub has it: the TLS client certificate says who sends; the certificate's own XMLDSig is
optional, and checked when present.

1. The sending NPPO is the one whose client certificate the connection presented (`directory.identify`).
2. Content without a `ds:Signature` under its root is UNSIGNED: delivered, as most real ePhytos are.
3. Content with one is verified under caravan's signature profile (`exchange.signing`): chain to the
   scenario CA, revocation and validity in scenario time, digest and value; and its signer must be the
   sending NPPO. A signature that fails refuses the delivery (a TrustError naming the rule): a signed
   certificate is a claim, and a false claim is not forwarded.
4. Content that is not XML at all is NOT_A_CERTIFICATE: DeliverEnvelope queues what it is given and the
   importer acknowledges it as not readable.
"""

from __future__ import annotations

from datetime import datetime

from exchange.errors import DocumentError, TrustError
from exchange.ippc.entities import Signature
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.signing import verify_document

__all__ = ["SIGNATURE_NOTES", "check_signature"]

_DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"

SIGNATURE_NOTES = {
    Signature.SIGNED: "XMLDSig: signed, signature valid",
    Signature.UNSIGNED: "XMLDSig: unsigned (the sending NPPO was authenticated by its TLS client certificate)",
    Signature.NOT_A_CERTIFICATE: "XMLDSig: content is not an XML document",
}
"""How tracking states the signature (in `hubDeliveryErrorMessage`, the one free-text field of the header)."""


def check_signature(document: bytes, sender: str, trust: TrustStore, at: datetime, *, where: str) -> Signature:
    """The signature state of `document` sent by node `sender`; TrustError when a signature is there and fails.

    `where` names the document in errors (e.g. "Envelope/Content").
    """
    try:
        root = parse_document(document)
    except DocumentError:
        return Signature.NOT_A_CERTIFICATE
    if root.find(_DSIG) is None and next(root.iter(_DSIG), None) is None:
        return Signature.UNSIGNED
    try:
        verified = verify_document(document, trust, at)
    except TrustError as error:
        raise TrustError(f"the certificate is signed but its signature fails: {error.message}",
                         document=where, path=error.path or where, rule=error.rule) from None
    if verified.signer_id != sender:
        raise TrustError(f"the certificate is signed by {verified.signer_id!r}, not by the sending NPPO {sender!r}",
                         document=where, path=where, rule="signer-mismatch")
    return Signature.SIGNED
