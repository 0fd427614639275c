"""The `caravan` command.

    caravan [--debug] run SCENARIO [--out DIR] [--speed N] [--view PORT] [--wide] [--plain-http]
    caravan [--debug] run SCENARIO --attach DIR [--out DIR] [--wait SECONDS] [--external-restarts]
    caravan [--debug] view RUN_DIR [--port PORT] [--host ADDRESS]
    caravan [--debug] check SCENARIO...
    caravan [--debug] figures RUN_DIR [--out DIR]
    caravan [--debug] validate FILE...
    caravan [--debug] verify FILE[.envelope.xml] --ca CA.pem [--at TIME] [--status-from DIR] [--trust-list FILE]
    caravan [--debug] prepare SCENARIO --out DIR [--base-port PORT] [--hosts loopback|compose] [--plain-http]
                      [--external NODE=INBOX_URL]...
    caravan [--debug] conform SCENARIO... --prepared DIR --report OUT [--wait SECONDS] [--answer-wait SECONDS]
    caravan [--debug] hub --config FILE
    caravan [--debug] node --config FILE
    caravan [--debug] health --config FILE [--timeout SECONDS]

Exit codes (README, "Exit codes"):

    0   everything asked for holds
    1   the documents or expectations do not hold: an expectation fails, a document is invalid, a signature
        or certificate does not verify, an e-CO check given its source is not VALID
    2   bad input or usage: a missing, empty, binary or wrong-kind file, a bad option value, a config for
        the other kind of component, a scenario that cannot be run
    3   an environment problem: a port in use, a store another process holds, a component out of reach
    70  a fault in caravan itself; `--debug` shows where
    130 stopped by Ctrl-C while a run plays; `caravan run` first prints the step and virtual time where it
        stopped (`run --view` serves the page after the run until Ctrl-C, then exits with the run's code)
    141 the reader of its output went away (`| head`): it stops quietly, as a shell reports SIGPIPE

One error path: every failure ends here as one line on stderr, `caravan: ...`, naming the file, the place
and the rule where it has them (a message of several lines, such as a scenario's findings, is printed
as it is). Which code a domain error gives is the `EXIT_CODES` table. No command prints a Python
traceback unless `--debug` asks for it.

Handlers import the hub, node and document code when they need it: `caravan hub` and `caravan node`
bind their port before that import, so a port in use is reported at once.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from exchange import eventloop
from exchange.clock import utc
from exchange.errors import (
    CaravanError,
    DocumentError,
    DuplicateMessage,
    InputError,
    ProtocolError,
    ResourceBusy,
    ScenarioError,
    TransportError,
    TrustError,
    ValidationFailed,
)

if TYPE_CHECKING:
    from lxml import etree

    from exchange.pki import TrustStore
    from exchange.signing import VerifiedDocument

__all__ = ["EXIT_CODES", "error_lines", "exit_code", "main"]

OK, DOES_NOT_HOLD, BAD_INPUT, ENVIRONMENT, INTERNAL = 0, 1, 2, 3, 70
INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C (128 + SIGINT)
PIPE_CLOSED = 141  # the shell's code for a command whose reader went away (128 + SIGPIPE): `caravan check | head`
PREPARE_BASE_PORT = 8700  # below Linux's default ephemeral range (32768-60999): no outgoing connection takes it

EXIT_CODES: Mapping[type[CaravanError], int] = {
    CaravanError: BAD_INPUT,
    InputError: BAD_INPUT,
    ScenarioError: BAD_INPUT,
    DocumentError: BAD_INPUT,
    ValidationFailed: DOES_NOT_HOLD,
    TrustError: DOES_NOT_HOLD,
    ProtocolError: DOES_NOT_HOLD,
    DuplicateMessage: DOES_NOT_HOLD,
    ResourceBusy: ENVIRONMENT,
    TransportError: ENVIRONMENT,
}
"""The exit code of each domain error that reaches the top: the nearest class in its MRO decides."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help printed its text
        return stop.code if isinstance(stop.code, int) else OK
    except CaravanError as exc:  # a usage error, from _Parser.error
        return _fail(exc, debug=False)
    try:
        return int(args.handler(args))
    except CaravanError as exc:
        return _fail(exc, debug=args.debug)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # the reader has what it wanted; nothing is wrong, and nobody is left to tell
        _silence_stdout()
        return PIPE_CLOSED
    except OSError as exc:  # what inputs are checked for is InputError by now: this is the machine's
        where = f"{exc.filename}: " if exc.filename else ""
        _say([f"caravan: {where}{exc.strerror or exc}"], debug=args.debug)
        return ENVIRONMENT
    except Exception as exc:  # a bug: it still ends in one line, not a traceback
        _say([f"caravan: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"],
             debug=args.debug)
        return INTERNAL


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's flush at exit does not meet the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def exit_code(error: CaravanError) -> int:
    return next(EXIT_CODES[kind] for kind in type(error).__mro__ if kind in EXIT_CODES)


