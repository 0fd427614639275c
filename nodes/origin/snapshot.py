"""What a node's `GET /state` shows of its e-CO agencies, for expectations and for people.

Certificates are listed by their scenario key (C1) when they have one, so that a scenario's
`expect.values` reads `eco/received/C1/state`; declarations by number, verification requests by id:

    eco:
      issued:        {C1: {number, authority, version, state, versions: {"1": Replaced, "2": Used}, used_by}}
      received:      {C1: {number, authority, version, state, versions: {...}, used_by}}
      declarations:  {AZ26IM0000101: {certificate, number, version, state, decision,
                                      checks: {integrity: {status, code, path}, status: {...}, issuer_identity: {...}}}}
      verifications: {VR-AZ-0001: {certificate, declaration, reason, due, suspended, state, result, findings}}
      inquiries:     {VR-AZ-0001: {certificate, reason, due, state, result}}
      trust_list:    [{agreement, country, authority, name, signer}]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nodes.origin.ledger import (
    DeclarationRecord,
    IssuedRecord,
    OriginState,
    ReceivedRecord,
    VerificationRecord,
)
from nodes.origin.trust import TrustList

__all__ = ["snapshot"]

KeyOf = Callable[[str], str]


def _certificates(records: Mapping[str, IssuedRecord | ReceivedRecord], key_of: KeyOf) -> dict[str, Any]:
    """One entry per certificate number, describing its latest version and the state of every version."""
    view: dict[str, Any] = {}
    for record in sorted(records.values(), key=lambda r: (r.certificate.number, r.certificate.version)):
        certificate = record.certificate
        entry = view.setdefault(key_of(certificate.number), {"number": certificate.number, "versions": {}})
        entry["versions"][str(certificate.version)] = record.state.value
        entry.update(
            authority=certificate.authority.id,
            form=certificate.form,
            version=certificate.version,
            state=record.state.value,
            used_by=record.used_by,
        )
    return view


def _declaration(record: DeclarationRecord, key_of: KeyOf) -> dict[str, Any]:
    return {
        "certificate": key_of(record.certificate.number),
        "number": record.certificate.number,
        "version": record.certificate.version,
        "state": record.state.value,
        "decision": record.decision.value,
        "checks": {
            check.name.value.lower(): {"status": check.status.value, "code": check.code, "path": check.path,
                                       "detail": check.detail}
            for check in record.checks
        },
    }


def _request(record: VerificationRecord, key_of: KeyOf) -> dict[str, Any]:
    request = record.request
    return {
        "certificate": key_of(request.certificate.number),
        "version": request.certificate.version,
        "declaration": request.declaration,
        "reason": request.reason.value,
        "due": request.due.isoformat(),
        "suspended": request.suspended,
        "state": record.state.value,
        "result": None if record.result is None else record.result.value,
        "findings": record.findings,
    }


def snapshot(state: OriginState, key_of: KeyOf, trust: TrustList) -> dict[str, Any]:
    return {
        "issued": _certificates(state.issued, key_of),
        "received": _certificates(state.received, key_of),
        "declarations": {number: _declaration(record, key_of) for number, record in state.declarations.items()},
        "verifications": {rid: _request(record, key_of) for rid, record in state.requests.items()},
        "inquiries": {rid: _request(record, key_of) for rid, record in state.inquiries.items()},
        "trust_list": trust.as_rows(),
    }
