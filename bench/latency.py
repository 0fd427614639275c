"""Hub latency at half of peak load: p50 and p99 of the time the hub takes to accept an envelope.

    .venv/bin/python -m bench.latency [--seconds 20] [--concurrency 8] [--out out/bench]

1. It prepares the pilot (`caravan prepare`) and starts `caravan hub` as its own process, as a
   deployment would, with mutual TLS, its SQLite store in WAL mode with synchronous=FULL.
2. It makes distinct, signed CC015C envelopes from Uzbekistan: the CC015C of a one-movement run
   (bench/movements.py) with a fresh message identification each, re-signed with the prepared
   scenario's uz key (the hub refuses a message id it has seen with other content).
3. Peak: `--concurrency` submitters post envelopes back to back for `--seconds`; the hub's
   acceptance rate is the peak load.
4. Half of peak: envelopes are posted on a fixed schedule at half that rate (open loop: a slow answer
   does not delay the next submission) for `--seconds`, and the time from each POST to its 202
   answer is the latency. It prints p50, p99 and max and writes OUT/latency.json.

What is measured is the hub's intake: envelope schema, signature and certificate chain, binding,
content schema, commit, answer. The recipient node is not started, so the hub's pushes to it fail
fast and back off (exchange/client.py): the push path does not take CPU from the intake in between.
The submitter runs in this process and competes for the same two cores; on a shared machine the
figures include the neighbours' load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
from lxml import etree

from bench.movements import write_movements_scenario
from bench.shutdown import start_alone
from exchange.client import ENVELOPE_CONTENT_TYPE
from exchange.envelope import ENVELOPE_SUFFIX, Envelope
from exchange.intake import unseal
from exchange.pki import ScenarioPKI, TrustStore
from exchange.tls import TlsIdentity
from exchange.validation import detect

__all__ = ["Latency", "main"]

ROOT = Path(__file__).resolve().parent.parent
SENDER = "uz"
HUB_TIME = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)  # the pilot's start: a prepared hub's clock
SAMPLE_TIME = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # when bench/movements.py declares


@dataclass(frozen=True)
class Latency:
    peak_per_s: float  # envelopes accepted per second with back-to-back submitters
    offered_per_s: float  # half of the peak
    accepted: int
    refused: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def _envelopes(cc015c: Path, run_pki: Path, pki: Path) -> Iterator[bytes]:
    """Endless distinct CC015C envelopes from uz, each signed (the envelope, as a node signs it) with the
    prepared scenario's key."""
    trust = TrustStore.from_file(run_pki / "ca.pem")
    content = unseal(cc015c.read_bytes(), trust, at=SAMPLE_TIME).root
    kind = detect(content)
    credentials = ScenarioPKI.load(pki).credentials(SENDER)
    identification = content.find(kind.message_id_path[0])
    serial = 0
    while True:
        serial += 1
        message_id = f"BENCH{serial:09d}"
        identification.text = message_id
        document = etree.tostring(content, xml_declaration=True, encoding="UTF-8")
        yield Envelope(message_id, None, SENDER, SENDER, kind.code, HUB_TIME, document).signed(credentials)


def _sample_cc015c(scratch: Path) -> tuple[Path, Path]:
    """A CC015C and the PKI that signed it, from a one-movement run."""
    scenario = write_movements_scenario(1, scratch)
    run = scratch / "sample-run"
    subprocess.run([sys.executable, "-m", "exchange.cli", "run", str(scenario), "--out", str(run)],
                   check=True, capture_output=True, timeout=300, cwd=ROOT)
    return next((run / "messages").glob(f"*-CC015C-*{ENVELOPE_SUFFIX}")), run / "pki"


@contextlib.contextmanager
def _hub(directory: Path) -> Iterator[str]:
    """`caravan hub` of the prepared pilot, as a process, until the block ends; yields its URL."""
    process, url = start_alone("hub", directory)
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[bool, float]:
    started = time.perf_counter()
    async with session.post(url, data=body, headers={"Content-Type": ENVELOPE_CONTENT_TYPE}) as response:
        await response.read()
        return 200 <= response.status < 300, time.perf_counter() - started


async def _measure(url: str, envelopes: Iterator[bytes], pki: Path, seconds: float, concurrency: int) -> Latency:
    connector = aiohttp.TCPConnector(ssl=TlsIdentity.in_pki(pki, SENDER).client_context(), limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        target = f"{url}/envelopes"
        for _ in range(3):  # warm up: connections, the hub's first verification
            await _post(session, target, next(envelopes))
        queue = iter([next(envelopes) for _ in range(int(seconds * 150))])  # signed before the clock runs
        accepted = 0
        stop = time.perf_counter() + seconds

        async def submitter() -> None:
            nonlocal accepted
            while time.perf_counter() < stop and (body := next(queue, None)) is not None:
                ok, _ = await _post(session, target, body)
                accepted += ok

        started = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(concurrency)))
        peak = accepted / (time.perf_counter() - started)
        offered = peak / 2
        count = max(20, int(offered * seconds))
        paced = [next(envelopes) for _ in range(count)]
        began = time.perf_counter()

        async def scheduled(index: int, body: bytes) -> tuple[bool, float]:
            await asyncio.sleep(max(0.0, began + index / offered - time.perf_counter()))
            return await _post(session, target, body)

        results = await asyncio.gather(*(scheduled(index, body) for index, body in enumerate(paced)))
    times = [1000 * took for ok, took in results if ok]
    return Latency(peak, offered, len(times), len(results) - len(times), statistics.median(times),
                   statistics.quantiles(times, n=100, method="inclusive")[98], max(times))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each phase runs")
    parser.add_argument("--concurrency", type=int, default=8, help="back-to-back submitters for the peak")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caravan-latency-") as scratch:
        cc015c, run_pki = _sample_cc015c(Path(scratch))
        prepared = Path(scratch) / "prepared"
        with _hub(prepared) as url:
            latency = asyncio.run(_measure(url, _envelopes(cc015c, run_pki, prepared / "pki"),
                                           prepared / "pki", args.seconds, args.concurrency))
    print(f"hub intake: peak {latency.peak_per_s:.1f} envelopes/s ({args.concurrency} back-to-back submitters); "
          f"at half of it ({latency.offered_per_s:.1f}/s, {latency.accepted} accepted, {latency.refused} refused): "
          f"p50 {latency.p50_ms:.1f} ms, p99 {latency.p99_ms:.1f} ms, max {latency.max_ms:.1f} ms")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latency.json").write_text(json.dumps(asdict(latency), indent=2), encoding="utf-8")
    return 0 if latency.refused == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
