"""Every command fed missing, empty, binary and wrong-kind inputs: one line naming the file and the problem, the
documented exit code (README, "Exit codes"), and never a Python traceback unless `--debug` asks for one.

Most cases go through `exchange.cli.main` (the same code as the console script, quicker); one case per command
runs the installed `caravan` as a process, so that what a shell sees is proven too.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

import exchange.cli
from exchange.cli import main
from exchange.clock import VirtualClock
from exchange.hub import Hub
from exchange.pki import ScenarioPKI
from exchange.signing import sign_document
from nodes.origin.codec import encode
from nodes.origin.model import CertificateMessage
from tests.eco_samples import certificate, header
from tests.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent
ECO = ROOT / "scenarios" / "uzb-aze-eco.yaml"
CARAVAN = Path(sys.executable).with_name("caravan")
BINARY = bytes(range(256)) * 4  # every byte value: not UTF-8, not XML, not PEM


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared e-CO scenario (configs, PKI), a certificate signed under it, and bad files of every kind."""
    here = tmp_path_factory.mktemp("inputs")
    assert main(["prepare", str(ECO), "--out", str(here / "prep"), "--base-port", str(free_ports(4))]) == 0
    pki = ScenarioPKI.load(here / "prep" / "pki")
    (here / "cert.xml").write_bytes(sign_document(encode(CertificateMessage(header(), certificate())),
                                                  pki.credentials("uz")))
    (here / "empty.xml").write_bytes(b"")
    (here / "blank.pem").write_bytes(b"\n  \n")
    (here / "binary.bin").write_bytes(BINARY)
    (here / "unknown.xml").write_bytes(b"<?xml version='1.0'?><Invoice><Total>12</Total></Invoice>")
    (here / "a-directory").mkdir()
    (here / "list.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    typo = yaml.safe_load((here / "prep" / "hub.yaml").read_text())
    typo["databse"] = typo.pop("database")
    (here / "typo-hub.yaml").write_text(yaml.safe_dump(typo), encoding="utf-8")
    no_pki = yaml.safe_load((here / "prep" / "uz.yaml").read_text())
    no_pki["pki"] = "nowhere"
    (here / "prep" / "no-pki.yaml").write_text(yaml.safe_dump(no_pki), encoding="utf-8")
    lost = dict(no_pki, pki="pki", scenario="gone.yaml")
    (here / "prep" / "lost-scenario.yaml").write_text(yaml.safe_dump(lost), encoding="utf-8")
    node = dict(no_pki, pki="pki")
    for name, change in (("clock-speed", {"clock": {**node["clock"], "speed": 2}}), ("store-dir", {"database": "pki"}),
                         ("hub-not-url", {"hub": "hub.example"}), ("node-zz", {"node": "zz"}),
                         ("retry-none", {"retry": {"max_attempts": 0}}), ("retry-typo", {"retry": {"max_atempts": 5}}),
                         ("retry-text", {"retry": {"max_attempts": "forever"}}),
                         ("store-not-a-database", {"database": "../binary.bin"})):
        (here / "prep" / f"{name}.yaml").write_text(yaml.safe_dump({**node, **change}), encoding="utf-8")
    return here


@dataclass(frozen=True)
class Case:
    argv: str  # words; {d} is the fixture directory, {eco} the e-CO scenario
    code: int
    names: str  # the file (or option) the line must name
    problem: str  # words of the problem the line must give
    findings: bool = False  # a scenario's: its findings may follow the line, one per line, as the loader words them

    def args(self, directory: Path) -> list[str]:
        return [word.format(d=directory, eco=ECO) for word in self.argv.split()]


VERIFY = "verify {d}/cert.xml --ca {d}/prep/pki/ca.pem"

CASES = {
    # the tracebacks of issue 12, each now one line
    "verify-missing-file": Case("verify {d}/nosuch.xml --ca {d}/prep/pki/ca.pem", 2, "nosuch.xml",
                                "No such file or directory"),
    "verify-missing-ca": Case("verify {d}/cert.xml --ca {d}/nosuch.pem", 2, "nosuch.pem", "No such file or directory"),
    "verify-binary-ca": Case("verify {d}/cert.xml --ca {d}/binary.bin", 2, "binary.bin", "holds no PEM certificate"),
    "verify-at-yesterday": Case(VERIFY + " --at yesterday", 2, "--at", "'yesterday' is not an ISO-8601 time"),
    # a Python traceback (OverflowError in the option's type, which argparse does not catch), exit 1
    "verify-at-past-the-calendar": Case(VERIFY + " --at 9999-12-31T23:59:59-05:00", 2, "--at",
                                        "9999-12-31T23:59:59-05:00 is outside the calendar in UTC (years 1 to 9999)"),
    "run-binary": Case("run {d}/binary.bin", 2, "binary.bin", "not UTF-8 text", findings=True),
    "trust-list-binary": Case(VERIFY + " --trust-list {d}/binary.bin", 2, "binary.bin", "not UTF-8 text"),
    "node-given-hub-config": Case("node --config {d}/prep/hub.yaml", 2, "hub.yaml",
                                  "is the hub's config, not a node's; start it with `caravan hub --config"),
    "hub-given-node-config": Case("hub --config {d}/prep/uz.yaml", 2, "uz.yaml",
                                  "is the config of node 'uz', not the hub's; start it with `caravan node --config"),
    # the other bad-input behaviour of issue 12
    "status-from-nosuchdir": Case(VERIFY + " --status-from {d}/nosuchdir", 2, "nosuchdir", "does not exist"),
    "status-from-a-file": Case(VERIFY + " --status-from {d}/cert.xml", 2, "cert.xml", "is not a directory"),
    # verify: the document
    "verify-empty-file": Case("verify {d}/empty.xml --ca {d}/prep/pki/ca.pem", 2, "empty.xml", "is empty"),
    "verify-binary-file": Case("verify {d}/binary.bin --ca {d}/prep/pki/ca.pem", 2, "binary.bin",
                               "not well-formed XML"),
    "verify-a-pem-as-document": Case("verify {d}/prep/pki/ca.pem --ca {d}/prep/pki/ca.pem", 2, "ca.pem",
                                     "not well-formed XML"),
    "verify-a-directory": Case("verify {d}/a-directory --ca {d}/prep/pki/ca.pem", 2, "a-directory",
                               "is a directory"),
    # verify: the trust anchor
    "verify-empty-ca": Case("verify {d}/cert.xml --ca {d}/blank.pem", 2, "blank.pem", "is empty"),
    "verify-key-as-ca": Case("verify {d}/cert.xml --ca {d}/prep/pki/uz-key.pem", 2, "uz-key.pem",
                             "holds no PEM certificate"),
    "verify-node-certificate-as-ca": Case("verify {d}/cert.xml --ca {d}/prep/pki/uz.pem", 2, "uz.pem",
                                          "'CN=uz' is not a CA certificate"),
    "verify-document-as-ca": Case("verify {d}/cert.xml --ca {d}/cert.xml", 2, "cert.xml", "holds no PEM certificate"),
    # verify: the trust list
    "trust-list-missing": Case(VERIFY + " --trust-list {d}/nosuch.yaml", 2, "nosuch.yaml", "does not exist"),
    "trust-list-empty": Case(VERIFY + " --trust-list {d}/empty.xml", 2, "empty.xml", "is empty"),
    "trust-list-a-pem": Case(VERIFY + " --trust-list {d}/prep/pki/ca.pem", 2, "ca.pem", "has no 'nodes' section"),
    "trust-list-a-list": Case(VERIFY + " --trust-list {d}/list.yaml", 2, "list.yaml", "has no 'nodes' section"),
    # validate
    "validate-missing": Case("validate {d}/nosuch.xml", 2, "nosuch.xml", "No such file or directory"),
    "validate-empty": Case("validate {d}/empty.xml", 2, "empty.xml", "is empty; an XML document was expected"),
    "validate-binary": Case("validate {d}/binary.bin", 2, "binary.bin", "not well-formed XML"),
    "validate-unknown-document": Case("validate {d}/unknown.xml", 2, "unknown.xml",
                                      "no schema declares the root element Invoice"),
    "validate-a-config": Case("validate {d}/prep/hub.yaml", 2, "hub.yaml", "not well-formed XML"),
    # run
    "run-missing": Case("run {d}/nosuch.yaml", 2, "nosuch.yaml", "No such file or directory", findings=True),
    "run-empty": Case("run {d}/empty.xml", 2, "empty.xml", "is empty", findings=True),
    "run-a-document": Case("run {d}/cert.xml", 2, "cert.xml", "mapping", findings=True),
    "run-a-directory": Case("run {d}/a-directory", 2, "a-directory", "directory", findings=True),
    "run-out-is-a-file": Case("run {eco} --out {d}/cert.xml", 2, "cert.xml", "is a file, not a directory"),
    "run-attach-nowhere": Case("run {eco} --attach {d}/nowhere --out {d}/attached", 2, "hub.yaml",
                               "No such file or directory"),
    "run-speed-not-a-number": Case("run {eco} --speed fast", 2, "--speed", "'fast' is not a positive number"),
    "run-external-restarts-unattached": Case("run {eco} --external-restarts", 2, "--external-restarts",
                                             "give --attach DIR too"),
    # prepare
    "prepare-missing": Case("prepare {d}/nosuch.yaml --out {d}/p", 2, "nosuch.yaml", "No such file or directory",
                            findings=True),
    "prepare-binary": Case("prepare {d}/binary.bin --out {d}/p", 2, "binary.bin", "not UTF-8 text", findings=True),
    "prepare-a-config": Case("prepare {d}/prep/hub.yaml --out {d}/p", 2, "hub.yaml", "is missing", findings=True),
    "prepare-out-is-a-file": Case("prepare {eco} --out {d}/cert.xml", 2, "cert.xml", "is a file, not a directory"),
    "prepare-port-out-of-range": Case("prepare {eco} --out {d}/p --base-port 70000", 2, "--base-port",
                                      "'70000' is not a TCP port number"),
    "prepare-unknown-hosts": Case("prepare {eco} --out {d}/p --hosts everywhere", 2, "--hosts",
                                  "invalid choice: 'everywhere'"),
    # wrote configs listening on ports 65536 and 65537 and said nothing (exit 0): the last nodes failed to start
    "prepare-ports-past-65535": Case("prepare {eco} --out {d}/p --base-port 65534", 2, "--base-port 65534",
                                     "the hub and 3 nodes take ports 65534-65537, past 65535"),
    # health
    "health-missing": Case("health --config {d}/nosuch.yaml", 2, "nosuch.yaml", "No such file or directory"),
    "health-given-a-scenario": Case("health --config {eco}", 2, "uzb-aze-eco.yaml", "is a scenario, not a hub config"),
    "health-nothing-started": Case("health --config {d}/prep/hub.yaml --timeout 2", 3, "hub.yaml", "does not answer"),
    # an internal error (OverflowError: timestamp out of range for platform time_t), exit 70
    "health-timeout-inf": Case("health --config {d}/prep/hub.yaml --timeout inf", 2, "--timeout",
                               "'inf' is more than a day (86400 seconds)"),
    "health-timeout-1e308": Case("health --config {d}/prep/hub.yaml --timeout 1e308", 2, "--timeout",
                                 "more than a day"),
    # hub
    "hub-missing": Case("hub --config {d}/nosuch.yaml", 2, "nosuch.yaml", "No such file or directory"),
    "hub-empty": Case("hub --config {d}/empty.xml", 2, "empty.xml", "is empty"),
    "hub-binary": Case("hub --config {d}/binary.bin", 2, "binary.bin", "not UTF-8 text"),
    "hub-given-a-scenario": Case("hub --config {eco}", 2, "uzb-aze-eco.yaml", "is a scenario, not a hub config"),
    "hub-given-a-document": Case("hub --config {d}/cert.xml", 2, "cert.xml",
                                 "is not a hub config: not YAML (mapping values are not allowed here at line 2"),
    "hub-given-a-list": Case("hub --config {d}/list.yaml", 2, "list.yaml", "not a mapping"),
    "hub-config-typo": Case("hub --config {d}/typo-hub.yaml", 2, "typo-hub.yaml",
                            "databse is not a hub config key; did you mean 'database'?"),
    # node
    "node-missing": Case("node --config {d}/nosuch.yaml", 2, "nosuch.yaml", "No such file or directory"),
    "node-empty": Case("node --config {d}/empty.xml", 2, "empty.xml", "is empty"),
    "node-binary": Case("node --config {d}/binary.bin", 2, "binary.bin", "not UTF-8 text"),
    "node-without-pki": Case("node --config {d}/prep/no-pki.yaml", 2, "no-pki.yaml", "holds no ca.pem"),
    "node-scenario-gone": Case("node --config {d}/prep/lost-scenario.yaml", 2, "lost-scenario.yaml",
                               "scenario points to"),
    # the first ran as if `speed` were not there; the second was an internal error (SQLite's "unable to open
    # database file", exit 70); the third started and failed every push to the hub later
    "node-clock-key-unknown": Case("node --config {d}/prep/clock-speed.yaml", 2, "clock-speed.yaml",
                                   "clock.speed is not a key of clock; known: start"),
    "node-store-a-directory": Case("node --config {d}/prep/store-dir.yaml", 2, "store-dir.yaml",
                                   "a directory; the store's file is wanted"),
    "node-not-in-the-pki": Case("node --config {d}/prep/node-zz.yaml", 2, "node-zz.yaml",
                                "issued no certificate; its nodes: az, ge, uz"),
    "node-hub-not-a-url": Case("node --config {d}/prep/hub-not-url.yaml", 2, "hub-not-url.yaml",
                               "hub is 'hub.example'; an http(s)://HOST:PORT URL is wanted"),
    # an internal error (DatabaseError: file is not a database), exit 70
    "node-store-not-a-database": Case("node --config {d}/prep/store-not-a-database.yaml", 2, "binary.bin",
                                      "cannot be opened as a store: file is not a database"),
    "node-retry-zero": Case("node --config {d}/prep/retry-none.yaml", 2, "retry-none.yaml",
                            "retry.max_attempts is 0; a whole number of attempts, at least 1, is wanted"),
    "node-retry-typo": Case("node --config {d}/prep/retry-typo.yaml", 2, "retry-typo.yaml",
                            "retry.max_atempts is not a key of retry; did you mean 'max_attempts'?"),
    "node-retry-text": Case("node --config {d}/prep/retry-text.yaml", 2, "retry-text.yaml",
                            "retry.max_attempts is 'forever'; a whole number of attempts"),
    # usage
    "no-command": Case("", 2, "COMMAND", "required"),
    "unknown-command": Case("verfiy x", 2, "verfiy", "invalid choice"),
    "verify-without-ca": Case("verify {d}/cert.xml", 2, "--ca", "required"),
}


def _one_line(stderr: str, *, findings: bool = False) -> str:
    """The one error line; with `findings`, lines that continue it (not errors of their own) may follow."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and (len(lines) == 1 or findings), stderr
    assert not any(line.startswith("caravan: ") for line in lines[1:]), stderr
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_with_its_exit_code(name: str, files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    code = main(case.args(files))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == case.code, err
    line = _one_line(err, findings=case.findings)
    assert line.startswith("caravan: "), line
    assert case.names in line and case.problem in line, line


def test_a_store_that_is_no_database_is_refused_and_left_as_it_was(files: Path) -> None:
    """A config whose store is some other file: one line (above), and not a byte of that file changed."""
    assert main(["node", "--config", str(files / "prep" / "store-not-a-database.yaml")]) == 2
    assert (files / "binary.bin").read_bytes() == BINARY


def test_a_node_given_another_components_store_is_refused_before_it_writes_there(
        files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A node config whose `database` names the hub's store (or another node's): one line naming whose it is, and
    the store keeps only its owner's tables. Before, the node added its inbox, outbox and records beside the hub's
    and served on."""
    hub_store = tmp_path / "hub.sqlite"
    trust = ScenarioPKI.load(files / "prep" / "pki").trust_store()
    clock = VirtualClock(datetime(2026, 4, 1, tzinfo=timezone.utc))
    asyncio.run(_opened_and_stopped(Hub.open(hub_store, trust, {}, clock)))  # the hub lays out and marks its store
    tables = _tables(hub_store)
    node = yaml.safe_load((files / "prep" / "uz.yaml").read_text(encoding="utf-8"))
    config = tmp_path / "uz.yaml"
    config.write_text(yaml.safe_dump({**node, "database": str(hub_store), "pki": str(files / "prep" / "pki"),
                                      "scenario": str(ECO)}), encoding="utf-8")
    assert main(["node", "--config", str(config)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"{hub_store}: is the store of 'hub', not of 'uz'" in line and "[store-of-another-component]" in line
    assert _tables(hub_store) == tables and "inbox" not in tables


async def _opened_and_stopped(opening: Awaitable[Hub]) -> None:
    await (await opening).stop()


def _tables(store: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(store)) as db:
        return sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def test_each_file_validate_cannot_read_gets_its_line_and_the_rest_are_still_validated(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", str(files / "nosuch.xml"), str(files / "binary.bin"), str(files / "cert.xml")])
    out, err = capsys.readouterr()
    assert code == 2
    assert [line.split(":")[1].strip().rsplit("/", 1)[-1] for line in err.splitlines()] == ["nosuch.xml", "binary.bin"]
    assert f"{files / 'cert.xml'}: valid (eco EcoCertificate)" in out


def test_an_invalid_document_is_exit_one_not_bad_input(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    invalid = files / "invalid.xml"
    invalid.write_bytes((files / "cert.xml").read_bytes().replace(b"<eco:ImportCountry>AZ<",
                                                                 b"<eco:ImportCountry>Azerbaijan<"))
    assert main(["validate", str(invalid)]) == 1
    assert "INVALID" in capsys.readouterr().out


def test_a_component_out_of_reach_is_an_environment_problem(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing was started from the prepared configs: the driver waits `--wait` seconds, then exit 3."""
    code = main(["run", str(ECO), "--attach", str(files / "prep"), "--out", str(files / "attached"), "--wait", "0.5"])
    _, err = capsys.readouterr()
    assert code == 3, err
    line = _one_line(err)
    assert line.startswith("caravan: ") and "failed" in line and "Cannot connect" in line


def test_debug_adds_the_traceback_before_or_after_the_command(files: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(files / "nosuch.xml")
    for argv in (["--debug", "verify", missing, "--ca", "x"], ["verify", missing, "--ca", "x", "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "exchange.errors.InputError" in err
        assert err.splitlines()[-1].startswith(f"caravan: {missing}: cannot read")


def test_a_fault_in_caravan_itself_is_one_line_and_exit_70(files: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object) -> int:
        raise KeyError("plan")

    monkeypatch.setattr(exchange.cli, "_validate", broken)
    assert main(["validate", str(files / "cert.xml")]) == 70
    line = _one_line(capsys.readouterr().err)
    assert line == "caravan: internal error: KeyError: 'plan' (run with --debug for the traceback)"


PROCESS_CASES = ["run-binary", "verify-at-yesterday", "verify-at-past-the-calendar", "validate-binary",
                 "prepare-missing", "hub-given-node-config", "node-given-hub-config"]


@pytest.mark.parametrize("name", PROCESS_CASES)
def test_the_installed_command_says_the_same_in_one_line(name: str, files: Path) -> None:
    case = CASES[name]
    done = subprocess.run([str(CARAVAN), *case.args(files)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == case.code, done.stderr
    line = _one_line(done.stderr, findings=case.findings)
    assert line.startswith("caravan: ") and case.names in line and case.problem in line, line


@pytest.mark.parametrize(("command", "place", "words"), [
    ("run", "messages/letter.txt", "was not written by a caravan run"),
    ("run", "events.jsonl", "was not written by a caravan run"),
    ("run", "db/notes.txt", "is none of caravan's stores"),
    ("prepare", "db/notes.txt", "is none of caravan's stores"),
])
def test_an_output_directory_holding_what_caravan_did_not_write_is_refused_and_kept(
    command: str, place: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--out .` in a project, or a typo: a run emptied messages/ and db/ and wrote events.jsonl afresh, prepare
    emptied db/, and whatever the user kept there was gone (exit 0)."""
    out = tmp_path / "mine"
    (out / place).parent.mkdir(parents=True, exist_ok=True)
    (out / place).write_text("precious\n", encoding="utf-8")
    ports = ["--base-port", str(free_ports(4))] if command == "prepare" else []
    assert main([command, str(ECO), "--out", str(out), *ports]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"caravan: {out / place}: {words}"), line
    assert (out / place).read_text(encoding="utf-8") == "precious\n"


def test_a_run_directory_is_run_into_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "timeline.txt").write_text("a shell's redirection made this first\n", encoding="utf-8")
    for _ in range(2):
        assert main(["run", str(ECO), "--out", str(tmp_path)]) == 0, capsys.readouterr().err
    assert (tmp_path / "timeline.txt").is_file()


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """`caravan check scenarios/*.yaml | head -1`: the reader has what it wanted. It said "caravan: Broken pipe"
    and exit 3, an environment problem; now nothing on stderr, and the shell's code for a closed pipe."""
    scenarios = sorted(str(path) for path in (ROOT / "scenarios").glob("*.yaml"))
    with subprocess.Popen([str(CARAVAN), "check", *scenarios], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as check:
        assert check.stdout is not None and check.stderr is not None
        assert check.stdout.readline().endswith(b": valid\n")
        check.stdout.close()  # as `head -1` does once it has its line
        assert check.wait(timeout=120) == 141
        assert check.stderr.read() == b""
