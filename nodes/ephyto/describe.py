"""How an ePhyto reads in a timeline: certificate number, type/status, commodity, from → to, and whether it
carries its own XMLDSig (every message reaching the timeline passed the hub: a signed one was verified; an
unsigned one came through the IPPC Hub face, its sender authenticated by its TLS client certificate)."""

from __future__ import annotations

from lxml import etree

from exchange.runner import Description
from nodes.ephyto.codec import decode
from nodes.ephyto.model import ACCEPTED, REEXPORT, REJECTED, WITHDRAWN, Acknowledgement
from nodes.ephyto.nppo import commodity

__all__ = ["describe"]

_DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
_STATUS = {"70": "issued", WITHDRAWN: "withdrawn"}
_DECISIONS = {ACCEPTED: "accepted", "3": "conditionally accepted", REJECTED: "rejected"}


def describe(root: etree._Element) -> Description:
    document = decode(root)
    signature = "signed" if root.find(_DSIG) is not None else "unsigned"
    if isinstance(document, Acknowledgement):
        verdict = _DECISIONS.get(document.status_code or "", "answered")
        reasons = f": {'; '.join(document.reasons)}" if document.reasons else ""
        return Description("ePhyto import decision",
                           f"{document.certificate} {verdict} ({document.status_code}){reasons}; {signature}")
    kind = "re-export certificate" if document.type_code == REEXPORT else "phytosanitary certificate"
    status = _STATUS.get(document.status_code or "", "")
    route = " → ".join(country.id or "?" for country in (document.export_country, document.import_country)
                       if country is not None)
    replaces = f", replaces {document.replaces}" if document.replaces else ""
    exporter, importer = (f"NPPO.{country.id}" if country is not None and country.id else ""
                          for country in (document.export_country, document.import_country))
    return Description(
        f"ePhyto {kind}",
        f"{document.number} {document.type_code}/{document.status_code} {status}: {commodity(document)}, "
        f"{route}{replaces}; {signature}",
        exporter,
        importer,
    )
