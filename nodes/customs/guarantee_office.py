"""The office of guarantee: answers guarantee uses (CD203C → CD205C) and cancellations (CD204C).

It keeps the register of comprehensive guarantees (`CustomsState.guarantees`, by GRN) and reserves the
share of each declared amount that the holder's risk level asks for (guarantee.py). A GRN missing from
the register is refused with G01. Releasing is idempotent, so a CD204C that arrives twice, or for a
movement that never reserved anything, frees nothing and is only logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from nodes.customs.guarantee import RiskLevel, cents, refusal, release, reserve
from nodes.customs.ledger import CustomsState
from nodes.customs.model import GuaranteeUse, GuaranteeUseCancellation, GuaranteeUseResult
from nodes.customs.step import Step, mrn_pointer, nta
from nodes.customs.tables import require_valid_mrn
from nodes.records import put

__all__ = ["receive"]


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def receive(step: Step, state: CustomsState, office: str, message: Any) -> CustomsState:
    require_valid_mrn(message.mrn, pointer=mrn_pointer(message.code))
    return _HANDLERS[message.code](step, state, office, message)


def _use(step: Step, state: CustomsState, office: str, use: GuaranteeUse) -> CustomsState:
    """Reserve on the GRN and answer with CD205C: the amount reserved and the balance, or the G-code."""
    account = state.guarantees.get(use.grn)
    level = step.config.risk_levels.get(use.holder, RiskLevel.STANDARD)
    if account is None:
        currency, result = use.currency, refusal(use.grn, "G01", cents(Decimal("0")))
    else:
        currency = account.currency
        account, result = reserve(account, use.mrn, use.amount, use.holder, use.access_code, level)
        state = replace(state, guarantees=put(state.guarantees, use.grn, account))
    reason = result.reason
    step.send(
        GuaranteeUseResult,
        to=nta(use.office_of_departure),
        about=use.mrn,
        mrn=use.mrn,
        grn=use.grn,
        accepted=result.accepted,
        reason_code=reason.code if reason else None,
        reason_text=reason.text if reason else None,
        amount_reserved=result.amount_reserved,
        balance_available=result.balance,
        currency=currency,
        office_of_guarantee=office,
        office_of_departure=use.office_of_departure,
    )
    balance = _money(result.balance, currency)
    if reason is None:
        reserved = f"{_money(result.amount_reserved, currency)} ({level.value} of {_money(use.amount, use.currency)})"
        detail = f"reserved {reserved} on GRN {use.grn}, balance {balance}"
    else:
        detail = f"refused {reason.code} ({reason.text}) on GRN {use.grn}, balance {balance}"
    step.note("guarantee", office, use.mrn, detail)
    return state


def _cancel(step: Step, state: CustomsState, office: str, cancellation: GuaranteeUseCancellation) -> CustomsState:
    account = state.guarantees.get(cancellation.grn)
    if account is None:
        step.note(
            "guarantee", office, cancellation.mrn, f"nothing to release: GRN {cancellation.grn} is not registered"
        )
        return state
    held = cancellation.mrn in account.reservations
    account, freed = release(account, cancellation.mrn)
    what = f"released {_money(freed, account.currency)}" if held else "nothing reserved (already released)"
    step.note(
        "guarantee",
        office,
        cancellation.mrn,
        f"{what} on GRN {account.grn}, balance {_money(account.available, account.currency)}",
    )
    return replace(state, guarantees=put(state.guarantees, account.grn, account))


_HANDLERS: Mapping[str, Callable[[Step, CustomsState, str, Any], CustomsState]] = {"CD203C": _use, "CD204C": _cancel}
