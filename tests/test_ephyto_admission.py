"""The ePhyto failed acknowledgement at delivery, through a node's intake (`Node.receive`, what `POST /inbox`
answers): a push the NPPO will never take is refused naming the document, the place and the rule, and is
judged against the records every earlier push left, in order, however quickly the pushes follow each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from exchange.clock import VirtualClock
from exchange.envelope import Envelope
from exchange.errors import ProtocolError
from exchange.pki import ScenarioPKI
from exchange.signing import sign_document
from exchange.validation import detect
from nodes.ephyto.codec import encode
from nodes.ephyto.desk import EphytoDesk
from nodes.ephyto.nppo import Nppo, NppoState, Outcome
from nodes.ephyto.scenario import EphytoScenario
from nodes.language import load_scenario
from nodes.node import Node

SUITE = Path(__file__).resolve().parent.parent / "scenarios" / "conformance" / "ephyto-import.yaml"
SCENARIO = load_scenario(SUITE)
NOW = SCENARIO.start + timedelta(hours=1)


@dataclass
class Importer:
    node: Node
    pki: ScenarioPKI

    def pushed(self, outcome: Outcome) -> bytes:
        """What uz's node submits for the one document `outcome` sends, as the hub pushes it to ge."""
        (send,) = outcome.sends
        root = encode(send.document)
        document = sign_document(root, self.pki.credentials("uz"))  # an ePhyto carries its NPPO's signature
        envelope = Envelope(str(detect(root).message_id(root)), None, "uz", "ge", "SPSCertificate", NOW, document)
        return envelope.signed(self.pki.credentials("uz"))

    async def settled(self) -> None:
        for _ in range(2000):
            if await self.node.in_flight() == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the importer's inbox did not drain")


@pytest.fixture
async def importer(tmp_path: Path) -> AsyncIterator[Importer]:
    pki = ScenarioPKI.generate(["uz", "ge"], valid_from=NOW - timedelta(days=1))
    node = await Node.open("ge", tmp_path / "ge.sqlite", pki.trust_store(), pki.credentials("ge"), VirtualClock(NOW),
                           "http://127.0.0.1:9", {"ephyto": EphytoDesk(SCENARIO, "ge")})
    await node.start()
    try:
        yield Importer(node, pki)
    finally:
        await node.stop()


EPHYTO = EphytoScenario(SCENARIO)
EXPORTER = Nppo(EPHYTO.nppo("uz"))


def _issue(state: NppoState, key: str) -> Outcome:
    return EXPORTER.issue(state, EPHYTO.certificate(key, "UZ"), NOW)


async def test_a_withdrawal_pushed_right_behind_its_certificate_is_judged_after_it(importer: Importer) -> None:
    issued = _issue(NppoState(), "PC1")
    withdrawn = EXPORTER.withdraw(issued.state, "UZ-PC-2026-000901", "Cancelled", NOW)
    first = await importer.node.receive(importer.pushed(issued))
    second = await importer.node.receive(importer.pushed(withdrawn))  # no wait: the certificate may be unprocessed
    assert not first["duplicate"] and not second["duplicate"]
    await importer.settled()
    state = await importer.node.state()
    assert state["ephyto"]["received"]["PC1"]["status"] == "Withdrawn"
    again = await importer.node.receive(importer.pushed(withdrawn))  # a duplicate is absorbed, never judged again
    assert again["duplicate"] and again["inboxId"] == second["inboxId"]


async def test_a_withdrawal_of_a_certificate_never_received_is_refused_and_nothing_is_stored(
    importer: Importer,
) -> None:
    issued = _issue(NppoState(), "PC3")
    withdrawn = EXPORTER.withdraw(issued.state, "UZ-PC-2026-000903", "Cancelled", NOW)
    with pytest.raises(ProtocolError) as refused:
        await importer.node.receive(importer.pushed(withdrawn))
    assert refused.value.as_dict() == {
        "error": "protocol-error", "document": "SPSCertificate", "path": "/SPSCertificate/SPSExchangedDocument/ID",
        "rule": "unknown-certificate",
        "message": "withdrawal of certificate UZ-PC-2026-000903, which was never received here",
    }
    assert (await importer.node.status())["inbox_pending"] == 0 and await importer.node.events() == []
    assert (await importer.node.state())["ephyto"]["received"] == {}


async def test_a_push_that_finds_the_inbox_empty_is_decided_in_the_one_commit_that_files_it(
    importer: Importer,
) -> None:
    commits: list[int] = []
    importer.node.database.on_commit(lambda: commits.append(1))
    receipt = await importer.node.receive(importer.pushed(_issue(NppoState(), "PC2")))
    committed_by_the_push = len(commits)
    # answered only once decided: nothing waits in the inbox, and the decision's events are already there
    assert (await importer.node.status())["inbox_pending"] == 0
    assert any(event["reference"] == "UZ-PC-2026-000902" for event in await importer.node.events())
    assert committed_by_the_push == 1 and not receipt["duplicate"]
    again = await importer.node.receive(importer.pushed(_issue(NppoState(), "PC2")))
    assert again["duplicate"] and again["inboxId"] == receipt["inboxId"]