def error_lines(error: CaravanError) -> list[str]:
    """`caravan: ` and the message, with the file, place and rule it does not already name."""
    lines = error.message.splitlines() or [error.code]
    first = lines[0]
    if error.document and error.document not in error.message:
        first = f"{error.document}: {first}"
    if error.path and error.path not in error.message:
        first += f" (at {error.path})"
    if error.rule and error.rule not in error.message:
        first += f" [{error.rule}]"
    return [f"caravan: {first}", *lines[1:]]


def _fail(error: CaravanError, *, debug: bool) -> int:
    _say(error_lines(error), debug=debug)
    return exit_code(error)


def _say(lines: list[str], *, debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    for line in lines:
        print(line, file=sys.stderr)


# -- the parser -----------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors take the one error path: one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message}; see `{self.prog} --help`")


def _moment(text: str) -> datetime:
    """`--at`: an ISO-8601 time (a zone-less one is UTC), or `now`."""
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time (2026-04-01T10:00:00Z) or 'now'") from None
    try:
        return utc(moment)
    except ValueError as exc:  # outside the calendar in UTC
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


MAX_SECONDS = 86400.0
"""The longest wait an option may ask for, a day: `health --timeout inf` (or 1e308) overflowed the socket's
deadline, an internal error, and a longer wait is a typo, not a plan."""


def _seconds(text: str) -> float:
    """`--wait`, `--timeout`: seconds above 0, at most a day."""
    value = _positive(text)
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} is more than a day ({MAX_SECONDS:.0f} seconds)")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port number (1-65535)")
    return int(text)


