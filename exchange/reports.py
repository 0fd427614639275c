"""The verdict of a conformance run, written three ways: JUnit XML for CI, HTML for a manager, JSON for tools.

Each scenario is a test suite and each of its checks a test case (an expectation group, a step check,
or a check of the system under test's traffic), with the rule it applies and, when it fails, what was
expected and what was seen. A scenario that could not run to its end (a step refused, the deployment
out of reach) is one failed case that says why, so a broken run never reads as a passing one.

1. `junit.xml` follows the schema CI test views read (Jenkins, GitLab, GitHub actions): `testsuites` →
   `testsuite` (name, tests, failures, errors) → `testcase` (classname, name) → `failure` (message,
   type = the rule) with the evidence as its text.
2. `report.html` is one static page, no script: the verdict at the top, a table of suites, every failure
   with its evidence, then every case.
3. `report.json` holds the same data as `Verdict.as_dict`.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

__all__ = ["Case", "Suite", "Verdict", "write_reports"]


@dataclass(frozen=True)
class Case:
    """One check: its name, whether it held, the rule it applies, and the evidence."""

    name: str
    holds: bool
    expected: str
    seen: str
    rule: str = ""


@dataclass
class Suite:
    """One scenario run as a test suite."""

    scenario: str
    title: str
    file: str
    cases: list[Case] = field(default_factory=list)
    output: str = ""  # where its timeline, messages and events are

    @property
    def failures(self) -> list[Case]:
        return [case for case in self.cases if not case.holds]

    @property
    def passed(self) -> bool:
        return bool(self.cases) and not self.failures


@dataclass
class Verdict:
    """Every suite of one `caravan conform` run, and what was under test."""

    suites: list[Suite]
    external: dict[str, str]  # node → inbox URL of each system under test

    @property
    def passed(self) -> bool:
        return bool(self.suites) and all(suite.passed for suite in self.suites)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": "pass" if self.passed else "fail",
            "external": self.external,
            "suites": [{**asdict(suite), "passed": suite.passed, "failed": len(suite.failures)}
                       for suite in self.suites],
        }


def write_reports(verdict: Verdict, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "junit.xml", directory / "report.html", directory / "report.json"]
    paths[0].write_bytes(_junit(verdict))
    paths[1].write_text(_html(verdict), encoding="utf-8")
    paths[2].write_text(json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def _junit(verdict: Verdict) -> bytes:
    total = sum(len(suite.cases) for suite in verdict.suites)
    failed = sum(len(suite.failures) for suite in verdict.suites)
    root = etree.Element("testsuites", name="caravan conform", tests=str(total), failures=str(failed), errors="0")
    for suite in verdict.suites:
        element = etree.SubElement(root, "testsuite", name=suite.scenario, tests=str(len(suite.cases)),
                                   failures=str(len(suite.failures)), errors="0", skipped="0", file=suite.file)
        for case in suite.cases:
            testcase = etree.SubElement(element, "testcase", classname=f"conformance.{suite.scenario}",
                                        name=case.name)
            if not case.holds:
                failure = etree.SubElement(testcase, "failure", type=case.rule or "expectation",
                                           message=f"expected {case.expected}; seen {case.seen}"[:1000])
                failure.text = f"rule: {case.rule or '-'}\nexpected: {case.expected}\nseen: {case.seen}\n"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
.verdict { font-size: 2em; font-weight: bold; padding: .4em .8em; border-radius: .3em; color: #fff; }
.pass { background: #1b7f3b; } .fail { background: #b3261e; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .35em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.ok { color: #1b7f3b; } td.ko { color: #b3261e; font-weight: bold; }
code { font-size: 90%; word-break: break-word; }
.evidence { border-left: 4px solid #b3261e; margin: 1em 0; padding: .2em 1em; background: #fdf3f2; }
"""


def _html(verdict: Verdict) -> str:
    e = html.escape
    word = "PASS" if verdict.passed else "FAIL"
    cases = sum(len(suite.cases) for suite in verdict.suites)
    failed = sum(len(suite.failures) for suite in verdict.suites)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>caravan conformance: {word}</title><style>{_STYLE}</style></head><body>",
        "<h1>Conformance report</h1>",
        f'<p class="verdict {word.lower()}">{word}: {cases - failed} of {cases} checks hold</p>',
        "<p>Systems under test: " + (", ".join(f"<code>{e(node)}</code> at <code>{e(url)}</code>"
                                              for node, url in verdict.external.items()) or "none") + "</p>",
        "<h2>Suites</h2><table><tr><th>scenario</th><th>verdict</th><th>checks</th><th>failed</th></tr>",
    ]
    for suite in verdict.suites:
        mark = '<td class="ok">pass</td>' if suite.passed else '<td class="ko">FAIL</td>'
        parts.append(f"<tr><td>{e(suite.title)} <code>{e(suite.file)}</code></td>{mark}"
                     f"<td>{len(suite.cases)}</td><td>{len(suite.failures)}</td></tr>")
    parts.append("</table>")
    if failed:
        parts.append("<h2>What failed, and the evidence</h2>")
        for suite in verdict.suites:
            for case in suite.failures:
                parts.append(
                    f'<div class="evidence"><p><b>{e(case.name)}</b> ({e(suite.scenario)})</p>'
                    f"<p>rule: <code>{e(case.rule or '-')}</code></p>"
                    f"<p>expected: <code>{e(case.expected)}</code></p><p>seen: <code>{e(case.seen)}</code></p></div>")
    for suite in verdict.suites:
        parts.append(f"<h2>{e(suite.scenario)}: every check</h2>")
        if suite.output:
            parts.append(f"<p>Timeline, messages and events: <code>{e(suite.output)}</code></p>")
        parts.append("<table><tr><th>check</th><th>verdict</th><th>rule</th><th>expected</th><th>seen</th></tr>")
        for case in suite.cases:
            mark = '<td class="ok">pass</td>' if case.holds else '<td class="ko">FAIL</td>'
            parts.append(f"<tr><td>{e(case.name)}</td>{mark}<td><code>{e(case.rule)}</code></td>"
                         f"<td>{e(case.expected)}</td><td>{e(case.seen)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
