"""Every domain error caravan raises, in one place.

The hierarchy::

    CaravanError
    ├── DocumentError            a document could not be read at all (not XML, hostile, too large)
    ├── ValidationFailed         schema or business-rule violations, each an `Issue`
    ├── TrustError               signature, certificate chain or identity does not hold
    ├── ProtocolError            a message the receiver's state machine cannot take
    │   ├── UnknownMovement      NCTS functional error 90 (unknown MRN)
    │   └── OutOfSequence        NCTS functional error 92 (message out of sequence)
    ├── DuplicateMessage         NCTS functional error 26 (duplicate message identification)
    ├── TransportError           the peer could not be reached or answered badly
    ├── ResourceBusy             a port or a store that another process holds
    ├── InputError               a file or option given to a command cannot be used
    ├── StoreError               a database this version of caravan cannot open
    └── ScenarioError            a scenario file that cannot be run

Each error renders to a machine-readable dict (`as_dict`) so that HTTP answers, CLI output and the
event log name the document, the place and the rule in the same words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "CaravanError",
    "DocumentError",
    "DuplicateMessage",
    "InputError",
    "Issue",
    "NotSupported",
    "OutOfSequence",
    "ProtocolError",
    "ResourceBusy",
    "ScenarioError",
    "StoreError",
    "TransportError",
    "TrustError",
    "UnknownMovement",
    "ValidationFailed",
]


@dataclass(frozen=True)
class Issue:
    """One finding about one document: where it is, which rule, how bad.

    `area` follows the IPPC Hub's validation areas ("Schema", "MandatoryElements", "Mapping") and adds
    "Rule" for business rules; `rule` is the identifier the standard uses (an NCTS rule such as R0003, an
    XSD facet, an NCTS functional error code).
    """

    area: str
    path: str
    message: str
    rule: str = ""
    level: str = "SEVERE"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.level} {self.area}{rule} at {self.path}: {self.message}"


class CaravanError(Exception):
    """Base of every error that caravan raises on purpose."""

    code = "caravan-error"

    def __init__(self, message: str, *, document: str = "", path: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.document = document
        self.path = path
        self.rule = rule

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        for key in ("document", "path", "rule"):
            value = getattr(self, key)
            if value:
                body[key] = value
        return body


class DocumentError(CaravanError):
    """The bytes are not a document caravan will read (malformed, DTD, too large, too deep)."""

    code = "document-unreadable"


class ValidationFailed(CaravanError):
    """A document broke its schema or its business rules; `issues` lists every finding."""

    code = "validation-failed"

    def __init__(self, document: str, issues: list[Issue]) -> None:
        first = issues[0] if issues else None
        summary = str(first) if first else "invalid"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(
            f"{document}: {summary}{more}",
            document=document,
            path=first.path if first else "",
            rule=first.rule if first else "",
        )
        self.issues = issues

    def as_dict(self) -> dict[str, Any]:
        body = super().as_dict()
        body["issues"] = [issue.as_dict() for issue in self.issues]
        return body


class TrustError(CaravanError):
    """A signature, certificate chain or sender identity that does not hold."""

    code = "trust-failed"


class ProtocolError(CaravanError):
    """A message that the receiving party's state machine cannot accept."""

    code = "protocol-error"


class UnknownMovement(ProtocolError):
    """NCTS functional error 90: the MRN is not known to the receiver."""

    code = "unknown-mrn"


class OutOfSequence(ProtocolError):
    """NCTS functional error 92: the receiver's state does not allow this message."""

    code = "out-of-sequence"


class DuplicateMessage(CaravanError):
    """NCTS functional error 26: a message identification seen before with other content."""

    code = "duplicate-message"


class NotSupported(CaravanError):
    """A valid message that the receiver does not process (yet): refused whole, nothing changed or sent."""

    code = "not-supported"


class TransportError(CaravanError):
    """The peer could not be reached, or answered with something that is not a receipt."""

    code = "transport-failed"


class ResourceBusy(CaravanError):
    """Something a component needs for itself is held by another process: its port, its store.

    Raised before the component has touched anything, so that starting a second copy by mistake leaves
    the first one and its data as they were.
    """

    code = "resource-busy"


class InputError(CaravanError):
    """A file or option given to a command cannot be used: missing, empty, not text, the wrong kind of file.

    `document` names the file (or the option), so that the one line a command prints says which input
    is wrong and why.
    """

    code = "input-invalid"


class StoreError(CaravanError):
    """A database caravan will not open: not a database, damaged, or written in a form this version does not read."""

    code = "store-unreadable"


class ScenarioError(CaravanError):
    """A scenario file that cannot be loaded or run as written; `findings` holds each problem when it was checked."""

    code = "scenario-invalid"

    def __init__(self, message: str, *, document: str = "", path: str = "", rule: str = "",
                 findings: tuple[Any, ...] = ()) -> None:
        super().__init__(message, document=document, path=path, rule=rule)
        self.findings = findings

    def as_dict(self) -> dict[str, Any]:
        body = super().as_dict()
        if self.findings:
            body["findings"] = [finding.as_dict() for finding in self.findings]
        return body
