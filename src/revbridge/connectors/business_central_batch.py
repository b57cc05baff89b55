"""One Business Central posting run planned: journal lines numbered across the batch, their
dimension set lines, the OData ``$batch`` operations that create them, and which of our journals
and lines an error names.

BC numbers journal lines (10000, 20000, ...) and its posting errors name a line
(``Line No.='20000'``) or a document number; the plan maps both back to our reference and our
1-based line number, so a refusal becomes a ``Rejection`` of that one journal, with its line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable
from revbridge.connectors.business_central_payload import (
    DIMENSIONS,
    document_number,
    error_of,
    external_number,
    named_document,
    named_line,
)
from revbridge.connectors.exports import exact_lines
from revbridge.ledger.journal import Journal

if TYPE_CHECKING:
    from revbridge.connectors.business_central import BusinessCentralSettings

LINE_STEP = 10000  # BC's own spacing of journal line numbers
JSON = {"Content-Type": "application/json"}


class Refused(Exception):
    """BC refused part of a run: its words, and the references (and our lines) it named; no
    references means it named none, and the whole run is refused."""

    def __init__(self, message: str, references: tuple[str, ...] = (), lines: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.references = references
        self.lines = lines


@dataclass(slots=True)
class Plan:
    references: tuple[str, ...]
    lines: list[dict[str, Any]] = field(default_factory=list)  # journalLines bodies, in order
    dimensions: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # BC line -> (code, value)
    where: dict[int, tuple[str, int]] = field(default_factory=dict)  # BC line -> (reference, our line)
    documents: dict[str, str] = field(default_factory=dict)  # documentNumber -> reference

    def line_operations(self, base: str) -> list[dict[str, Any]]:
        return [
            {
                "id": str(body["lineNumber"]),
                "method": "POST",
                "url": f"{base}/journalLines",
                "headers": JSON,
                "body": body,
            }
            for body in self.lines
        ]

    def dimension_operations(self, base: str, created: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One POST per dimension value of each line, to the line BC created (its id)."""
        operations = []
        for number, values in self.dimensions.items():
            line = created.get(str(number))
            line_id = line.get("id") if isinstance(line, dict) else None
            if not line_id:
                raise ConnectorUnavailable(f"BC answered line {number} without an id", uncertain=True)
            for k, (code, value) in enumerate(values, start=1):
                operations.append(
                    {
                        "id": f"{number}-{k}",
                        "method": "POST",
                        "url": f"{base}/journalLines({line_id})/dimensionSetLines",
                        "headers": JSON,
                        "body": {"code": code, "valueCode": value},
                    }
                )
        return operations


def plan_lines(settings: BusinessCentralSettings, journals: Sequence[Journal]) -> Plan:
    """The journal lines of one run: amount positive for a debit, negative for a credit, exact."""
    plan = Plan(references=tuple(j.id for j in journals))
    number = 0
    for journal in journals:
        document = document_number(journal.id)
        plan.documents[document] = journal.id
        for line in exact_lines(journal):
            number += LINE_STEP
            plan.where[number] = (journal.id, line.line_no)
            plan.lines.append(
                {
                    "lineNumber": number,
                    "accountType": "G/L Account",
                    "accountNumber": settings.accounts.get(line.account, line.account),
                    "postingDate": journal.posting_date.isoformat(),
                    "documentNumber": document,
                    "externalDocumentNumber": external_number(journal.id),
                    "amount": line.debit - line.credit,
                    "description": f"revbridge {journal.lane.value} line {line.line_no}",
                }
            )
            values = []
            for dimension in DIMENSIONS:
                ours = getattr(line, dimension)
                code = settings.dimension_codes.get(dimension, "")
                if ours and code:
                    values.append((code, settings.values(dimension).get(ours, ours)))
            if values:
                plan.dimensions[number] = values
    return plan


def bc_message(response: httpx.Response) -> str:
    """BC's own words: ``code: message`` from its OData error, else the body's start."""
    try:
        code, message = error_of(response.json())
    except ValueError:
        return " ".join(response.text[:300].split())
    if not message:
        return " ".join(response.text[:300].split())
    return f"{code}: {message}" if code else message


def refusal(
    outcome: ConnectorUnavailable | ConnectorRejected,
    response: httpx.Response,
    plan: Plan,
    *,
    operation: str | None = None,
) -> ConnectorUnavailable | Refused:
    """What to raise for an answer that is not a success: unavailable as it is, a refusal with
    the journal and line it names (the operation id is the BC line number)."""
    if isinstance(outcome, ConnectorUnavailable):
        return outcome
    message = bc_message(response)
    number = int(operation.split("-")[0]) if operation else named_line(message)
    if number is not None and number in plan.where:
        reference, line = plan.where[number]
        return Refused(message, (reference,), (line,))
    document = named_document(message)
    if document is not None and document in plan.documents:
        return Refused(message, (plan.documents[document],))
    return Refused(message)
