"""The floor under a message: what the parts every message must have cost on their own, against the ceiling.

    python -m bench.floor RUN_DIR [--seconds 10]      (RUN_DIR as bench.run leaves it: OUT/SCENARIO-NAME)

Issue 13's target, end-to-end messages per CPU second at half the one-core ceiling, leaves each message two
ceiling units of CPU (bench/ceiling.py). Part of that is spent before any of caravan's own logic runs, by what
the issue's own rules (real HTTP between nodes, mutual TLS, real signatures, durable storage) make every
message do:

- one signature, and two verifications and validations (at the hub and at the recipient): the unit less
  one signature, since the unit signs twice;
- two requests over mutual TLS, the sender's submit to the hub and the hub's push to the recipient, each
  carrying the envelope and answered with a JSON receipt: aiohttp's server and client on one loop of
  `exchange.eventloop`, with the components' own TLS contexts (`TlsIdentity`), the connection kept open as
  in a run;
- two durable commits, the hub's acceptance and the recipient's decision (which holds the answers it
  writes): `exchange.store.Database`, WAL with synchronous=FULL, one envelope row each;
- the driver's status request, at least one per step, at the run's own steps per message.

Each part is timed on the run's first CC015C with the run's keys, in CPU time of this process (the loop's
thread and this one), in interleaved rounds as the ceiling is, each figure the median of its rounds. What
is printed is the CPU a message would cost if nothing else ran, and so the highest share of the ceiling
any run of this traffic could reach: what caravan's own work (the desks, the records, the hub's and nodes'
bookkeeping, the driver's collecting) may cost for the target to hold is what is left of two units.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.ceiling import CEILING_AT, Ceiling, Parts, ceiling_parts, document_bytes, first_cc015c, timed_medians
from exchange.eventloop import new_loop
from exchange.store import Database
from exchange.tls import DRIVER, TlsIdentity
from exchange.web import json_response
from nodes.serving import serve_app

__all__ = ["Floor", "measure_floor", "measured_ms", "report"]

BATCH = 10
"""Requests or commits per timed call: the hand-over to the loop's thread is paid once for ten."""


@dataclass(frozen=True)
class Floor:
    """The parts' CPU milliseconds, and what they come to per message of a run with `steps_per_message`."""

    ceiling: Ceiling
    request_ms: float  # one mutual-TLS POST of the envelope and its JSON receipt, client and server
    status_ms: float  # one GET /status and its JSON reading, client and server
    commit_ms: float  # one durable commit of one envelope row
    steps_per_message: float

    @property
    def crypto_ms(self) -> float:
        """One signature, two verifications, two validations."""
        return self.ceiling.unit_ms - self.ceiling.sign_ms

    @property
    def message_ms(self) -> float:
        return self.crypto_ms + 2 * self.request_ms + 2 * self.commit_ms + self.steps_per_message * self.status_ms

    @property
    def highest_share(self) -> float:
        """The share of the ceiling a run reaches if a message costs its floor and nothing more."""
        return self.ceiling.unit_ms / self.message_ms

    @property
    def left_at_half_ms(self) -> float:
        """What all the rest of a message may cost for the run to reach half the ceiling."""
        return 2 * self.ceiling.unit_ms - self.message_ms


def measure_floor(run: Path, *, seconds: float = 10.0) -> Floor:
    """Time the parts on the first CC015C of the run directory `run`, with its keys, for `seconds` in all."""
    found = first_cc015c(run / "messages")
    if found is None:
        raise SystemExit(f"bench.floor: no CC015C envelope in {run / 'messages'}: give the directory of a run")
    cc015c, signer = found
    body = cc015c.read_bytes()
    with _wire(run / "pki", signer) as (call, post, status), tempfile.TemporaryDirectory() as scratch:
        database = call(Database.open(Path(scratch) / "floor.sqlite", [_TABLE]))
        try:
            parts: Parts = {
                **ceiling_parts(cc015c, run / "pki", signer, CEILING_AT),
                # CPU time of the whole process: the loop's thread, where these run, included
                "request_ms": (lambda: call(_times(lambda: post(body))), time.process_time),
                "status_ms": (lambda: call(_times(status)), time.process_time),
                "commit_ms": (lambda: call(_times(lambda: _commit(database, body))), time.process_time),
            }
            medians = timed_medians(parts, seconds / len(parts))
        finally:
            call(database.close())
    ceiling = Ceiling(document_bytes(body), *(medians[name] for name in _CEILING_FIGURES))
    return Floor(ceiling, medians["request_ms"] / BATCH, medians["status_ms"] / BATCH, medians["commit_ms"] / BATCH,
                 _steps_per_message(run))


_CEILING_FIGURES = ("sign_ms", "verify_ms", "validate_ms", "unit_wall_ms")
_TABLE = "CREATE TABLE IF NOT EXISTS envelopes (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"
_RECEIPT = {"deliveryId": 1, "messageId": "0" * 36, "sender": "uz", "recipient": "ge", "messageType": "CC015C",
            "state": "pending", "acceptedAt": "2026-03-02T08:00:00Z", "duplicate": False, "signature": "verified"}
