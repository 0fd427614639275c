"""The bench's generated scenarios stay complete, valid scenarios (the bench itself runs only by `make bench`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench import ceiling
from bench.ab import Pair, ab_report
from bench.ceiling import Ceiling
from bench.concurrency import bound, read_footprints
from bench.concurrency import main as concurrency_main
from bench.corridors import CORRIDORS, corridors_scenario, write_corridors_scenario
from bench.deployed import DeployedRun, Process, deployed_report, run_deployed
from bench.floor import Floor, measure_floor, measured_ms
from bench.floor import report as floor_report
from bench.memory import Together, allocation_sites, wait_sampling
from bench.movements import FLOW, STEPS_PER_MOVEMENT, movement_key, write_movements_scenario
from bench.run import CEILING_AT, Run, sampled_lines, set_against
from bench.run import report as run_report
from exchange.cli import main
from nodes.language import load_scenario
from tests.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent
CAREC_COUNTRIES = {"AF", "AZ", "CN", "GE", "KG", "KZ", "MN", "PK", "TJ", "TM", "UZ"}


def test_a_scenario_of_n_movements_has_n_distinct_movements_and_six_steps_each(tmp_path: Path) -> None:
    scenario = load_scenario(write_movements_scenario(3, tmp_path))
    assert len(scenario.movements) == 3 and len(scenario.steps) == 3 * STEPS_PER_MOVEMENT
    assert len({movement["lrn"] for movement in scenario.movements.values()}) == 3
    assert [step.action for step in scenario.steps if step.arguments["movement"] == movement_key(2)] == [
        "declare", "present_at_transit", "present_at_transit", "present_at_transit", "notify_arrival", "record_control"]
    assert scenario.expectations.traffic[FLOW]["departure"] == {"WrittenOff": 3}


def test_one_generated_movement_runs_to_write_off_through_the_runner(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = main(["run", str(write_movements_scenario(1, tmp_path)), "--out", str(out)])
    assert code == 0, stdout.getvalue()
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    [driver] = [event for event in events if event["kind"] == "driver"]
    assert driver["messages"] == 19, "a movement through three offices of transit to write-off is 19 messages"


def test_the_eleven_country_bench_shares_n_movements_among_the_corridor_flows_and_expects_each(
        tmp_path: Path) -> None:
    scenario = load_scenario(write_corridors_scenario(23, tmp_path))
    assert {spec.country for spec in scenario.nodes.values()} == CAREC_COUNTRIES
    assert sum(len(keys) for keys in scenario.traffic.values()) == len(scenario.movements) == 23
    sizes = {flow: len(keys) for flow, keys in scenario.traffic.items()}
    assert set(sizes.values()) == {2, 3}, "ten flows share 23 movements as evenly as they can"
    for flow, roles in scenario.expectations.traffic.items():
        assert roles["departure"] == {"WrittenOff": sizes[flow]}


def test_a_corridor_bench_smaller_than_its_flows_drops_the_flows_left_without_movements(tmp_path: Path) -> None:
    scenario = load_scenario(write_corridors_scenario(4, tmp_path))
    assert list(scenario.traffic) == list(corridors_scenario(40)["traffic"]["flows"])[:4]


def test_the_carec_corridors_scenario_runs_every_movement_to_its_expected_end_across_eleven_nodes(
        tmp_path: Path) -> None:
    source = yaml.safe_load(CORRIDORS.read_text(encoding="utf-8"))
    for flow in source["traffic"]["flows"].values():
        flow["movements"] = 1
    for outcome in source["expect"]["traffic"].values():
        for role, states in outcome.items():
            outcome[role] = {state: 1 for state in states}
    scenario = tmp_path / "carec-small.yaml"
    scenario.write_text(yaml.safe_dump(source, sort_keys=False), encoding="utf-8")
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = main(["run", str(scenario), "--out", str(out)])
    assert code == 0, stdout.getvalue()
    expectations = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()
                    if '"expectation"' in line]
    stated = sum(len(outcome) for outcome in source["expect"]["traffic"].values()) + len(source["expect"]["deliveries"])
    assert len(expectations) == stated and all(check["holds"] for check in expectations)
    with contextlib.redirect_stdout(io.StringIO()) as figures:
        assert main(["figures", str(out)]) == 0
    crossings = figures.getvalue().split("Border crossings, per country pair")[1].split("Legs and time")[0]
    for pair in ("AZ → GE", "UZ → TM", "TM → AZ", "KZ → CN", "MN → CN", "CN → PK", "TJ → AF", "AF → PK", "KG → KZ"):
        assert pair in crossings


GROWER = """
import time
time.sleep(0.6)
held = [b"x" * 1_000_000 for _ in range(40)]  # the line the snapshots must name: 40 MB
time.sleep(1.2)
raise SystemExit(3)
"""


def test_the_bench_samples_a_growing_run_and_still_gets_its_exit_status_and_peak(tmp_path: Path) -> None:
    (tmp_path / "grower.py").write_text(GROWER, encoding="utf-8")
    probe = tmp_path / "probe"
    command = [sys.executable, "-m", "bench.probe", str(probe), "--every", "0.1", "--tracemalloc", "--warm-up", "0.3",
               "grower"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    process = subprocess.Popen(command, env=environment)
    status, usage, samples = wait_sampling(process, tmp_path / "messages", 0.1)
    assert os.waitstatus_to_exitcode(status) == 3, "the run's own exit status comes through the probe"
    rss = [sample.rss_mb for sample in samples]
    assert max(rss) - rss[1] > 30 and usage.ru_maxrss / 1024 > max(rss) - 1  # the same memory, two counts
    readings = [json.loads(line) for line in (probe / "probe.jsonl").read_text().splitlines()]
    assert max(reading["python_mb"] for reading in readings) > 30
    largest, grown = allocation_sites(probe / "first.tracemalloc", probe / "last.tracemalloc")
    assert grown[0].site.endswith("grower.py:4") and grown[0].growth_mb > 30, grown[:3]


def test_the_bench_sees_a_run_end_when_it_ends_not_at_its_next_reading(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    started = time.perf_counter()
    status, _, samples = wait_sampling(process, tmp_path / "messages", 600.0)  # one reading, then the wait
    waited = time.perf_counter() - started
    assert os.waitstatus_to_exitcode(status) == 0 and len(samples) == 1
    assert waited < 60, f"waited {waited:.1f} s: the wall time was rounded up to the reading interval"


HOLDER = """
import sys
print("ready", flush=True)
sys.stdin.readline()
held = b"x" * 50_000_000  # written, so resident: 47.7 MiB
print("holding", flush=True)
sys.stdin.readline()
"""


def test_reading_processes_together_sums_their_pss_which_counts_shared_pages_once() -> None:
    holders = [subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for _ in range(2)]
    try:
        assert [holder.stdout.readline() for holder in holders] == ["ready\n"] * 2  # type: ignore[union-attr]
        together = Together()
        together.read([holder.pid for holder in holders])
        rss_before, pss_before = together.rss_mb, together.pss_mb
        assert rss_before is not None and pss_before is not None, "no /proc/PID/smaps_rollup on this system"
        assert pss_before < rss_before - 1, "two interpreters share their pages: PSS counts them once, RSS twice"
        holders[0].stdin.write("\n")  # type: ignore[union-attr]
        holders[0].stdin.flush()  # type: ignore[union-attr]
        assert holders[0].stdout.readline() == "holding\n"  # type: ignore[union-attr]
        together.read([holder.pid for holder in holders])
        assert together.pss_mb is not None and 45 < together.pss_mb - pss_before < 52, (pss_before, together)
        holders[1].kill()
        holders[1].wait()
        together.read([holder.pid for holder in holders])
        assert together.readings == 2, "an instant that misses a process is no sum"
        assert 0 < together.cpu_s < 1
    finally:
        for holder in holders:
            holder.kill()
            holder.communicate()


def test_the_deployed_table_gives_hub_and_nodes_memory_three_ways_and_says_when_it_could_not_read_it() -> None:
    processes = (Process("hub", 2.0, 90.0, 0), Process("uz", 3.0, 100.0, 0), Process("driver", 1.0, 80.0, 0))
    read = DeployedRun(10, 190, 9.1, processes, Together(150.4, 120.2, 18, 0.034), True, "deployed")
    unread = DeployedRun(10, 190, 9.1, processes, Together(), True, "deployed")
    header, rule, *rows = deployed_report([read, unread], [Ceiling(4000, 1.0, 1.0, 1.0, 6.0)] * 2).splitlines()
    for column in ("peak RSS, hub + nodes (sum of peaks)", "peak RSS, hub + nodes (simultaneous)",
                   "peak PSS, hub + nodes (simultaneous)", "memory readings (reader's CPU)"):
        assert column in header
    assert all(line.count("|") == header.count("|") for line in (rule, *rows))
    assert "| 190 MB | 150 MB | 120 MB | 18 (34 ms) |" in rows[0]
    assert "| 190 MB | no smaps_rollup | no smaps_rollup | 0 (0 ms) |" in rows[1]


def test_each_deployed_run_is_set_against_the_ceiling_measured_after_it() -> None:
    processes = (Process("hub", 2.0, 90.0, 0), Process("uz", 3.0, 100.0, 0), Process("driver", 1.0, 80.0, 0))
    run = DeployedRun(10, 190, 9.5, processes, Together(), True, "deployed")  # 20 messages/s
    fast, slow = Ceiling(4000, 1.0, 2.0, 2.0, 11.0), Ceiling(4000, 2.0, 4.0, 4.0, 22.0)  # 100 and 50 per second
    rows = deployed_report([run, run], [fast, slow]).splitlines()[2:]
    assert ["| 20.0 % |" in rows[0], "| 40.0 % |" in rows[1]] == [True, True]


def test_the_deployed_bench_runs_each_component_as_its_own_process_and_counts_each(tmp_path: Path) -> None:
    scenario = write_movements_scenario(1, tmp_path)
    run = run_deployed(scenario, 1, tmp_path, free_ports(4))
    assert run.ok, (tmp_path / f"{scenario.stem}.deployed.txt").read_text()
    assert run.messages == 19  # the pilot's M1, declaration to write-off, as the one-process bench counts it
    assert sorted(process.name for process in run.processes) == ["az", "driver", "ge", "hub", "uz"]
    for process in run.processes:  # each measured apart: a process that did no work would show no CPU
        assert process.exit_code == 0 and process.cpu_s > 0.1 and process.peak_rss_mb > 20, process
    assert run.cpu_s == sum(process.cpu_s for process in run.processes)
    assert run.components_rss_mb < sum(process.peak_rss_mb for process in run.processes)  # the driver left out
    together = run.together  # read while the driver ran, each sum at one instant: no higher than the peaks' sum,
    # but for a fraction of a percent (wait4's peak comes from the kernel's RSS counters, smaps_rollup from a walk)
    assert together.readings > 0 and together.pss_mb is not None and together.rss_mb is not None, together
    assert together.pss_mb < together.rss_mb <= 1.01 * run.components_rss_mb, together


def _event_log(path: Path, entries: list[dict]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "events.jsonl").write_text("".join(json.dumps(entry) + "\n" for entry in entries), encoding="utf-8")
    return path


def _step(index: int, node: str | None, movement: str | None = None) -> dict:
    return {"kind": "step", "index": index, "node": node, "do": "declare",
            "arguments": {"movement": movement} if movement else {}}


def _message(sender: str, recipient: str) -> dict:
    return {"kind": "message", "sender": sender, "recipient": recipient}


def test_the_concurrency_bound_overlaps_only_steps_whose_nodes_and_movements_differ(tmp_path: Path) -> None:
    run = _event_log(tmp_path, [
        {"kind": "scenario"},
        _step(0, "uz", "M1"), _message("uz", "az"),
        _step(1, "kz", "M2"), _message("kz", "cn"),  # other nodes, other movement: beside step 0
        _step(2, "ge", "M1"), _message("ge", "ge"), _message("ge", "ge"),  # after its movement's step 0
        _step(3, "cn", "M3"), _message("cn", "kg"),  # a node step 1 holds: after it
        {"kind": "expectation"},
    ])
    footprints = read_footprints(run / "events.jsonl")
    assert [(f.nodes, f.messages, f.movement) for f in footprints] == [
        ({"uz", "az"}, 1, "M1"), ({"kz", "cn"}, 1, "M2"), ({"ge"}, 2, "M1"), ({"cn", "kg"}, 1, "M3")]
    result = bound(footprints)
    assert (result.work, result.span) == (9, 5)  # 0 and 1 from 0 to 2; then 2 (to 5) and 3 (to 4)
    assert result.speed_up == 1.8 and result.busiest_node == "cn" and result.busiest_work == 4


def test_a_step_that_names_no_node_waits_for_everything_and_holds_every_node(tmp_path: Path) -> None:
    run = _event_log(tmp_path, [
        _step(0, "uz", "M1"), _message("uz", "az"), _message("uz", "az"),
        _step(1, None), _step(2, "kz", "M2"), _message("kz", "cn")])
    result = bound(read_footprints(run / "events.jsonl"))
    assert (result.work, result.span, result.speed_up) == (6, 6, 1.0)  # 0 to 3, the barrier 3 to 4, then 4 to 6


def test_the_concurrency_command_names_what_is_missing_instead_of_failing(tmp_path: Path) -> None:
    with contextlib.redirect_stderr(io.StringIO()) as stderr:
        assert concurrency_main([str(tmp_path)]) == 2
    assert "no events.jsonl" in stderr.getvalue()
    run = _event_log(tmp_path / "run", [_step(0, "uz", "M1"), _message("uz", "az"), _step(1, "kz", "M2")])
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        assert concurrency_main([str(run)]) == 0
    assert "2 steps, 3 units of work" in stdout.getvalue() and "at most 1.50 times faster" in stdout.getvalue()


def test_each_run_is_set_against_its_own_ceiling() -> None:
    """The host slowed down between the runs: the ceiling went from 4 to 5 ms. Against one ceiling the larger
    run would look 12.5 times as costly for 10 times the messages; against its own, it costs 10 times."""
    runs = [Run(100, 600, 1000, 1800, 10.5, 10.0, 120.0, True, "a"),
            Run(1000, 6000, 10000, 18000, 126.0, 125.0, 150.0, True, "b")]
    ceilings = [Ceiling(4000, 0.5, 1.0, 0.5, 4.2), Ceiling(4000, 0.5, 1.5, 0.5, 5.3)]
    lines = run_report(runs, ceilings).splitlines()
    assert "Each run's own: 100 movements 4.00 ms, 1000 movements 5.00 ms" in lines
    first, second = (line.split(" | ") for line in lines if line.startswith(("| 100 |", "| 1000 |")))
    assert first[7] == "40.0 %" and second[7] == "40.0 %"  # 100 and 80 messages per CPU s, at 250 and 200
    assert second[11] == "12.00 · 12.50 · 10.00 for ×10"


@pytest.fixture(scope="module")
def pilot_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of a one-movement run of the pilot: its messages/ and its pki/."""
    base = tmp_path_factory.mktemp("pilot")
    out = base / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", str(write_movements_scenario(1, base)), "--out", str(out)]) == 0
    return out


