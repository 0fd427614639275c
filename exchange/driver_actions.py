"""The steps the scenario driver takes itself: timeline notes, faults on the wire, restarts, the scenario
CA's certificate actions and security drills. Each is a `StepAction` of the scenario language, so the
same table types its arguments, lists it in "known:" answers and documents it in docs/SCENARIOS.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import Field

from exchange.drills import ATTACKS
from exchange.errors import ScenarioError
from exchange.faults import FAULT_KINDS, fault_from_step
from exchange.language import Code, NodeId, Record, Span, StepAction, Text, suggest
from exchange.scenario import known_type
from exchange.yamlmarks import KeyPath

__all__ = ["DRIVER_ACTIONS", "DRIVER_STEP_ACTIONS", "FAULT_ACTIONS", "HUB_TARGET", "NOTE"]

NOTE = "note"
"""A step that only writes its `text` into the timeline, e.g. a leg outside the administrations."""
HUB_TARGET = "hub"
"""What `restart` names besides node ids."""

FaultKind = Literal[tuple(FAULT_KINDS)]  # type: ignore[valid-type]
AttackKind = Literal[tuple(ATTACKS)]  # type: ignore[valid-type]


class NoteArguments(Record):
    text: Text = Field(description="the line written into the timeline")


class FaultArguments(Record):
    kind: FaultKind = Field(description="offline, partition, latency, reorder, drop, duplicate or corrupt")
    between: list[NodeId] | None = Field(None, description="partition: the two nodes that cannot see each other")
    sender: NodeId | None = Field(None, alias="from", description="link faults: the sending node")
    recipient: NodeId | None = Field(None, alias="to", description="link faults: the receiving node")
    type: Code | None = Field(None, description="link faults: only this message type")
    count: int | None = Field(None, description="counted faults: how many transmissions it hits (default 1)")
    leg: Literal["submit", "push"] | None = Field(
        None, description="counted faults: submit (node → hub, default) or push (hub → node)")
    lasting: Span | None = Field(None, alias="for", description="the fault ends by itself after this span")
    delay: Span | None = Field(None, description="latency: how long each envelope is held")


class HealArguments(Record):
    kind: FaultKind | None = Field(None, description="heal only faults of this kind")
    between: list[NodeId] | None = Field(None, description="heal only the partition between these nodes")
    sender: NodeId | None = Field(None, alias="from", description="heal only faults on links from this node")
    recipient: NodeId | None = Field(None, alias="to", description="heal only faults on links to this node")
    type: Code | None = Field(None, description="heal only faults on this message type")
    leg: Literal["submit", "push"] | None = Field(None, description="heal only faults on this leg")


class RestartArguments(Record):
    target: NodeId = Field(description="hub or a node id: stopped and started again on the same port and store")


class CertificateArguments(Record):
    target: NodeId = Field(description="the node whose signing certificate the scenario CA acts on")


class MessageSelector(Record):
    type: Code | None = Field(None, description="message type of the captured message")
    sender: NodeId | None = Field(None, description="its sending node")
    recipient: NodeId | None = Field(None, description="its receiving node")


class AttackArguments(Record):
    kind: AttackKind = Field(description="tamper, forged_sender, impersonate, wrapping or replay")
    message: MessageSelector = Field(default_factory=MessageSelector,
                                     description="which captured message the attack re-uses (the latest match)")
    party: NodeId | None = Field(None, alias="as", description="the node whose TLS identity submits it")
    sender_party: Code | None = Field(None, description="impersonate: the sender written into the document")


class VariantArguments(Record):
    message: MessageSelector = Field(default_factory=MessageSelector,
                                     description="which captured message the variant is made of (the latest match)")
    changes: dict[Code, Text] = Field(default_factory=dict, alias="set",
                                      description="element local name (or a path of them, Office/referenceNumber) → "
                                                  "new text, every occurrence; the message id gets a suffix unless a "
                                                  "change gives it a new one")


def _nodes_named(document: Any, names: Mapping[str, str | None]) -> Iterator[tuple[KeyPath, str]]:
    for key, value in names.items():
        if value is not None and value not in document.nodes:
            yield (key,), f"is {value!r}{suggest(value, document.nodes)}, not one of {', '.join(document.nodes)}"


def _check_fault(document: Any, step: Any, arguments: FaultArguments) -> Iterator[tuple[KeyPath, str]]:
    """The fault as the driver will build it at the step's instant, so a bad combination (a partition of one node)
    or a window past the calendar is found now."""
    yield from known_type(("type",), arguments.type)
    said = arguments.model_dump(by_alias=True, exclude_none=True)
    try:
        fault_from_step("check", step.at, step.node or "", said, list(document.nodes))
    except ScenarioError as exc:
        yield (), exc.message


def _check_heal(document: Any, step: Any, arguments: HealArguments) -> Iterator[tuple[KeyPath, str]]:
    yield from known_type(("type",), arguments.type)
    yield from _nodes_named(document, {"from": arguments.sender, "to": arguments.recipient})
    for index, node in enumerate(arguments.between or ()):
        yield from ((("between", index), message) for _, message in _nodes_named(document, {"": node}))


def _check_restart(document: Any, step: Any, arguments: RestartArguments) -> Iterator[tuple[KeyPath, str]]:
    if arguments.target != HUB_TARGET and arguments.target not in document.nodes:
        known = [HUB_TARGET, *document.nodes]
        yield ("target",), f"is {arguments.target!r}{suggest(arguments.target, known)}; name {', '.join(known)}"


def _check_target(document: Any, step: Any, arguments: CertificateArguments) -> Iterator[tuple[KeyPath, str]]:
    yield from _nodes_named(document, {"target": arguments.target})


def _check_selector(document: Any, selector: MessageSelector) -> Iterator[tuple[KeyPath, str]]:
    yield from known_type(("message", "type"), selector.type)
    for key, value in (("sender", selector.sender), ("recipient", selector.recipient)):
        for _, message in _nodes_named(document, {key: value}):
            yield ("message", key), message


def _check_attack(document: Any, step: Any, arguments: AttackArguments) -> Iterator[tuple[KeyPath, str]]:
    yield from _nodes_named(document, {"as": arguments.party})
    yield from _check_selector(document, arguments.message)


def _check_variant(document: Any, step: Any, arguments: VariantArguments) -> Iterator[tuple[KeyPath, str]]:
    yield from _check_selector(document, arguments.message)


DRIVER_STEP_ACTIONS: tuple[StepAction, ...] = (
    StepAction(NOTE, "driver", NoteArguments, "write a line into the timeline (e.g. a leg outside the "
               "administrations)", node="none"),
    StepAction("fault", "driver", FaultArguments, "install a network fault in scenario time on every component",
               node="optional", check=_check_fault),
    StepAction("heal", "driver", HealArguments, "remove every fault, or those whose step said all the given "
               "arguments", node="optional", check=_check_heal),
    StepAction("restart", "driver", RestartArguments, "stop a component and start it again on the same port and "
               "store (caravan run only, not --attach)", node="none", check=_check_restart),
    StepAction("attack", "driver", AttackArguments, "security drill: send a hostile variant of a captured message "
               "to the hub", node="none", check=_check_attack),
    StepAction("send_variant", "driver", VariantArguments, "conformance: a node sends a variant of a message it "
               "sent (changed content, new id, signed by itself) to test how the recipient answers it",
               node="none", check=_check_variant),
    *(StepAction(name, "driver", CertificateArguments, summary, node="none", check=_check_target)
      for name, summary in (
          ("revoke_certificate", "the scenario CA revokes a node's signing certificate (published in its CRL)"),
          ("rotate_certificate", "the scenario CA issues a node a new signing certificate and key"),
          ("expire_certificate", "the scenario CA cuts a node's signing certificate short: it expires now"),
      )),
)

DRIVER_ACTIONS = frozenset(action.name for action in DRIVER_STEP_ACTIONS)
"""Steps the scenario driver takes itself (timeline notes, the scenario CA, security drills, faults)."""
FAULT_ACTIONS = frozenset({"fault", "heal", "restart"})
"""Steps that script the wire and the components' lives: install a fault, heal faults, restart a component."""
