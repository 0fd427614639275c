"""One message of a run as the page shows it: the XML, and badges for its signature and its validation.

Both checks are the real ones (`exchange.intake.unseal`, as `caravan verify` makes it, against the run's
CA at the moment the hub accepted the message; `exchange.validation.validate`), made again when the page
asks, so a file altered after the run shows a broken signature rather than the run's old verdict. The
envelope beside the document (`NNNN-....envelope.xml`) is what is verified: its signature and, where the
family's standard puts one there, the document's own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from exchange.clock import utc
from exchange.envelope import ENVELOPE_SUFFIX
from exchange.errors import CaravanError, InputError
from exchange.intake import unseal
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.signing import carries_signature, verify_document
from exchange.validation import detect, validate

__all__ = ["Badge", "DocumentView", "inspect_document"]

@dataclass(frozen=True)
class Badge:
    state: str  # good, warn, bad
    text: str
    detail: str = ""


@dataclass(frozen=True)
class DocumentView:
    file: str
    family: str
    code: str
    xml: str
    signature: Badge
    validation: Badge

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect_document(run_dir: Path, file: str, accepted_at: str) -> DocumentView:
    """The message `file` (as events.jsonl names it, `messages/NNNN-....xml`) with both checks made."""
    path = (run_dir / file).resolve()
    if path.parent != (run_dir / "messages").resolve() or not path.is_file():
        raise InputError(f"{file}: no such message in {run_dir}", document=file)
    data = path.read_bytes()
    root = parse_document(data)
    try:
        kind = detect(root)
        family, code = kind.family, kind.code
    except CaravanError:
        family, code = "unknown", root.tag
    return DocumentView(file, family, code, data.decode("utf-8", errors="replace"),
                        _signature(run_dir, path, data, carries_signature(root), accepted_at),
                        _validation(root))


_UNSIGNED = Badge("warn", "unsigned", "no XML signature: the hub knew the sender by its TLS client certificate")


def _signature(run_dir: Path, path: Path, data: bytes, enveloped: bool, accepted_at: str) -> Badge:
    envelope = path.with_name(path.name.removesuffix(".xml") + ENVELOPE_SUFFIX)
    if not enveloped and not envelope.is_file():
        return _UNSIGNED
    anchor = run_dir / "pki" / "ca.pem"
    if not anchor.is_file():
        return Badge("warn", "signature not checked", f"no trust anchor at {anchor}")
    try:  # an events.jsonl edited by hand may give none: the page still shows the document, and says so
        at = utc(datetime.fromisoformat(accepted_at.replace("Z", "+00:00")))
    except ValueError:
        return Badge("warn", "signature not checked", f"the run's entry gives no time it was accepted "
                     f"({accepted_at!r}), so the certificates' validity cannot be judged")
    trust = TrustStore.from_file(anchor)
    try:
        if envelope.is_file():
            verified = unseal(envelope.read_bytes(), trust, at).verified
        else:
            verified = verify_document(data, trust, at=at)
    except CaravanError as exc:
        return Badge("bad", f"signature fails [{exc.rule}]", exc.message)
    if verified is None:
        return _UNSIGNED
    where = "" if enveloped else " (in the envelope)"
    return Badge("good", "signature valid", f"signed by {verified.signer_id}{where}; chain to the scenario CA holds "
                 f"at {at:%Y-%m-%d %H:%M} UTC")


def _validation(root: Any) -> Badge:
    try:
        issues = validate(root)
    except CaravanError as exc:
        return Badge("bad", "not validated", exc.message)
    severe = [issue for issue in issues if issue.level == "SEVERE"]
    schema = [issue for issue in severe if issue.area == "Schema"]
    listed = "; ".join(str(issue) for issue in severe[:5])
    if schema:  # as `caravan validate` decides: only the schema makes a document invalid
        return Badge("bad", "schema-invalid", listed)
    if severe:
        return Badge("warn", f"schema-valid, {len(severe)} rule finding(s)", listed)
    return Badge("good", "schema-valid", "the family's XSD and business rules hold")
