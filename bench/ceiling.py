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
minute gave 0.35 to 0.72 ms per signature and 0.77 to 1.00 ms per verification (docs/bench-history.md, session 8),
and six whole units within a minute 2.82 to 5.22 ms (session 10). So the parts are timed in `ROUNDS`
interleaved rounds, each part once per round, and each figure is the median of its rounds: every part sees
the same stretch of the host's drift.

That is still two seconds against a run of minutes. So the ceiling is also *sampled while the run goes on*:
`python -m bench.ceiling` (`sample_ceiling`) is a process beside the run that times one short round every
few seconds, from the run's first CC015C to the run's end, holding the run still for each round. The run
spends its CPU across the host's drift of those minutes, and the rounds' mean rate spans the same minutes
(`mean_ceiling`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from exchange.envelope import Envelope
from exchange.errors import CaravanError
from exchange.intake import unseal
from exchange.pki import ScenarioPKI, TrustStore
from exchange.validation import validate

__all__ = ["CEILING_AT", "ROUNDS", "Ceiling", "Parts", "Round", "ceiling_parts", "document_bytes", "first_cc015c",
           "mean_ceiling", "measure_ceiling", "paused_s", "read_rounds", "sample_ceiling", "sampled_beside",
           "time_round", "timed_medians"]

CEILING_AT = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
"""When the bench scenarios declare their first movement: the instant the ceiling checks certificates at."""
ROOT = Path(__file__).resolve().parent.parent

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


Parts = dict[str, tuple[Callable[[], object], Callable[[], float]]]
"""Each figure of a `Ceiling` by name → (the call it times, the clock it is timed on)."""


def measure_ceiling(cc015c_envelope: Path, pki: Path, signer: str, at: datetime, *, seconds: float = 2.0) -> Ceiling:
    """Time each part on the CC015C in `cc015c_envelope` (an envelope file of a run), re-signed as `signer`, for
    `seconds` in all, in `ROUNDS` interleaved rounds; each figure is the median of its rounds."""
    medians = timed_medians(ceiling_parts(cc015c_envelope, pki, signer, at), seconds)
    return Ceiling(document_bytes=document_bytes(cc015c_envelope.read_bytes()), **medians)


def timed_medians(parts: Parts, seconds: float) -> dict[str, float]:
    """Each part timed for `seconds` in all, in `ROUNDS` rounds that interleave the parts: the median of each."""
    rounds = [time_round(parts, seconds / ROUNDS) for _ in range(ROUNDS)]
    return {name: statistics.median(timings[name] for timings in rounds) for name in parts}


def first_cc015c(messages: Path) -> tuple[Path, str] | None:
    """The first CC015C envelope file in a run's `messages/` and its sender (its name reads
    NNNN-CC015C-SENDER-to-RECIPIENT: eleven countries declare, not only uz); None before there is one."""
    found = min(messages.glob("*-CC015C-*.envelope.xml"), default=None)
    return None if found is None else (found, found.name.split("-")[2])


@contextmanager
def sampled_beside(messages: Path, pki: Path, out: Path, hold: Sequence[subprocess.Popen[bytes]],
                   log: IO[bytes]) -> Iterator[None]:
    """`python -m bench.ceiling` for the length of the block: rounds of the ceiling on the first CC015C of
    `messages` with the keys of `pki`, appended to `out`, the processes `hold` stopped for each.

    Enter it before anything waits for those processes: their pidfds are opened here, while none can have been
    reaped, and passed down, so the sampler can never stop a process that took a run's pid."""
    out.unlink(missing_ok=True)
    pidfds = [os.pidfd_open(process.pid) for process in hold]
    try:
        command = [sys.executable, "-m", "bench.ceiling", str(messages), str(pki), str(out),
                   "--at", CEILING_AT.isoformat(), "--hold", *map(str, pidfds)]
        sampler = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, pass_fds=tuple(pidfds))
        try:
            yield
        finally:
            sampler.terminate()  # SIGTERM (or a Ctrl-C): it ends its round, continues what it holds, and stops
            sampler.wait(timeout=60)
    finally:
        for pidfd in pidfds:
            os.close(pidfd)


