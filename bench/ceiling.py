"""The one-core ceiling: how many messages per second caravan's own crypto and validation allow.

Every message a run exchanges travels in an envelope its sender signs and then, at the hub and again at
the recipient node, has its envelope verified and its document schema-validated. The ceiling unit is
"sign + verify + validate, twice" on a real CC015C envelope from the same run, with the run's own keys:
`Envelope.signed`, `exchange.intake.unseal` and `exchange.validation.validate`, one after another on one
core.
The three parts are timed separately too, so other units can be worked out from the same figures.

Each part is timed in CPU time (`time.process_time`): on a machine shared with other work, wall time
measures the neighbours as much as caravan. The wall-clock unit is kept beside it for comparison.

Even CPU time moves with the host: on this project's idle virtual machine, six measurements within half a
minute gave 0.35 to 0.72 ms per signature and 0.77 to 1.00 ms per verification (bench/README.md, session 8).
So the parts are timed in `ROUNDS` interleaved rounds, each part once per round, and each figure is the
median of its rounds: every part sees the same stretch of the host's drift, and one slow or fast second
does not set the ceiling a run of minutes is measured against.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange.envelope import Envelope
from exchange.intake import unseal
from exchange.pki import ScenarioPKI, TrustStore
from exchange.validation import validate

__all__ = ["ROUNDS", "Ceiling", "measure_ceiling"]

ROUNDS = 5
"""Interleaved rounds per measurement: each part is timed for `seconds / ROUNDS` in each."""


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
    """Time each part on the CC015C in `cc015c_envelope` (an envelope file of a run), re-signed as `signer`, for
    `seconds` in all, in `ROUNDS` interleaved rounds; each figure is the median of its rounds."""
    trust = TrustStore.from_file(pki / "ca.pem")
    credentials = ScenarioPKI.load(pki).credentials(signer)
    envelope = Envelope.from_xml(cc015c_envelope.read_bytes())
    signed = envelope.signed(credentials)
    document = unseal(signed, trust, at=at).root

    def unit() -> None:
        for _ in range(2):
            validate(unseal(envelope.signed(credentials), trust, at=at).root)

    parts: dict[str, tuple[Callable[[], object], Callable[[], float]]] = {
        "sign_ms": (lambda: envelope.signed(credentials), time.process_time),
        "verify_ms": (lambda: unseal(signed, trust, at=at), time.process_time),
        "validate_ms": (lambda: validate(document), time.process_time),
        "unit_wall_ms": (unit, time.perf_counter),
    }
    rounds: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(ROUNDS):
        for name, (call, clock) in parts.items():
            rounds[name].append(_per_call_ms(call, seconds / ROUNDS, clock))
    medians = {name: statistics.median(timings) for name, timings in rounds.items()}
    return Ceiling(document_bytes=len(envelope.document), **medians)


def _per_call_ms(call: Callable[[], object], seconds: float, clock: Callable[[], float]) -> float:
    """Mean milliseconds per call on `clock` over at least `seconds` and 20 calls, after one warm-up call."""
    call()
    calls, started = 0, clock()
    while (elapsed := clock() - started) < seconds or calls < 20:
        call()
        calls += 1
    return 1000.0 * elapsed / calls