def test_the_ceiling_takes_the_median_of_rounds_that_interleave_its_parts(pilot_run: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = pilot_run
    found = ceiling.first_cc015c(out / "messages")
    assert found is not None and found[1] == "uz"
    cc015c = found[0]
    measured = ceiling.measure_ceiling(cc015c, out / "pki", "uz", CEILING_AT, seconds=0.05)  # really timed
    assert 0 < measured.sign_ms and 0 < measured.verify_ms and 0 < measured.validate_ms and 0 < measured.unit_wall_ms
    order: list[str] = []
    readings = iter(range(1, 100))

    def timed(call: object, seconds: float, clock: object) -> float:  # the rounds' readings: 1, 2, 3, ...
        order.append("unit" if clock is time.perf_counter else "part")
        return float(next(readings))

    monkeypatch.setattr(ceiling, "_per_call_ms", timed)
    figures = ceiling.measure_ceiling(cc015c, out / "pki", "uz", CEILING_AT, seconds=1.0)
    assert order == ["part", "part", "part", "unit"] * ceiling.ROUNDS  # each part once in every round
    assert (figures.sign_ms, figures.verify_ms, figures.validate_ms, figures.unit_wall_ms) == (9.0, 10.0, 11.0, 12.0)


def test_the_ceiling_sampler_waits_for_a_whole_cc015c_then_holds_the_run_still_for_each_round(
        pilot_run: Path, tmp_path: Path) -> None:
    """Beside a run, the sampler finds no CC015C at first, then one still being written: it samples nothing
    until the file reads whole. For each round it stops the run's process (SIGSTOP), which then spends no
    CPU time, and continues it after. Stopped by SIGTERM, it ends with every line it wrote whole."""
    messages, rounds_file = tmp_path / "messages", tmp_path / "rounds.jsonl"
    messages.mkdir()
    run = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a run that never rests
    pidfd = os.pidfd_open(run.pid)
    try:
        with open(os.devnull, "wb") as log, ceiling.sampled_beside(messages, pilot_run / "pki", rounds_file,
                                                                   [run], log):
            cc015c = next((pilot_run / "messages").glob("*-CC015C-*.envelope.xml"))
            whole = cc015c.read_bytes()
            (messages / cc015c.name).write_bytes(whole[: len(whole) // 2])  # half written, as the driver writes
            time.sleep(1.5)
            assert not rounds_file.exists(), "a file still being written is not sampled"
            (messages / cc015c.name).write_bytes(whole)
            deadline = time.monotonic() + 60
            while len(ceiling.read_rounds(rounds_file)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        rounds = ceiling.read_rounds(rounds_file)  # each line whole: one write each
        assert len(rounds) >= 2 and rounds_file.read_text(encoding="utf-8").endswith("\n")
        assert _state(run.pid) == "R", "continued after"
        cpu_before = _cpu_s(run.pid)
        with ceiling._held([pidfd]):
            time.sleep(0.5)
            assert _cpu_s(run.pid) - cpu_before < 0.05, "held still: no CPU time"
    finally:
        run.kill()
        run.wait()
        os.close(pidfd)
    assert all(r.paused_s > 0 for r in rounds)
    figures = [r.ceiling for r in rounds]
    assert all(c.sign_ms > 0 and c.verify_ms > 0 and c.validate_ms > 0 and c.unit_wall_ms > 0 for c in figures)
    assert {c.document_bytes for c in figures} == {ceiling.measure_ceiling(
        cc015c, pilot_run / "pki", "uz", CEILING_AT, seconds=0.01).document_bytes}


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_run_is_set_against_the_mean_rate_of_the_ceiling_sampled_while_it_went_on() -> None:
    """The host was fast for half the run and slow for the other half: a unit of 2 ms (500 per CPU second),
    then 8 ms (125). The run's CPU seconds are spent across both, so it is set against their mean rate, 312.5
    per second: a unit of 3.2 ms, not the units' mean of 5 ms (which would double the run's share), nor the
    2-second ceiling measured after it, whatever that came out at. A run over before a first round is set
    against that one."""
    rounds = (ceiling.Round(Ceiling(4000, 0.25, 0.5, 0.25, 2.0), 0.4),
              ceiling.Round(Ceiling(4000, 1.0, 2.0, 1.0, 8.0), 0.4))
    mean = ceiling.mean_ceiling(rounds)
    assert mean.unit_ms == pytest.approx(3.2) and mean.messages_per_second == pytest.approx(312.5)
    assert (mean.sign_ms, mean.verify_ms, mean.validate_ms, mean.unit_wall_ms) == pytest.approx((0.4, 0.8, 0.4, 3.2))
    sampled = Run(100, 600, 1000, 1800, 10.5, 8.0, 120.0, True, "a", ceiling_rounds=rounds)  # 125 per CPU s
    after = Ceiling(4000, 0.5, 0.5, 0.25, 2.6)
    assert set_against(sampled.ceiling_rounds, after) == mean and set_against((), after) is after
    row = next(line for line in run_report([sampled], [mean]).splitlines() if line.startswith("| 100 |"))
    assert row.split(" | ")[7] == "40.0 %"  # 125 messages per CPU s against 312.5


def test_the_ab_table_gives_each_pair_and_the_change_of_the_medians() -> None:
    rows = ab_report("aa200be", [Pair(30.0, 27.0), Pair(32.0, 24.0), Pair(28.0, 28.0)]).splitlines()
    assert rows[0] == "| pair | aa200be (CPU s) | this tree (CPU s) | change |"
    assert rows[2:] == ["| 1 | 30.00 | 27.00 | -10.0 % |", "| 2 | 32.00 | 24.00 | -25.0 % |",
                        "| 3 | 28.00 | 28.00 | +0.0 % |", "| median | 30.00 | 27.00 | -10.0 % |"]


def _ab(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.ab", *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_ab_runs_a_revision_and_this_tree_in_turn_on_one_scenario(tmp_path: Path) -> None:
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout: bench.ab writes a revision out with git archive")
    done = _ab("HEAD", "--countries", "3", "--movements", "1", "--pairs", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| 1 |" in done.stdout and "| median |" in done.stdout
    assert (tmp_path / "HEAD" / "exchange" / "cli.py").is_file()  # the revision, written out to run from
    for side in ("before", "after"):  # each version wrote its own run of the same scenario
        assert (tmp_path / side / "events.jsonl").is_file()


def test_ab_names_a_revision_git_does_not_know_without_a_traceback(tmp_path: Path) -> None:
    done = _ab("no-such-revision-here", "--pairs", "1", "--out", str(tmp_path))
    assert done.returncode != 0
    assert "git archive no-such-revision-here" in done.stderr and "Traceback" not in done.stderr



def test_the_floor_adds_what_every_message_must_do_and_leaves_the_rest_at_half_the_ceiling() -> None:
    unit = Ceiling(4000, 0.5, 1.25, 0.25, 4.0)  # a 4 ms unit: 8 ms per message at half the ceiling
    floor = Floor(unit, request_ms=0.4, status_ms=0.3, commit_ms=0.1, steps_per_message=0.5)
    assert floor.crypto_ms == 3.5  # one signature, two verifications, two validations
    assert floor.message_ms == pytest.approx(3.5 + 0.8 + 0.2 + 0.15)
    assert floor.highest_share == pytest.approx(4.0 / 4.65) and floor.left_at_half_ms == pytest.approx(3.35)
    text = floor_report(floor, measured_ms=12.0)
    assert "| **floor** | | | **4.650** |" in text and "Highest share of the ceiling at the floor: 86.0 %" in text
    assert "12.00 CPU ms per message, of which 7.35 ms above the floor" in text


def test_the_floor_is_timed_over_mutual_tls_and_a_durable_store_with_the_runs_keys(pilot_run: Path) -> None:
    floor = measure_floor(pilot_run, seconds=0.5)
    assert floor.steps_per_message == 6 / 19  # the pilot's one movement: six steps, nineteen messages
    assert 0 < floor.commit_ms and 0 < floor.request_ms and 0 < floor.status_ms and 0 < floor.ceiling.verify_ms
    with pytest.raises(SystemExit, match="no CC015C envelope"):
        measure_floor(pilot_run / "pki")


def test_the_floor_finds_the_runs_own_cost_in_the_results_bench_run_left_beside_it(tmp_path: Path) -> None:
    run = tmp_path / "carec-100-movements"
    assert measured_ms(run) is None  # not a bench run
    entries = [{"directory": str(tmp_path / "other"), "cpu_s": 1.0, "messages": 1},
               {"directory": str(run), "cpu_s": 22.1, "messages": 1784}]
    (tmp_path / "results.json").write_text(json.dumps({"runs": entries}), encoding="utf-8")
    assert measured_ms(run) == pytest.approx(12.388, abs=0.001)


def test_the_bench_says_what_each_run_is_set_against_and_names_a_run_too_short_to_sample() -> None:
    after = Ceiling(4000, 0.5, 1.0, 0.5, 4.0)
    rounds = (ceiling.Round(Ceiling(4000, 0.5, 1.0, 0.5, 4.0), 0.4),
              ceiling.Round(Ceiling(4000, 1.0, 2.0, 1.0, 8.0), 0.4))
    short = Run(10, 60, 190, 376, 4.0, 4.0, 100.0, True, "a")
    sampled = Run(100, 600, 1900, 3591, 28.0, 27.0, 130.0, True, "b", ceiling_rounds=rounds)
    assert sampled_lines([short, sampled], [after, after])[1:] == [
        "- 10 movements: over before a first round; set against the two-second ceiling measured right after it, "
        "4.00 ms",
        "- 100 movements: 5.33 ms over 2 rounds (4.00 to 8.00 ms); right after it, for two seconds: 4.00 ms"]


def test_a_ctrl_c_ends_the_sampler_with_the_run_continued_and_no_traceback(pilot_run: Path, tmp_path: Path) -> None:
    run = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    pidfd = os.pidfd_open(run.pid)
    rounds_file = tmp_path / "rounds.jsonl"
    try:
        sampler = subprocess.Popen(
            [sys.executable, "-m", "bench.ceiling", str(pilot_run / "messages"), str(pilot_run / "pki"),
             str(rounds_file), "--at", CEILING_AT.isoformat(), "--every", "0.05", "--burst", "0.6",
             "--hold", str(pidfd)],
            cwd=ROOT, pass_fds=(pidfd,), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while _state(run.pid) != "T" and time.monotonic() < deadline:  # caught in the middle of a round
            time.sleep(0.01)
        sampler.send_signal(signal.SIGINT)
        output, _ = sampler.communicate(timeout=60)
        assert sampler.returncode == 0 and "Traceback" not in output, output
        assert _state(run.pid) in ("R", "S"), "the run held for the round is continued"
        assert len(ceiling.read_rounds(rounds_file)) >= 1  # the round under way was finished and written
    finally:
        run.kill()
        run.wait()
        os.close(pidfd)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
