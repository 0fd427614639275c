"""Judging a node by what crossed the hub: the conformance checks that need nothing of the node but its traffic.

A national system under test is a black box: caravan never reads its state. What it can be judged on is
what the hub saw (issue 10):

1. the messages it sent that the hub accepted: which types, to whom, about which movement or certificate,
   holding what, in which order (`follows`) and how long after the message they answer (`answers`,
   `within`) (`expect: exchanges`, `judge_exchange`);
2. the messages it sent that the hub refused: schema, signature, identity, time window (`refused_from`);
3. how it answered the hub's pushes: 2xx, a refusal, or nothing (`pushes_answered`); and where the
   standard says it must refuse one at delivery (an ePhyto failed acknowledgement), that it did, naming
   the rule (`expect: pushes`, `judge_push`);
4. that it sent anything at all: a system that answers 200 to everything and sends nothing fails
   (`sent_anything`).

Every check is a `Check` with the rule it applies and the evidence for its verdict (the message, its
delivery id, the hub's words), so a report can show what was expected and what was seen.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from exchange.faults import duration

__all__ = [
    "Check", "DocumentTexts", "WireMessage", "judge_exchange", "judge_push", "pushes_answered", "pushes_of",
    "refused_from", "sent_anything",
]


@dataclass(frozen=True)
class Check:
    """One expectation and whether it held; `rule` names what it applies (for reports), `actual` is the evidence."""

    what: str
    expected: str
    actual: str
    holds: bool
    rule: str = ""


@dataclass(frozen=True)
class WireMessage:
    """One envelope the hub accepted, as the hub tracks it."""

    seq: int  # the hub's delivery id: its order of acceptance
    at: str  # accepted at, hub (scenario) time, ISO-8601
    sender: str
    recipient: str
    code: str
    correlation: str | None
    document: bytes
    state: str  # pending, delivered or failed
    last_error: str | None = None
    attempts: int = 0

    @property
    def label(self) -> str:
        return f"{self.code} #{self.seq} {self.sender}→{self.recipient} at {self.at}"


def judge_exchange(wanted: Mapping[str, object], messages: Sequence[WireMessage], references: Collection[str]) -> Check:
    """One `expect: exchanges` entry against the hub's messages; `references` are the correlation ids `about`
    stands for (a movement's LRN and MRN, or the text itself)."""
    sender, code = str(wanted["from"]), str(wanted["type"])
    recipient = wanted.get("to")
    answers, within, count = wanted.get("answers"), wanted.get("within"), wanted.get("count")
    contains = {str(name): str(text) for name, text in (wanted.get("contains") or {}).items()}  # type: ignore[attr-defined]
    what = str(wanted.get("name") or _describe(wanted))
    rule = "exchange-count" if count is not None else "exchange-sent"

    def about(message: WireMessage) -> bool:
        return not references or message.correlation in references

    trigger = None
    if answers:
        triggers = [m for m in messages if m.code == answers and m.recipient == sender and about(m)]
        if not triggers:
            seen = _listing([m for m in messages if m.recipient == sender]) or "nothing"
            return Check(what, f"an answer to {answers} sent to {sender}", f"no {answers} reached {sender} "
                         f"(sent to it: {seen})", False, "exchange-trigger")
        trigger = triggers[-1]
    found = [m for m in messages if m.sender == sender and m.code == code and about(m)
             and (recipient is None or m.recipient == recipient) and (trigger is None or m.seq > trigger.seq)]
    after = f" after {trigger.label}" if trigger else ""
    holding = [m for m in found if _holds(m.document, contains)]
    wanted_text = (" holding " + ", ".join(f"{name}={text}" for name, text in contains.items())) if contains else ""
    if count is not None and len(holding) != int(str(count)):
        return Check(what, f"{count} × {code}{wanted_text} from {sender}{after}",
                     f"{len(holding)}: {_listing(holding) or 'none'}", False, rule)
    if count is None and not found:
        others = [m for m in messages if m.sender == sender and (trigger is None or m.seq > trigger.seq)]
        return Check(what, f"{code} from {sender}{after}", f"none; {sender} sent {_listing(others) or 'nothing'}",
                     False, rule)
    if count is None and not holding:
        return Check(what, f"{code}{wanted_text}", "; ".join(
            f"{m.label}: {_shown(m.document, contains)}" for m in found), False, "exchange-content")
    taken = [m for m in holding if m.state == "delivered"]
    if count is None and not taken:  # sent is not exchanged: the recipient refused it, or never answered
        return Check(what, f"{code}{wanted_text} from {sender}{after} taken by its recipient",
                     "; ".join(f"{m.label}: {_answer(m)}" for m in holding), False, "exchange-refused")
    found = holding if count is not None else taken
    follows = wanted.get("follows")
    if follows and found:
        earlier = [m for m in messages if m.sender == sender and m.code == follows and about(m)]
        if not earlier or earlier[0].seq > found[0].seq:
            seen = f"{found[0].label} came first" + (f", {earlier[0].label} after it" if earlier else
                                                     f", and {sender} sent no {follows}")
            return Check(what, f"{sender}'s {follows} before its {code}", seen, False, "exchange-order")
    if trigger is not None and within and found:
        limit = duration(str(within))
        first = found[0]
        late = _moment(first.at) - _moment(trigger.at)
        if late > limit:
            return Check(what, f"{code} within {within} of {trigger.label}", f"{first.label}: {late} later",
                         False, "exchange-time-limit")
    return Check(what, f"{count if count is not None else '≥1'} × {code} from {sender}{after}",
                 _listing(found) or "none sent, as expected", True, rule)


def pushes_of(wanted: Mapping[str, object], messages: Sequence[WireMessage],
              references: Collection[str]) -> list[WireMessage]:
    """The hub's pushes an `expect: pushes` entry is about: of its type, to its node (from its sender, about
    its references when given)."""
    recipient, code, sender = str(wanted["to"]), str(wanted["type"]), wanted.get("from")
    return [m for m in messages if m.recipient == recipient and m.code == code
            and (sender is None or m.sender == sender) and (not references or m.correlation in references)]


def judge_push(wanted: Mapping[str, object], messages: Sequence[WireMessage], references: Collection[str]) -> Check:
    """One `expect: pushes` entry: every push it is about was refused with a 4xx naming its rule (the delivery
    failed, the hub keeping the answer in `last_error`), or taken with a 2xx. A push that got no answer, or
    that ran out of attempts, is neither."""
    recipient, code = str(wanted["to"]), str(wanted["type"])
    refused = str(wanted.get("answer", "refused")) == "refused"
    rule = wanted.get("rule")
    about = f" about {wanted['about']}" if wanted.get("about") else ""
    what = str(wanted.get("name") or f"{recipient} {'refuses' if refused else 'takes'} {code}{about}")
    expected = (f"{code}{about} pushed to {recipient} refused with a 4xx" + (f" naming rule {rule}" if rule else "")
                if refused else f"{code}{about} pushed to {recipient} taken with a 2xx")
    pushed = pushes_of(wanted, messages, references)
    if not pushed:
        return Check(what, expected, f"no {code}{about} was pushed to {recipient}", False, "push-sent")

    def holds(message: WireMessage) -> bool:
        if not refused:
            return message.state == "delivered"
        named = _refusal_rule(message.last_error)
        return message.state == "failed" and named is not None and (rule is None or named == rule)

    wrong = [m for m in pushed if not holds(m)]
    evidence = "; ".join(f"{m.label}: {_answer(m)}" for m in (wrong or pushed))
    return Check(what, expected, evidence, not wrong, "push-refusal" if refused else "push-answer")


_FINAL_4XX = re.compile(r"HTTP 4(?!08|29)\d\d: ")


def _refusal_rule(last_error: str | None) -> str | None:
    """The rule a delivery's last answer named ("" none) when that answer was a refusal, a 4xx other than the 408
    and 429 the hub retries; else None. `exchange.client.Answer.describe` wrote it: its last bracket names the
    rule, whatever words of the message look like one."""
    if last_error is None or not _FINAL_4XX.match(last_error):
        return None
    start = last_error.rfind(" [rule ")
    if start < 0 or not last_error.endswith("]"):
        return ""
    return last_error[start + len(" [rule "):-1].split(" at ", 1)[0]


def _answer(message: WireMessage) -> str:
    if message.state == "delivered":
        return "taken (2xx)"
    return f"{message.state} after {message.attempts} attempt(s), last answer: {message.last_error or 'none'}"


def refused_from(node: str, refusals: Sequence[Mapping[str, object]]) -> Check:
    """Every message `node` submitted passed the hub's checks (schema, signature, identity, time window)."""
    own = [r for r in refusals if node in (r.get("sender"), r.get("peer"))]
    evidence = "; ".join(f"{r.get('message_type') or 'request'} {r.get('message_id') or ''} refused "
                         f"[{r.get('rule')}] {r.get('message')}" for r in own)
    return Check(f"the hub accepted every message {node} sent", "no refusal", evidence or "no refusal", not own,
                 str(own[0].get("rule")) if own else "hub-checks")


def pushes_answered(node: str, messages: Sequence[WireMessage], refusals_expected: Collection[int] = ()) -> Check:
    """Every push of the hub to `node` was answered 2xx (its inbox stored the message), except the deliveries
    (`refusals_expected`, by id) the scenario says it must refuse, which `judge_push` judges."""
    pushed = [m for m in messages if m.recipient == node and m.seq not in refusals_expected]
    unanswered = [m for m in pushed if m.state != "delivered"]
    evidence = "; ".join(f"{m.label}: {_answer(m)}" for m in unanswered)
    return Check(f"{node} answered every push 2xx ({len(pushed)} pushed)", "delivered",
                 evidence or f"{len(pushed)} delivered", not unanswered, "push-answer")


def sent_anything(node: str, messages: Sequence[WireMessage]) -> Check:
    """A system that answers everything and sends nothing conforms to nothing."""
    sent = [m for m in messages if m.sender == node]
    return Check(f"{node} sent messages the hub accepted", "at least one", _listing(sent) or "nothing", bool(sent),
                 "sent-anything")


def _describe(wanted: Mapping[str, object]) -> str:
    count = wanted.get("count")
    how = "no" if count == 0 else (f"{count} ×" if count is not None else "")
    parts = [f"{wanted['from']} sends {how} {wanted['type']}".replace("  ", " ")]
    if wanted.get("to"):
        parts.append(f"to {wanted['to']}")
    if wanted.get("about"):
        parts.append(f"about {wanted['about']}")
    if wanted.get("answers"):
        parts.append(f"answering {wanted['answers']}")
    if wanted.get("within"):
        parts.append(f"within {wanted['within']}")
    if wanted.get("follows"):
        parts.append(f"after its {wanted['follows']}")
    return " ".join(parts)


def _listing(messages: Sequence[WireMessage]) -> str:
    shown = ", ".join(m.label for m in messages[:8])
    return shown + (f" and {len(messages) - 8} more" if len(messages) > 8 else "")


class DocumentTexts:
    """The texts of a document's elements, each under the path of local names from its root
    (`CD018C/ControlResult/code`), found by a `contains:` key: an element's local name (`code`, anywhere), or the
    end of its path (`ControlResult/code`: only a `code` whose parent is a `ControlResult`)."""

    def __init__(self, document: bytes) -> None:
        self._texts: dict[str, set[str]] = {}
        root = etree.fromstring(document)
        for element in root.iter():
            if isinstance(element.tag, str) and element.text and element.text.strip():
                path = "/".join(etree.QName(e).localname for e in (*reversed(list(element.iterancestors())), element))
                self._texts.setdefault(f"/{path}", set()).add(element.text.strip())

    def at(self, key: str) -> set[str]:
        """Every text of an element whose path ends with `key`."""
        ending = f"/{key}"
        return {text for path, texts in self._texts.items() if path.endswith(ending) for text in texts}

    def hold(self, contains: Mapping[str, str]) -> bool:
        return all(text in self.at(key) for key, text in contains.items())


def _holds(document: bytes, contains: Mapping[str, str]) -> bool:
    return DocumentTexts(document).hold(contains)


def _shown(document: bytes, contains: Mapping[str, str]) -> str:
    texts = DocumentTexts(document)
    return ", ".join(f"{key}={'/'.join(sorted(texts.at(key))) or 'absent'}" for key in contains)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
