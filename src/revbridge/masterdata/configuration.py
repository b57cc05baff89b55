"""A Configuration is master data plus the rulebook, with the look-ups ``rules.apply`` needs.

Every look-up returns the value or a located, PHI-free ``Problem``; none of them guesses. Values
as sent are matched exactly (after trimming surrounding blanks): a payer id that differs by one
character is unmapped, and the work queue says so, rather than posted to the nearest payer.
The indexes are built once, when the Configuration is made; the loader has already refused
ambiguous configurations (one identifier naming two facilities, an alias naming two payers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger.role import AccountRole
from revbridge.masterdata.model import (
    AdjustmentCategory,
    Department,
    Facility,
    LegalEntity,
    MasterData,
    Payer,
)
from revbridge.masterdata.rulebook import Rulebook


def _shown(value: str) -> str:
    # Values as sent are echoed so the work item says what to map; a runaway field is cut short.
    return value if len(value) <= 64 else value[:61] + "..."


def _problem(
    code: ProblemCode, message: str, where: SourceRef, event_key: str | None, **details: str
) -> Problem:
    return Problem(
        code=code,
        message=message,
        where=where,
        event_key=event_key,
        details=tuple(sorted((k, _shown(v)) for k, v in details.items())),
    )


@dataclass(frozen=True, slots=True)
class Configuration:
    master: MasterData
    rulebook: Rulebook
    _facility_by_id: dict[str, Facility] = field(init=False, repr=False, compare=False)
    _legal_entity: dict[str, LegalEntity] = field(init=False, repr=False, compare=False)
    _department: dict[tuple[str, str], Department] = field(init=False, repr=False, compare=False)
    _payer_by_alias: dict[str, Payer] = field(init=False, repr=False, compare=False)
    _category: dict[str, AdjustmentCategory] = field(init=False, repr=False, compare=False)
    _carc: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False)
    _plb: dict[str, AccountRole] = field(init=False, repr=False, compare=False)
    _transaction: dict[str, str] = field(init=False, repr=False, compare=False)
    _account: dict[tuple[AccountRole, str, str], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        m = self.master
        put = object.__setattr__
        put(self, "_facility_by_id", {i: f for f in m.facilities for i in f.identifiers.all()})
        put(self, "_legal_entity", {e.code: e for e in m.legal_entities})
        put(self, "_department", {(d.facility, d.code): d for d in m.departments})
        put(self, "_payer_by_alias", {a: p for p in m.payers for a in p.aliases})
        put(self, "_category", {c.code: c for c in m.categories})
        put(self, "_carc", {(r.group, r.reason): r.category for r in m.carc_rules})
        put(self, "_plb", {r.reason: r.role for r in m.plb_rules})
        put(self, "_transaction", {t.code: t.category for t in m.transaction_codes})
        put(
            self, "_account", {(a.role, a.legal_entity, a.payer_class): a.account for a in m.account_mappings}
        )

    # ---- organisation ---------------------------------------------------------------------

    def facility(self, sent: str, where: SourceRef, event_key: str | None = None) -> Facility | Problem:
        value = sent.strip()
        found = self._facility_by_id.get(value) if value else None
        if found is not None:
            return found
        return _problem(
            ProblemCode.UNMAPPED_FACILITY,
            f'facility "{_shown(value)}" is not mapped to a facility'
            if value
            else "the event names no facility",
            where,
            event_key,
            value=value,
        )

    def facility_code(self, sent: str) -> str | None:
        """The facility code for a value as sent, for the store to key context by."""
        found = self._facility_by_id.get(sent.strip())
        return found.code if found is not None else None

    def legal_entity(self, code: str) -> LegalEntity:
        return self._legal_entity[code]

    def currency(
        self, amount: Money, entity: LegalEntity, where: SourceRef, event_key: str | None = None
    ) -> Problem | None:
        if amount.currency == entity.currency:
            return None
        return _problem(
            ProblemCode.UNSUPPORTED_CURRENCY,
            f"amount in {amount.currency}, but legal entity {entity.code} books in {entity.currency}",
            where,
            event_key,
            currency=amount.currency,
            legal_entity=entity.code,
        )

    def department(
        self, facility: Facility, sent: str, where: SourceRef, event_key: str | None = None
    ) -> Department | Problem:
        code = sent.strip()
        found = self._department.get((facility.code, code)) or self._department.get(("", code))
        if found is not None and code:
            return found
        return _problem(
            ProblemCode.UNMAPPED_DEPARTMENT,
            f'department "{_shown(code)}" is not mapped for facility {facility.code}'
            if code
            else "the event names no department",
            where,
            event_key,
            value=code,
            facility=facility.code,
        )

    # ---- payers ---------------------------------------------------------------------------

    def payer(self, sent: str, where: SourceRef, event_key: str | None = None) -> Payer | Problem:
        value = sent.strip()
        found = self._payer_by_alias.get(value) if value else None
        if found is not None:
            return found
        return _problem(
            ProblemCode.UNMAPPED_PAYER,
            f'payer "{_shown(value)}" is not mapped to a payer' if value else "the event names no payer",
            where,
            event_key,
            value=value,
        )

    def payer_class_of(self, sent: str, where: SourceRef, event_key: str | None = None) -> str | Problem:
        """The payer class for a primary payer id as sent; no payer at all means self-pay."""
        if not sent.strip():
            return self.master.self_pay_class
        payer = self.payer(sent, where, event_key)
        return payer if isinstance(payer, Problem) else payer.payer_class

    # ---- adjustment codes -----------------------------------------------------------------

    def carc(
        self, group: str, reason: str, where: SourceRef, event_key: str | None = None
    ) -> AdjustmentCategory | Problem:
        """The category of a CAS triple: the (group, reason) entry, else the group's default."""
        g, r = group.strip().upper(), reason.strip().upper()
        category = self._carc.get((g, r)) or self._carc.get((g, ""))
        if category is not None:
            return self._category[category]
        return _problem(
            ProblemCode.UNMAPPED_ADJUSTMENT_REASON,
            f"adjustment {_shown(g)}-{_shown(r)} has no category and group {_shown(g)} has no default",
            where,
            event_key,
            group=g,
            reason=r,
        )

    def plb(self, reason: str, where: SourceRef, event_key: str | None = None) -> AccountRole | Problem:
        code = reason.strip().upper()
        role = self._plb.get(code)
        if role is not None:
            return role
        return _problem(
            ProblemCode.UNMAPPED_PLB_REASON,
            f'provider-level adjustment reason "{_shown(code)}" is not mapped to an account role',
            where,
            event_key,
            reason=code,
        )

    def adjustment_category(
        self, *, code: str, stated: str, where: SourceRef, event_key: str | None = None
    ) -> AdjustmentCategory | Problem:
        """A patient-accounting adjustment's category: the one the sender states, else its code's."""
        if stated.strip():
            found = self._category.get(stated.strip())
            if found is not None:
                return found
            return _problem(
                ProblemCode.UNMAPPED_ADJUSTMENT_CATEGORY,
                f'adjustment category "{_shown(stated.strip())}" is not a configured category',
                where,
                event_key,
                value=stated.strip(),
            )
        category = self._transaction.get(code.strip())
        if category is not None:
            return self._category[category]
        return _problem(
            ProblemCode.UNMAPPED_ADJUSTMENT_REASON,
            f'adjustment code "{_shown(code.strip())}" is not mapped to a category',
            where,
            event_key,
            value=code.strip(),
        )

    # ---- accounts -------------------------------------------------------------------------

    def account(
        self,
        role: AccountRole,
        entity: LegalEntity,
        *,
        payer_class: str = "",
        department: Department | None = None,
        where: SourceRef,
        event_key: str | None = None,
    ) -> str | Problem:
        """Most specific first: a department's revenue account, then role x legal entity x payer
        class, role x payer class, role x legal entity, role alone."""
        if department is not None and role is AccountRole.GROSS_REVENUE:
            return department.revenue_account
        for key in (
            (role, entity.code, payer_class),
            (role, "", payer_class),
            (role, entity.code, ""),
            (role, "", ""),
        ):
            found = self._account.get(key)
            if found is not None:
                return found
        return _problem(
            ProblemCode.UNMAPPED_ACCOUNT,
            f"no account for role {role.value} in legal entity {entity.code}"
            + (f" and payer class {payer_class}" if payer_class else ""),
            where,
            event_key,
            role=role.value,
            legal_entity=entity.code,
            payer_class=payer_class,
        )