@dataclass(frozen=True)
class Round:
    """One round of the ceiling sampled beside a run, and the wall time the run was held still for it."""

    ceiling: Ceiling
    paused_s: float


def sample_ceiling(messages: Path, pki: Path, at: datetime, out: Path, *, every: float, burst: float,
                   hold: Sequence[int], stop: threading.Event) -> None:
    """Until `stop` is set: rounds of the parts with `every` seconds of the run between them, each part timed
    for `burst / 3` CPU seconds (the wall unit for its 20 calls), appended to `out` as JSON lines (`Round`s).

    The processes `hold` (pidfds of the run's processes) are stopped (SIGSTOP) for each round and continued
    after it. Beside a running process the ceiling came out 15 and 20 % slower (medians of eight and of ten
    alternating pairs, the other core busy or idle): on this host the two cores are not independent. Held
    still, the run leaves the core as idle as it does between its own bursts, and it spends no CPU time
    while held; its wall time is counted without the pauses (`Round.paused_s`).

    Starts once `messages` holds a CC015C envelope that reads whole: the run writes its files as it goes.
    Ends, too, when a process held is gone."""
    ready = None
    while ready is None and not stop.wait(0.2):
        ready = _parts_when_written(messages, pki, at)
    if ready is None:
        return
    parts, size = ready
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while not stop.wait(every):
            began = time.perf_counter()
            try:
                with _held(hold):
                    ceiling = Ceiling(document_bytes=size, **time_round(parts, burst / 3))
            except ProcessLookupError:  # the run is over
                return
            line = json.dumps(asdict(Round(ceiling, time.perf_counter() - began))) + "\n"
            os.write(descriptor, line.encode())  # one write: a line is whole or absent
    finally:
        os.close(descriptor)


def paused_s(rounds: Sequence[Round]) -> float:
    """The wall time the run was held still for `rounds`: not the run's own."""
    return sum(each.paused_s for each in rounds)


def read_rounds(path: Path) -> tuple[Round, ...]:
    """The rounds `sample_ceiling` wrote to `path`; none if it wrote none (a run over before its first CC015C)."""
    if not path.exists():
        return ()
    rounds = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(Round(Ceiling(**line["ceiling"]), line["paused_s"]) for line in rounds)


@contextmanager
def _held(pidfds: Sequence[int]) -> Iterator[None]:
    """The processes stopped for the block, and continued after it whatever happens in it. Through pidfds: a
    pid may be taken by another process once the run's has been reaped; its pidfd never is."""
    stopped: list[int] = []
    try:
        for pidfd in pidfds:
            signal.pidfd_send_signal(pidfd, signal.SIGSTOP)
            stopped.append(pidfd)
        for pidfd in pidfds:
            _wait_stopped(pidfd)
        yield
    finally:
        for pidfd in stopped:
            with suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGCONT)


def _wait_stopped(pidfd: int) -> None:
    """Until the process is stopped: SIGSTOP is delivered, not obeyed, when `kill` returns."""
    pid = _pid_of(pidfd)
    for _ in range(1000):
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            raise ProcessLookupError(pid) from None
        if state in ("T", "Z", "X"):  # stopped, or exited
            return
        time.sleep(0.001)


def _pid_of(pidfd: int) -> int:
    """The pid a pidfd refers to, from /proc/self/fdinfo."""
    fdinfo = Path(f"/proc/self/fdinfo/{pidfd}").read_text(encoding="ascii")
    return int(next(line.split()[1] for line in fdinfo.splitlines() if line.startswith("Pid:")))


