"""The `caravan` command.

    caravan run SCENARIO [--out DIR] [--speed N] [--attach DIR] [--plain-http]
    caravan check SCENARIO...
    caravan validate FILE...
    caravan verify FILE --ca CA.pem [--at TIME] [--status-from DIR] [--trust-list FILE]
    caravan prepare SCENARIO --out DIR [--base-port PORT] [--plain-http]
    caravan hub --config FILE
    caravan node --config FILE

Exit codes: 0 success; 1 a document is invalid or an expectation does not hold; 2 a signature or
certificate does not hold, or the command could not run as asked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from exchange.clock import utc
from exchange.errors import CaravanError
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.signing import verify_document
from exchange.validation import detect, validate
from nodes.language import load_scenario

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CaravanError as exc:
        print(f"caravan: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caravan", description="Digital-trade document exchange simulator.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a scenario: hub and nodes on loopback, timeline, expectations")
    run.add_argument("scenario", type=Path)
    run.add_argument("--out", type=Path, default=None, help="where messages/, pki/ and events.jsonl go")
    run.add_argument("--speed", type=float, default=None, help="N virtual seconds per real second (demos)")
    run.add_argument("--attach", type=Path, default=None, help="drive components started from `prepare` configs")
    run.add_argument("--plain-http", action="store_true", help="no mutual TLS between components (demos only)")
    run.set_defaults(handler=_run)

    check = commands.add_parser("check", help="check scenarios against the scenario language; run nothing")
    check.add_argument("scenarios", type=Path, nargs="+")
    check.set_defaults(handler=_check)

    validate_cmd = commands.add_parser("validate", help="detect each document's type and validate it")
    validate_cmd.add_argument("files", type=Path, nargs="+")
    validate_cmd.set_defaults(handler=_validate)

    verify = commands.add_parser("verify", help="check a document's signature and certificate chain")
    verify.add_argument("file", type=Path)
    verify.add_argument("--ca", type=Path, required=True, help="trust anchor (the scenario's pki/ca.pem)")
    verify.add_argument("--at", default=None, help="check validity at this ISO time (default: when it was prepared)")
    verify.add_argument("--status-from", type=Path, default=None,
                        help="where the document's status is read (e-CO: a run's messages/ directory)")
    verify.add_argument("--trust-list", type=Path, default=None,
                        help="which issuers are trusted (e-CO: a scenario file, its nodes' eco sections)")
    verify.set_defaults(handler=_verify)

    prepare = commands.add_parser("prepare", help="write PKI and per-component configs for separate processes")
    prepare.add_argument("scenario", type=Path)
    prepare.add_argument("--out", type=Path, required=True)
    prepare.add_argument("--base-port", type=int, default=8700)
    prepare.add_argument("--plain-http", action="store_true", help="no mutual TLS between components (demos only)")
    prepare.set_defaults(handler=_prepare)

    hub = commands.add_parser("hub", help="start the exchange hub")
    hub.add_argument("--config", type=Path, required=True)
    hub.set_defaults(handler=_hub)

    node = commands.add_parser("node", help="start one country node")
    node.add_argument("--config", type=Path, required=True)
    node.set_defaults(handler=_node)
    return parser


def _run(args: argparse.Namespace) -> int:
    from exchange.runner import Driver
    from nodes.families import describe_document
    from nodes.launch import attached_deployment, local_deployment

    scenario = load_scenario(args.scenario)
    out = args.out or Path(tempfile.mkdtemp(prefix=f"caravan-{scenario.name}-"))
    out.mkdir(parents=True, exist_ok=True)

    async def drive() -> bool:
        if args.attach is not None:
            driver = Driver(scenario, attached_deployment(args.attach), out, describe_document,
                            speed=args.speed, printer=sys.stdout)
            return (await driver.run()).ok
        async with local_deployment(scenario, out, tls=not args.plain_http) as deployment:
            driver = Driver(scenario, deployment, out, describe_document, speed=args.speed, printer=sys.stdout)
            return (await driver.run()).ok

    return 0 if asyncio.run(drive()) else 1


def _check(args: argparse.Namespace) -> int:
    """Every finding of every file, each as `file:line: field: what`; exit 2 when there is any."""
    from nodes.language import check_scenario

    failed = 0
    for path in args.scenarios:
        findings = check_scenario(path)
        for finding in findings:
            print(finding)
        if findings:
            failed += 1
            print(f"{path}: {len(findings)} finding{'s' if len(findings) > 1 else ''}; nothing was run")
        else:
            print(f"{path}: valid")
    return 2 if failed else 0


def _validate(args: argparse.Namespace) -> int:
    invalid = 0
    for path in args.files:
        try:
            root = parse_document(path.read_bytes())
            kind = detect(root)
            issues = validate(root)
        except (CaravanError, OSError) as exc:
            print(f"{path}: unreadable: {getattr(exc, 'message', exc)}")
            invalid += 1
            continue
        severe = [issue for issue in issues if issue.level == "SEVERE"]
        verdict = "INVALID" if severe else "valid"
        print(f"{path}: {verdict} ({kind.family} {kind.code})")
        for issue in issues:
            print(f"  {issue}")
        invalid += bool(severe)
    return 1 if invalid else 0


def _verify(args: argparse.Namespace) -> int:
    from nodes.families import verify_document_further
    from nodes.verdict import VerifyRequest

    data = args.file.read_bytes()
    trust = TrustStore.from_file(args.ca)
    at = _when(args.at, data)
    verified, failure, code = None, None, 0
    try:
        verified = verify_document(data, trust, at=at)
    except CaravanError as exc:
        failure, code = exc, 2
        rule = f" [{exc.rule}]" if exc.rule else ""
        print(f"{args.file}: NOT VERIFIED{rule}: {exc.message}")
    if verified is not None:
        subject = verified.certificate.subject.rfc4514_string()
        print(f"{args.file}: signature valid; signed by {verified.signer_id} ({subject}); "
              f"chain to {args.ca} holds at {at:%Y-%m-%dT%H:%M:%SZ}")
    as_of = None if args.at is None else at
    further = verify_document_further(VerifyRequest(parse_document(data), trust, at, verified, failure, as_of,
                                                    args.status_from, args.trust_list))
    for line in further.lines:
        print(line)
    return max(code, further.exit_code)


def _when(option: str | None, data: bytes) -> datetime:
    """Certificates are checked when the document says it was prepared, unless told otherwise.

    Scenario documents live in virtual time; checking them against today's date would fail a pilot
    dated in the future and pass one whose certificates expired before it ran.
    """
    if option == "now":
        return datetime.now(timezone.utc)
    if option:
        return utc(datetime.fromisoformat(option.replace("Z", "+00:00")))
    root = parse_document(data)
    for element in root.iter("preparationDateAndTime", "{*}preparationDateAndTime", "{*}SentDateTime"):
        if element.text:
            return utc(datetime.fromisoformat(element.text.strip().replace("Z", "+00:00")))
    print("note: the document states no preparation time; checking at the current time", file=sys.stderr)
    return datetime.now(timezone.utc)


def _prepare(args: argparse.Namespace) -> int:
    from nodes.launch import prepare

    for path in prepare(load_scenario(args.scenario), args.out, args.base_port, tls=not args.plain_http):
        print(path)
    return 0


def _hub(args: argparse.Namespace) -> int:
    from nodes.launch import load_hub_config, serve_hub

    config = load_hub_config(args.config)
    print(f"caravan hub listening on {config.url}", flush=True)
    asyncio.run(serve_hub(config))
    return 0


def _node(args: argparse.Namespace) -> int:
    from nodes.launch import load_node_config, serve_node

    config = load_node_config(args.config)
    print(f"caravan node {config.node} listening on {config.url}", flush=True)
    asyncio.run(serve_node(config))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