def _listen_port(text: str) -> int:
    """A port to listen on; 0 takes any free one, told on the ready line (a caller never guesses a free port)."""
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port number (1-65535, or 0 for any free one)")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="caravan", description="Digital-trade document exchange simulator.")
    parser.add_argument("--debug", action="store_true", help="print the Python traceback of an error")
    # `--debug` after the command too; SUPPRESS keeps a subcommand from resetting what was given before it
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, parents=[common])

    run = command("run", "run a scenario: hub and nodes on loopback, timeline, expectations")
    run.add_argument("scenario", type=Path)
    run.add_argument("--out", type=Path, default=None, help="where messages/, pki/, db/ and events.jsonl go "
                     "(default: a new temporary directory)")
    run.add_argument("--speed", type=_positive, default=None, help="N virtual seconds per real second (demos)")
    run.add_argument("--attach", type=Path, default=None, help="drive components started from `prepare` configs")
    run.add_argument("--wait", type=_seconds, default=60.0, metavar="SECONDS",
                     help="how long to wait for a component to answer or settle (default 60)")
    run.add_argument("--plain-http", action="store_true", help="no mutual TLS between components (demos only)")
    run.add_argument("--external-restarts", action="store_true",
                     help="with --attach: a restart step waits up to --wait seconds for the component to be "
                          "restarted from outside (docker-compose restart hub)")
    run.add_argument("--view", type=_listen_port, default=None, metavar="PORT",
                     help="serve the trainers' view of the run live at http://127.0.0.1:PORT/ while it plays "
                          "(0: any free port, told on the `live view:` line)")
    run.add_argument("--wide", action="store_true",
                     help="print the timeline's lines in full (default: cut to 120 columns)")
    run.set_defaults(handler=_run)

    view = command("view", "replay a finished run in the browser at http://127.0.0.1:PORT/")
    view.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the --out directory of a `caravan run`")
    view.add_argument("--port", type=_listen_port, default=8080,
                      help="default 8080; 0: any free port, told on the `caravan view:` line")
    view.add_argument("--host", default="127.0.0.1",
                      help="the address to listen on (default 127.0.0.1; 0.0.0.0 in a container, docker-compose.yml)")
    view.set_defaults(handler=_view)

    check = command("check", "check scenarios against the scenario language; run nothing")
    check.add_argument("scenarios", type=Path, nargs="+")
    check.set_defaults(handler=_check)

    figures = command("figures", "corridor figures of a run: time at offices and borders, end to end (tables, PNG)")
    figures.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the --out directory of a `caravan run`")
    figures.add_argument("--out", type=Path, default=None, help="where the CSV, Markdown and PNG files go "
                         "(default RUN_DIR/figures)")
    figures.set_defaults(handler=_figures)

    validate_cmd = command("validate", "detect each document's type and validate it; 1 only if a schema fails")
    validate_cmd.add_argument("files", type=Path, nargs="+")
    validate_cmd.set_defaults(handler=_validate)

    verify = command("verify", "check a signed envelope (or a document signed inside) and its certificate chain")
    verify.add_argument("file", type=Path)
    verify.add_argument("--ca", type=Path, required=True, help="trust anchor (the scenario's pki/ca.pem)")
    verify.add_argument("--at", type=_moment, default=None,
                        help="check validity at this ISO time, or 'now' (default: when it was prepared)")
    verify.add_argument("--status-from", type=Path, default=None,
                        help="where the document's status is read (e-CO: a run's messages/ directory)")
    verify.add_argument("--trust-list", type=Path, default=None,
                        help="which issuers are trusted (e-CO: a scenario file, its nodes' eco sections)")
    verify.set_defaults(handler=_verify)

    prepare = command("prepare", "write PKI and per-component configs for separate processes")
    prepare.add_argument("scenario", type=Path)
    prepare.add_argument("--out", type=Path, required=True)
    prepare.add_argument("--base-port", type=_port, default=PREPARE_BASE_PORT,
                         help=f"the hub's port; each node's follows (default {PREPARE_BASE_PORT}; best outside the "
                              "kernel's ephemeral range, /proc/sys/net/ipv4/ip_local_port_range)")
    prepare.add_argument("--hosts", choices=["loopback", "compose"], default="loopback",
                         help="loopback: every component on 127.0.0.1 (default); compose: each listens on 0.0.0.0 "
                              "and is reached by its own name (hub, uz, ...), as docker-compose.yml names them")
    prepare.add_argument("--plain-http", action="store_true", help="no mutual TLS between components (demos only)")
    prepare.add_argument("--external", action="append", default=[], metavar="NODE=INBOX_URL",
                         help="NODE is a system under test at INBOX_URL: credentials issued, pushed to there, "
                              "never started (repeatable; DIR/NODE-README says what to use)")
    prepare.set_defaults(handler=_prepare)

    conform = command("conform", "judge systems under test (prepare --external) against scenarios; JUnit, HTML, "
                                 "JSON reports")
    conform.add_argument("scenarios", type=Path, nargs="+")
    conform.add_argument("--prepared", type=Path, required=True, help="the directory `prepare --external` wrote")
    conform.add_argument("--report", type=Path, required=True, help="where junit.xml, report.html, report.json go")
    conform.add_argument("--wait", type=_seconds, default=20.0, metavar="SECONDS",
                         help="how long a step may take to settle; a push the system under test leaves "
                              "unanswered holds every step this long (default 20)")
    conform.add_argument("--answer-wait", type=_seconds, default=3.0, metavar="SECONDS",
                         help="how long a system without caravan's control API is given to answer after a step "
                              "that concerns it (default 3)")
    conform.set_defaults(handler=_conform)

    hub = command("hub", "start the exchange hub")
    hub.add_argument("--config", type=Path, required=True)
    hub.set_defaults(handler=_hub)

    node = command("node", "start one country node")
    node.add_argument("--config", type=Path, required=True)
    node.set_defaults(handler=_node)

    health = command("health", "ask a started hub or node whether it serves (container health checks)")
    health.add_argument("--config", type=Path, required=True, help="the component's config, as it was started")
    health.add_argument("--timeout", type=_seconds, default=5.0, metavar="SECONDS")
    health.set_defaults(handler=_health)
    return parser


# -- inputs ---------------------------------------------------------------------------------------------------


