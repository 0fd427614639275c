"""The one-core ceiling: how many messages per second caravan's own crypto and validation allow.

Every message a run exchanges travels in an envelope its sender signs and then, at the hub and again at
the recipient node, has its envelope verified and its document schema-validated. The ceiling unit is
"sign + verify + validate, twice" on a real CC015C envelope from the same run, with the run's own keys:
`Envelope.signed`, `exchange.intake.unseal` and `exchange.validation.validate`, one after another on one
core.
The three parts are timed separately too, so other units can be worked out from the same figures.

Each part is timed in CPU time (`time.process_time`): on a machine shared with other work, wall time
measures the neighbours as much as caravan. The wall-clock unit is kept beside it for comparison.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange.envelope import Envelope
from exchange.intake import unseal
from exchange.pki import ScenarioPKI, TrustStore
from exchange.validation import validate

__all__ = ["Ceiling", "measure_ceiling"]


@dataclass(frozen=True)
class Ceiling:
    document_bytes: int
    sign_ms: float  # CPU milliseconds per call
    verify_ms: float
    validate_ms: float
    unit_wall_ms: float  # the whole unit once, in wall-clock milliseconds

    @property
    def unit_ms(self) -> float:
        """Sign + verify + validate, twice, in CPU milliseconds."""
        return 2 * (self.sign_ms + self.verify_ms + self.validate_ms)

    @property
    def messages_per_second(self) -> float:
        """Messages per CPU second of one core."""
        return 1000.0 / self.unit_ms


def measure_ceiling(cc015c_envelope: Path, pki: Path, signer: str, at: datetime, *, seconds: float = 2.0) -> Ceiling:
    """Time each part on the CC015C in `cc015c_envelope` (an envelope file of a run), re-signed as `signer`."""
    trust = TrustStore.from_file(pki / "ca.pem")
    credentials = ScenarioPKI.load(pki).credentials(signer)
    envelope = Envelope.from_xml(cc015c_envelope.read_bytes())
    signed = envelope.signed(credentials)
    document = unseal(signed, trust, at=at).root

    def unit() -> None:
        for _ in range(2):
            validate(unseal(envelope.signed(credentials), trust, at=at).root)

    return Ceiling(
        document_bytes=len(envelope.document),
        sign_ms=_per_call_ms(lambda: envelope.signed(credentials), seconds, time.process_time),
        verify_ms=_per_call_ms(lambda: unseal(signed, trust, at=at), seconds, time.process_time),
        validate_ms=_per_call_ms(lambda: validate(document), seconds, time.process_time),
        unit_wall_ms=_per_call_ms(unit, seconds, time.perf_counter),
    )


def _per_call_ms(call: Callable[[], object], seconds: float, clock: Callable[[], float]) -> float:
    """Mean milliseconds per call on `clock` over at least `seconds` and 20 calls, after one warm-up call."""
    call()
    calls, started = 0, clock()
    while (elapsed := clock() - started) < seconds or calls < 20:
        call()
        calls += 1
    return 1000.0 * elapsed / calls