_READING = {"quiet": True, "version": ["0" * 32, 1], "last_delivery": 1, "last_event": 0, "pushes": {"ge": 1}}


async def _times(one: Callable[[], Awaitable[object]]) -> None:
    for _ in range(BATCH):
        await one()


async def _commit(database: Database, body: bytes) -> None:
    async with database.transaction() as transaction:
        await transaction.execute("INSERT INTO envelopes (body) VALUES (?)", (body,))


Call = Callable[[Awaitable[Any]], Any]


@contextmanager
def _wire(pki: Path, client: str) -> Iterator[tuple[Call, Callable[[bytes], Awaitable[None]],
                                                    Callable[[], Awaitable[None]]]]:
    """A server with the hub's TLS identity and a client with `client`'s, on a loop in a thread of its own:
    (run a coroutine there and wait for it, POST an envelope, GET the status)."""
    loop = new_loop()
    thread = threading.Thread(target=loop.run_forever, name="floor-loop", daemon=True)
    thread.start()

    def call(coroutine: Awaitable[Any]) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, loop)  # type: ignore[arg-type]
        return future.result()

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    url = f"https://127.0.0.1:{listener.getsockname()[1]}"
    runner = call(serve_app(_application(), listener, TlsIdentity.in_pki(pki, "hub")))
    session = call(_session(TlsIdentity.in_pki(pki, client)))
    driver = call(_session(TlsIdentity.in_pki(pki, DRIVER)))

    async def post(body: bytes) -> None:
        async with session.post(f"{url}/submit", data=body) as response:
            json.loads(await response.read())

    async def status() -> None:
        async with driver.get(f"{url}/status?wait=10") as response:
            json.loads(await response.read())

    try:
        yield call, post, status
    finally:
        call(session.close())
        call(driver.close())
        call(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _session(identity: TlsIdentity) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=identity.client_context()))


def _application() -> web.Application:
    async def submit(request: web.Request) -> web.Response:
        await request.read()
        return json_response(_RECEIPT)

    async def status(request: web.Request) -> web.Response:
        return json_response(_READING)

    app = web.Application()
    app.router.add_post("/submit", submit)
    app.router.add_get("/status", status)
    return app


def _steps_per_message(run: Path) -> float:
    """The run's steps over its messages, from the driver's line of its events.jsonl."""
    for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event.get("kind") == "driver":
            return event["steps"] / event["messages"]
    raise SystemExit(f"bench.floor: {run / 'events.jsonl'} has no driver line: the run did not finish")


def report(floor: Floor, measured_ms: float | None = None) -> str:
    """The parts, the floor per message, the highest share, and what is left at half the ceiling."""
    ceiling = floor.ceiling
    lines = [
        f"One-core ceiling unit (sign + verify + validate a {ceiling.document_bytes:,}-byte CC015C, twice): "
        f"{ceiling.unit_ms:.2f} CPU ms; half the ceiling allows {2 * ceiling.unit_ms:.2f} ms per message",
        "",
        "| part, per message | CPU ms each | times | CPU ms |",
        "|---|---:|---:|---:|",
        f"| sign | {ceiling.sign_ms:.3f} | 1 | {ceiling.sign_ms:.3f} |",
        f"| verify | {ceiling.verify_ms:.3f} | 2 | {2 * ceiling.verify_ms:.3f} |",
        f"| validate | {ceiling.validate_ms:.3f} | 2 | {2 * ceiling.validate_ms:.3f} |",
        f"| mutual-TLS POST of the envelope, and its receipt | {floor.request_ms:.3f} | 2 "
        f"| {2 * floor.request_ms:.3f} |",
        f"| durable commit of the envelope | {floor.commit_ms:.3f} | 2 | {2 * floor.commit_ms:.3f} |",
        f"| driver's status request, one per step | {floor.status_ms:.3f} | {floor.steps_per_message:.2f} "
        f"| {floor.steps_per_message * floor.status_ms:.3f} |",
        f"| **floor** | | | **{floor.message_ms:.3f}** |",
        "",
        f"Highest share of the ceiling at the floor: {100 * floor.highest_share:.1f} %. Left for everything else "
        f"at half the ceiling: {floor.left_at_half_ms:.2f} ms per message.",
    ]
    if measured_ms is not None:
        lines.append(f"The run itself: {measured_ms:.2f} CPU ms per message, of which "
                     f"{measured_ms - floor.message_ms:.2f} ms above the floor.")
    return "\n".join(lines)


def measured_ms(run: Path) -> float | None:
    """The run's own CPU milliseconds per message, from the results.json `bench.run` wrote beside it; None for a
    run it did not make."""
    results = run.parent / "results.json"
    if not results.exists():
        return None
    for entry in json.loads(results.read_text(encoding="utf-8")).get("runs", []):
        if Path(entry["directory"]).resolve() == run.resolve():
            return 1000 * entry["cpu_s"] / entry["messages"]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run directory (messages/, pki/, events.jsonl), e.g. of bench.run")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the parts are timed in all")
    args = parser.parse_args(argv)
    print(report(measure_floor(args.run, seconds=args.seconds), measured_ms(args.run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