def _output_directory(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{path}: is a file, not a directory for the output", document=str(path)) from None
    except OSError as exc:  # permission denied, a read-only file system, a path through a file
        raise InputError(f"{path}: cannot be made the directory for the output: {exc.strerror or exc}",
                         document=str(path)) from None
    return path


def _directory(path: Path | None, option: str) -> Path | None:
    if path is not None and not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        raise InputError(f"{option} {path}: {problem}", document=str(path))
    return path


def _file(path: Path | None, option: str) -> Path | None:
    if path is not None and not path.is_file():
        problem = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise InputError(f"{option} {path}: {problem}", document=str(path))
    return path


def _read_document(path: Path) -> tuple[bytes, etree._Element]:
    """A document file's bytes and parsed root; every failure names the file."""
    from exchange.inputs import read_input
    from exchange.safexml import parse_document

    data = read_input(path, "XML document")
    try:
        return data, parse_document(data)
    except DocumentError as exc:
        raise _in_file(exc, path) from None


def _in_file(error: DocumentError, path: Path) -> DocumentError:
    """The same refusal, naming the file: parsing and detection know bytes and elements, not where they came from."""
    return DocumentError(f"{path}: {error.message}", document=str(path), path=error.path, rule=error.rule)


# -- commands -------------------------------------------------------------------------------------------------


def _figures(args: argparse.Namespace) -> int:
    from nodes.customs.figures import corridor_figures, read_run
    from nodes.customs.figures_report import figure_files, terminal_text, write_figures

    figures = corridor_figures(*read_run(args.run_dir))
    out = _output_directory(args.out or args.run_dir / "figures")
    for path in figure_files(out):  # before anything is written: a figures directory is written whole or not at all
        if path.is_dir():
            raise InputError(f"{path}: is a directory; the figures write a file of that name in {out}",
                             document=str(path))
    print(terminal_text(figures))
    written = write_figures(figures, out)
    print(f"\nWritten: {', '.join(str(path) for path in written)}")
    return OK


def _run(args: argparse.Namespace) -> int:
    from exchange.runner import Driver
    from nodes.families import describe_document
    from nodes.language import load_scenario
    from nodes.launch import attached_deployment, local_deployment

    if args.external_restarts and args.attach is None:
        raise InputError("--external-restarts is for components started elsewhere: give --attach DIR too")
    _freeze_at_exit()
    scenario = load_scenario(args.scenario)
    out = _output_directory(args.out or Path(tempfile.mkdtemp(prefix=f"caravan-{scenario.name}-")))
    feed = None
    if args.view is not None:
        from exchange.listener import bind_listener
        from exchange.view import RunFeed

        feed = RunFeed(out)
        view_listener = bind_listener("127.0.0.1", args.view, "--view")  # first: a port in use stops the run unplayed
    options = {"speed": args.speed, "printer": sys.stdout, "settle_timeout": args.wait, "wide": args.wide,
               "listener": feed.append if feed is not None else None}

    async def drive() -> bool:
        if args.attach is not None:
            from nodes.launch import OutsideRestarts

            restarts = OutsideRestarts(args.wait, partial(print, flush=True)) if args.external_restarts else None
            driver = Driver(scenario, attached_deployment(args.attach, restarts), out, describe_document, **options)
            return (await driver.run()).ok
        async with local_deployment(scenario, out, tls=not args.plain_http) as deployment:
            driver = Driver(scenario, deployment, out, describe_document, **options)
            return (await driver.run()).ok

    outcome: list[bool] = []  # the run's result, once it has one

    async def drive_in_view() -> bool:
        """Serve the page while the run plays, then as a replay until Ctrl-C (a class may still be looking)."""
        from exchange.view import serve_view

        assert feed is not None
        run = asyncio.ensure_future(drive())
        run.add_done_callback(lambda _: feed.finish())

        view_url: list[str] = []  # the page's URL, with the port bound (any free one for --view 0)

        def announce(url: str) -> None:
            view_url.append(url)
            print(f"live view: {url}", flush=True)

        async def until_stopped() -> None:
            outcome.append(await run)  # a Ctrl-C while the run plays cancels the run too
            print(f"the run is over; the view stays at {view_url[0]} until Ctrl-C", flush=True)
            await asyncio.Event().wait()

        await serve_view(feed, view_listener, announce, until=until_stopped())
        return outcome[0]

    try:
        return OK if eventloop.run(drive_in_view() if feed is not None else drive()) else DOES_NOT_HOLD
    except KeyboardInterrupt:
        if not outcome:  # stopped while the run played
            raise
        return OK if outcome[0] else DOES_NOT_HOLD


def _freeze_at_exit() -> None:
    """A run's process ends with the run: Python's shutdown then runs the garbage collector over everything the
    hub, the nodes and the driver loaded (about 80,000 objects) several times, 0.35 CPU s after a run here,
    to release nothing the exit does not release anyway. Frozen out of those passes (`gc.freeze`, as
    `_stopped` does for a component), they cost nothing. It happens at exit (`atexit`), not when the run
    returns: a caller that goes on, as the test suite does with `main`, keeps collecting as before."""
    atexit.register(gc.freeze)


def _view(args: argparse.Namespace) -> int:
    """Serve a finished run until Ctrl-C, which is how a server is stopped: exit 0."""
    from exchange.listener import bind_listener
    from exchange.view import RunFeed, serve_view

    feed = RunFeed.replay(_directory(args.run_dir, "RUN_DIR") or args.run_dir)
    listener = bind_listener(args.host, args.port, "--port")
    try:
        eventloop.run(serve_view(feed, listener, lambda url: print(f"caravan view: {url} (Ctrl-C stops)", flush=True)))
    except KeyboardInterrupt:
        pass
    return OK


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
    return BAD_INPUT if failed else OK


def _validate(args: argparse.Namespace) -> int:
    """Every file is looked at; the exit code is the worst: 2 for a file that is no document, 1 for a schema-invalid
    one. Business-rule findings are printed but do not fail: a national system's P5 message that its official
    schema accepts is valid here even where caravan's rules would have more to say (issue 9 part 4)."""
    from exchange.validation import detect, validate

    worst = OK
    for path in args.files:
        try:
            _, root = _read_document(path)
            try:
                kind = detect(root)
            except DocumentError as exc:
                raise _in_file(exc, path) from None
        except CaravanError as exc:
            _say(error_lines(exc), debug=args.debug)
            worst = max(worst, exit_code(exc))
            continue
        issues = validate(root)
        schema = [issue for issue in issues if issue.area == "Schema" and issue.level == "SEVERE"]
        findings = sum(issue.level == "SEVERE" for issue in issues) - len(schema)
        verdict = "INVALID" if schema else f"valid, {findings} business-rule finding(s)" if findings else "valid"
        print(f"{path}: {verdict} ({kind.family} {kind.code})")
        for issue in issues:
            print(f"  {issue}")
        worst = max(worst, DOES_NOT_HOLD if schema else OK)
    return worst


def _verify(args: argparse.Namespace) -> int:
    """An envelope file (`messages/NNNN-...envelope.xml`) is verified as the hub and the node verify it: its
    signature, which covers every byte of the document, and the document's own where its family has one. A
    bare document that carries no signature of its own is not verified: its signature is in its envelope."""
    from exchange.pki import TrustStore
    from exchange.signing import carries_signature
    from nodes.families import verify_document_further
    from nodes.verdict import VerifyRequest

    data, root = _read_document(args.file)
    trust = TrustStore.from_file(args.ca)
    status_from = _directory(args.status_from, "--status-from")
    trust_list = _file(args.trust_list, "--trust-list")
    document = _carried_document(root, args.file)
    at = args.at or _prepared_at(document, args.file)
    verified, failure = None, None
    try:
        verified = _verified(data, root, document, trust, at, args.file)
    except (TrustError, ProtocolError) as exc:
        failure = exc
    # the family's checks read the other sources; one that is unusable stops us before anything is printed
    further = verify_document_further(VerifyRequest(document, trust, at, verified, failure, args.at,
                                                    status_from, trust_list))
    if failure is not None:
        rule = f" [{failure.rule}]" if failure.rule else ""
        print(f"{args.file}: NOT VERIFIED{rule}: {failure.message}")
    if verified is not None:
        subject = verified.certificate.subject.rfc4514_string()
        what = (f"the envelope and the {_code_of(document)} it carries" if carries_signature(root)
                else f"the {_code_of(document)} inside" if document is not root else "the document")
        print(f"{args.file}: signature valid over {what}; signed by {verified.signer_id} ({subject}); "
              f"chain to {args.ca} holds at {at:%Y-%m-%dT%H:%M:%SZ}")
    for line in further.lines:
        print(line)
    return DOES_NOT_HOLD if failure is not None else further.exit_code


def _carried_document(root: etree._Element, path: Path) -> etree._Element:
    """The document an envelope carries, as it claims (not yet trusted); a bare document is itself."""
    from lxml import etree

    from exchange.envelope import ENVELOPE_NS, Envelope
    from exchange.safexml import parse_document

    if etree.QName(root).namespace != ENVELOPE_NS:
        return root
    try:
        return parse_document(Envelope.from_element(root).document)
    except DocumentError as exc:
        raise _in_file(exc, path) from None


def _verified(data: bytes, root: etree._Element, document: etree._Element, trust: TrustStore, at: datetime,
              path: Path) -> VerifiedDocument:
    """The signature that vouches for the file's document; TrustError (or ProtocolError) saying why none does."""
    from exchange.envelope import ENVELOPE_SUFFIX
    from exchange.intake import unseal
    from exchange.signing import carries_signature, verify_document

    if document is not root:
        unsealed = unseal(data, trust, at)
        if unsealed.verified is None:
            raise TrustError(f"{path}: the envelope is not signed (the hub made it for a certificate its IPPC face "
                             "took unsigned)", document=unsealed.kind.code, path="/Envelope", rule="signature-missing")
        unsealed.envelope.check_binding(unsealed.root)
        return unsealed.verified
    if carries_signature(root):
        return verify_document(data, trust, at=at)
    envelope = path.with_name(path.name.removesuffix(".xml") + ENVELOPE_SUFFIX)
    where = str(envelope) if envelope.is_file() else "its envelope (messages/NNNN-...envelope.xml)"
    raise TrustError(f"{path} is a bare {_code_of(root)} document with no signature inside: its signature "
                     f"travels in its envelope; verify {where}", document=_code_of(root), path="/",
                     rule="signature-missing")


def _code_of(root: etree._Element) -> str:
    """A document's type for a message, or its root's name when caravan does not know it."""
    from lxml import etree

    from exchange.validation import detect

    try:
        return detect(root).code
    except DocumentError:
        return etree.QName(root).localname


_PREPARED = (
    "{*}preparationDateAndTime",  # CATS
    "{*}SentDateTime",  # e-CO header
    "{*}SPSExchangedDocument/{*}IssueDateTime/{*}DateTimeString",  # ePhyto
)


def _prepared_at(root: etree._Element, path: Path) -> datetime:
    """Certificates are checked when the document says it was prepared, unless `--at` says otherwise.

    Scenario documents live in virtual time; checking them against today's date would fail a pilot
    dated in the future and pass one whose certificates expired before it ran. A document that states
    no readable time (an altered one, say) is checked now, and the note says so.
    """
    for element in (root.find(f".//{where}") for where in _PREPARED):
        if element is None:
            continue
        text = (element.text or "").strip()
        try:
            return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            where = root.getroottree().getpath(element)
            print(f"note: {path}: the preparation time {text!r} at {where} is not an ISO-8601 time; "
                  "checking at the current time", file=sys.stderr)
            return datetime.now(timezone.utc)
    print(f"note: {path}: the document states no preparation time; checking at the current time", file=sys.stderr)
    return datetime.now(timezone.utc)


def _prepare(args: argparse.Namespace) -> int:
    from nodes.external import parse_external
    from nodes.language import load_scenario
    from nodes.launch import PLACEMENTS, prepare

    scenario = load_scenario(args.scenario)
    last_port = args.base_port + len(scenario.nodes)
    if last_port > 65535:  # written now, refused only when the last nodes start (listen.port is 65536 ...)
        raise InputError(f"--base-port {args.base_port}: the hub and {len(scenario.nodes)} nodes take ports "
                         f"{args.base_port}-{last_port}, past 65535", path="--base-port")
    external = parse_external(args.external, list(scenario.nodes))
    for node in external.values():
        if node.tls == args.plain_http:
            raise InputError(f"--external {node.node}={node.inbox_url}: the hub speaks "
                             f"{'plain HTTP' if args.plain_http else 'mutual TLS'}; use an "
                             f"{'http' if args.plain_http else 'https'}:// inbox URL", path="--external")
    out = _output_directory(args.out)
    for path in prepare(scenario, out, args.base_port, tls=not args.plain_http, placement=PLACEMENTS[args.hosts],
                        external=external):
        print(path)
    _note_ephemeral_ports(range(args.base_port, args.base_port + 1 + len(scenario.nodes)))
    return OK


def _note_ephemeral_ports(ports: range) -> None:
    """Say so when prepared ports lie in the kernel's ephemeral range: they are written now and bound only when
    each component starts, and until then any process's outgoing connection may take one (exit 3 at start)."""
    from exchange.listener import ephemeral_ports

    ephemeral = ephemeral_ports()
    if ephemeral is None or not set(ports) & set(ephemeral):
        return
    print(f"note: ports {ports.start}-{ports.stop - 1} lie in this machine's ephemeral range {ephemeral.start}-"
          f"{ephemeral.stop - 1}, from which any process's outgoing connection may take one before its component "
          f"starts; a --base-port outside it (the default {PREPARE_BASE_PORT} is) avoids that", file=sys.stderr)


def _conform(args: argparse.Namespace) -> int:
    from nodes.conform import conform

    prepared = _directory(args.prepared, "--prepared")
    assert prepared is not None
    if not (prepared / "hub.yaml").is_file():
        raise InputError(f"--prepared {prepared}: holds no hub.yaml; write it with `caravan prepare SCENARIO --out "
                         f"{prepared} --external NODE=INBOX_URL`", document=str(prepared))
    verdict = conform(args.scenarios, prepared, _output_directory(args.report), wait=args.wait,
                      answer_wait=args.answer_wait, printer=sys.stdout)
    return OK if verdict.passed else DOES_NOT_HOLD


def _hub(args: argparse.Namespace) -> int:
    from exchange.listener import bind_listener, bound_port
    from nodes.configs import load_hub_config

    config = load_hub_config(args.config)
    listener = bind_listener(config.host, config.port)  # first: a port in use stops us before the store opens
    config = replace(config, port=bound_port(listener))  # `listen.port: 0` took any free port: say which
    from nodes.serving import serve_hub  # not nodes.launch: a hub loads none of the nodes' code

    eventloop.run(serve_hub(config, listener, partial(print, f"caravan hub listening on {config.url}", flush=True)))
    return _stopped()


def _node(args: argparse.Namespace) -> int:
    from exchange.listener import bind_listener, bound_port
    from nodes.configs import load_node_config

    config = load_node_config(args.config)
    listener = bind_listener(config.host, config.port)  # first: a port in use stops us before the store opens
    config = replace(config, port=bound_port(listener))  # `listen.port: 0` took any free port: say which
    from nodes.launch import serve_node

    announce = partial(print, f"caravan node {config.node} listening on {config.url}", flush=True)
    eventloop.run(serve_node(config, listener, announce))
    return _stopped()


def _stopped() -> int:
    """A component stopped cleanly (SIGTERM): its server and store are closed; let the process end at once.

    Python's own shutdown runs the garbage collector over everything the component loaded (schemas, code,
    about 100,000 objects) several times: 0.7 s here, most of a container's stop time. None of it holds
    anything to release, so it is frozen out of those passes (`gc.freeze`); the exit itself is unchanged.
    """
    gc.freeze()
    return OK


def _health(args: argparse.Namespace) -> int:
    """Exit 0 when the component of `--config` answers `/health` as itself; 3 when it does not answer."""
    from exchange.health import check_health
    from exchange.tls import HUB, TlsIdentity
    from nodes.configs import HubConfig, load_component_config

    config = load_component_config(args.config)
    party = HUB if isinstance(config, HubConfig) else config.node
    context = TlsIdentity.in_pki(config.pki, party).client_context() if config.tls else None
    try:
        health = check_health(config.url, context, timeout=args.timeout)
    except TransportError as exc:
        raise TransportError(exc.message, document=str(args.config)) from None
    if health.component != party:
        raise TransportError(f"{config.url} answers as {health.component!r}, not as {party!r}: "
                             f"another component has the address of {args.config}", document=str(args.config))
    print(f"{party} at {config.url}: serving (instance {health.instance})")
    return OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