def mean_ceiling(rounds: Sequence[Round]) -> Ceiling:
    """The ceiling over rounds taken at even intervals of a run: the mean of their rates (messages per CPU
    second), so its unit is the harmonic mean of theirs.

    The run spends about one CPU second per second, and in each it exchanges messages at the host's speed of
    that second: its messages per CPU second are the mean of its rates over the seconds. The rounds' mean rate
    spans the same seconds. (A slow second weighs less than its unit says: the mean of the units, not of the
    rates, would put the ceiling too low, the run's share too high.) Each part is averaged with the same
    weights, each round's rate, so that the parts still add up to the unit."""
    weights = [1.0 / each.ceiling.unit_ms for each in rounds]
    total = sum(weights)
    weighted = list(zip(weights, rounds, strict=True))
    figures = {field.name: sum(weight * getattr(each.ceiling, field.name) for weight, each in weighted) / total
               for field in fields(Ceiling) if field.name != "document_bytes"}
    return Ceiling(document_bytes=rounds[0].ceiling.document_bytes, **figures)


def _parts_when_written(messages: Path, pki: Path, at: datetime) -> tuple[Parts, int] | None:
    """The parts on the run's first CC015C and its document's size; None while there is none, or while it is
    still being written (it does not read whole, or its signature does not verify yet)."""
    found = first_cc015c(messages)
    if found is None:
        return None
    cc015c, signer = found
    try:
        return ceiling_parts(cc015c, pki, signer, at), document_bytes(cc015c.read_bytes())
    except (OSError, CaravanError):
        return None


def ceiling_parts(cc015c_envelope: Path, pki: Path, signer: str, at: datetime) -> Parts:
    """The ceiling's parts on the CC015C in `cc015c_envelope`, re-signed as `signer` with the keys of `pki`."""
    trust = TrustStore.from_file(pki / "ca.pem")
    credentials = ScenarioPKI.load(pki).credentials(signer)
    envelope = Envelope.from_xml(cc015c_envelope.read_bytes())
    signed = envelope.signed(credentials)
    document = unseal(signed, trust, at=at).root

    def unit() -> None:
        for _ in range(2):
            validate(unseal(envelope.signed(credentials), trust, at=at).root)

    return {
        "sign_ms": (lambda: envelope.signed(credentials), time.process_time),
        "verify_ms": (lambda: unseal(signed, trust, at=at), time.process_time),
        "validate_ms": (lambda: validate(document), time.process_time),
        "unit_wall_ms": (unit, time.perf_counter),
    }


def time_round(parts: Parts, seconds: float) -> dict[str, float]:
    """Each part once, in order, for `seconds` each: milliseconds per call."""
    return {name: _per_call_ms(call, seconds, clock) for name, (call, clock) in parts.items()}


def document_bytes(envelope: bytes) -> int:
    """The size of the document an envelope carries."""
    return len(Envelope.from_xml(envelope).document)


def _per_call_ms(call: Callable[[], object], seconds: float, clock: Callable[[], float]) -> float:
    """Mean milliseconds per call on `clock` over at least `seconds` and 20 calls, after one warm-up call."""
    call()
    calls, started = 0, clock()
    while (elapsed := clock() - started) < seconds or calls < 20:
        call()
        calls += 1
    return 1000.0 * elapsed / calls


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description="Sample the one-core ceiling "
                                     "beside a run, from its first CC015C envelope until stopped (SIGTERM).")
    parser.add_argument("messages", type=Path, help="the run's messages/ directory")
    parser.add_argument("pki", type=Path, help="the run's pki/ directory")
    parser.add_argument("out", type=Path, help="the file the rounds are appended to, one JSON line each")
    parser.add_argument("--at", type=datetime.fromisoformat, required=True,
                        help="the instant the certificates are checked at (ISO 8601)")
    parser.add_argument("--every", type=float, default=3.0, help="seconds the run goes on between two rounds")
    parser.add_argument("--burst", type=float, default=0.3, help="CPU seconds of each round (the wall unit apart)")
    parser.add_argument("--hold", type=int, nargs="*", default=[], metavar="PIDFD",
                        help="pidfds (inherited) of the run's processes, stopped for each round")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for ending in (signal.SIGTERM, signal.SIGINT):  # the bench ends it; a Ctrl-C reaches the whole process group
        signal.signal(ending, lambda number, frame: stop.set())
    sample_ceiling(args.messages, args.pki, args.at, args.out, every=args.every, burst=args.burst, hold=args.hold,
                   stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
