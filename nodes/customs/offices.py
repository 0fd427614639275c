"""One country's customs administration: its offices of departure, transit, destination and guarantee.

`CustomsAdministration` is sans-IO (ecosystem.md §5.1). Each call takes the state, one thing that
happened (a message, an officer's action, the passing of time) and the scenario time, and returns an
`Outcome`: the new state, the messages to send, the events to log. It routes a message to the office
it names (`RECEIVE_ROUTES`), and that office applies it only if its transition table allows.

A message that cannot be applied never changes a movement: it is answered (CC056C to a holder, CC057C
to a trader at destination, CD906C to another NTA) with the functional error NCTS would give (12 office
unknown, 90 unknown MRN, 92 out of sequence, 93 invalid MRN) and logged as a "rejected" event; only the
message counter moves, because the answer is a message too. Officers' actions that do not fit raise
ProtocolError instead: nobody sent them, so there is nobody to answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any

from exchange.errors import ProtocolError
from nodes.customs import departure, destination, guarantee_office, transit
from nodes.customs.actions import (
    Action,
    PresentAtTransit,
    RecordControl,
    RecordDepartureControl,
    RecordIncident,
    ResolveDiscrepancies,
)
from nodes.customs.config import OFFICE_CODE_LISTS, CustomsConfig, Office
from nodes.customs.ledger import CustomsState
from nodes.customs.model import CatsMessage, FunctionalError, FunctionalNack, TransitDeclaration
from nodes.customs.outcome import Event, Outcome
from nodes.customs.refusals import functional_error, reference_of, refuse
from nodes.customs.step import Step
from nodes.customs.tables import RECEIVE_ROUTES

__all__ = ["ACTION_ROLES", "CustomsAdministration", "CustomsConfig", "CustomsState", "Event", "Office", "Outcome"]

ROLE_NAMES: Mapping[str, str] = {"DEP": "departure", "DES": "destination", "TRA": "transit", "GUA": "guarantee"}

_RECEIVERS: Mapping[str, Callable[[Step, CustomsState, str, Any], CustomsState]] = {
    "DEP": departure.receive,
    "TRA": transit.receive,
    "DES": destination.receive,
    "GUA": guarantee_office.receive,
}

ACTION_ROLES: Mapping[type, tuple[str, Callable[[Step, CustomsState, Any], CustomsState]]] = {
    PresentAtTransit: ("TRA", transit.act),
    RecordControl: ("DES", destination.act),
    ResolveDiscrepancies: ("DEP", departure.act),
    RecordDepartureControl: ("DEP", departure.act),
    RecordIncident: ("TRA", transit.act),
}
"""Action → the role of the office where it happens, and that office's handler."""


class CustomsAdministration:
    """The customs of `config.country`; holds only configuration, never state."""

    def __init__(self, config: CustomsConfig) -> None:
        self.config = config

    def initial_state(self) -> CustomsState:
        return CustomsState.initial(self.config)

    def receive(
        self,
        state: CustomsState,
        message: CatsMessage,
        now: datetime,
        rule_violations: tuple[FunctionalError, ...] = (),
    ) -> Outcome[CustomsState]:
        """Apply one message addressed to this administration.

        `rule_violations` are the business-rule findings the codec made (codes 12-15 with pointers).
        A declaration with findings is rejected and its LRN used up; any other message with findings
        is refused unchanged. Raises ProtocolError for a message no customs office receives (e.g.
        CC029C): that is a routing bug, not something to answer.
        """
        step = Step(self.config, state.message_serial, now)
        if isinstance(message, FunctionalNack):
            listed = "; ".join(f"{error.error_code} {error.error_reason}" for error in message.errors)
            refused = f"{message.original_message_type} {message.original_message_id}"
            step.note(
                "nack",
                message.header.recipient,
                message.mrn or "",
                f"{refused} refused by {message.header.sender}: {listed}",
            )
            return step.outcome(state)
        route = RECEIVE_ROUTES.get(message.code)
        if route is None:
            raise ProtocolError(f"no customs office receives {message.code}", rule="12")
        office = attrgetter(route.field)(message)
        if not self.config.runs(office, route.role):
            pointer = f"/{message.code}/{route.element}/referenceNumber"
            text = f"{office} is not an office of {ROLE_NAMES[route.role]} of {self.config.country}"
            refuse(
                step, message, office, (FunctionalError(pointer, "12", OFFICE_CODE_LISTS[route.role], office),), text
            )
            return step.outcome(state)
        if isinstance(message, TransitDeclaration):
            return step.outcome(departure.declare(step, state, office, message, rule_violations))
        if rule_violations:
            refuse(step, message, office, rule_violations, f"{message.code} breaks {len(rule_violations)} rule(s)")
            return step.outcome(state)
        try:
            return step.outcome(_RECEIVERS[route.role](step, state, office, message))
        except ProtocolError as error:
            answer = Step(self.config, state.message_serial, now)  # drop anything the office began to send
            refuse(answer, message, office, (functional_error(error, reference_of(message)),), error.message)
            return answer.outcome(state)

    def act(self, state: CustomsState, action: Action, now: datetime) -> Outcome[CustomsState]:
        """Carry out what an officer does at one of this administration's offices.

        Raises ProtocolError when the office is not ours in the needed role, UnknownMovement (90) when
        it does not know the MRN, OutOfSequence (92) when the movement is not in a state for it.
        """
        role, handle = ACTION_ROLES[type(action)]
        if not self.config.runs(action.office, role):
            raise ProtocolError(
                f"{action.office} is not an office of {ROLE_NAMES[role]} of {self.config.country}", rule="12"
            )
        step = Step(self.config, state.message_serial, now)
        return step.outcome(handle(step, state, action))

    def tick(self, state: CustomsState, now: datetime) -> Outcome[CustomsState]:
        """Let every deadline that has passed by `now` take effect: CC051C after the amendment period,
        CC140C (enquiry) after the time limit of a released movement that has not arrived."""
        step = Step(self.config, state.message_serial, now)
        return step.outcome(departure.tick(step, state))
