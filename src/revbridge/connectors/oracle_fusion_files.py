"""The files the Oracle Fusion connector exchanges: the GlInterface.csv zip it uploads, the ESS
execution details it reads back (a zip of the job's log and output), the ticket that names an
upload, and the journal batches Oracle returns, turned back into our accounts.

Pure functions: no HTTP here (oracle_fusion.py holds the client). The upload carries accounts,
amounts, dimensions, dates and the journal id (exports.fbdi_rows), never event keys.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from revbridge.connectors.base import ErpAmount, ErpJournal, Rejection
from revbridge.connectors.exports import FBDI_SEGMENT_FIRST, FbdiSettings, fbdi_rows
from revbridge.ledger.journal import Journal

ENDED = frozenset({"SUCCEEDED", "WARNING", "ERROR", "CANCELED"})
FAILED = frozenset({"ERROR", "CANCELED"})
DOCUMENT_ACCOUNT = "fin$/generalLedger$/import$"
JOB_NAME = "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher"
_CHILD = re.compile(r"[Ss]ubmitted child request (\d+)")


@dataclass(frozen=True, slots=True)
class Ticket:
    """One upload: the ESS request id importBulkData answered and the GROUP_ID of its rows."""

    request_id: str
    group_id: int

    def __str__(self) -> str:
        return f"ess:{self.request_id}/group:{self.group_id}"

    @classmethod
    def parse(cls, text: str) -> Ticket | None:
        match = re.fullmatch(r"ess:(\d+)/group:(\d+)", text)
        return cls(match.group(1), int(match.group(2))) if match else None


def render_upload(
    journals: Sequence[Journal], fbdi: FbdiSettings, maps: Mapping[str, Mapping[str, str]], group_id: int
) -> bytes:
    """The GlInterface.csv zip, each segment value mapped to the ERP's (identity when unmapped)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for journal in journals:
        for row in fbdi_rows(journal, fbdi, group_id=group_id):
            for n, name in enumerate(fbdi.segments):
                value = row[FBDI_SEGMENT_FIRST + n]
                row[FBDI_SEGMENT_FIRST + n] = maps.get(name, {}).get(value, value)
            writer.writerow(row)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("GlInterface.csv", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, out.getvalue().encode("utf-8"))
    return buffer.getvalue()


def import_bulk_data(content: bytes, file_name: str, parameters: str) -> dict[str, str]:
    """The importBulkData request body (op-erpintegrations-post); no callback, Oracle is polled."""
    return {
        "OperationName": "importBulkData",
        "DocumentContent": base64.b64encode(content).decode("ascii"),
        "ContentType": "zip",
        "FileName": file_name,
        "DocumentAccount": DOCUMENT_ACCOUNT,
        "JobName": JOB_NAME,
        "ParameterList": parameters,
        "CallbackURL": "#NULL",
        "NotificationCode": "10",
    }


def execution_files(document_content: Any) -> dict[str, str]:
    """The files of an ESS job's execution details (base64 zip), as text; ValueError if unreadable."""
    if not isinstance(document_content, str):
        raise ValueError("execution details without DocumentContent")
    try:
        raw = base64.b64decode(document_content, validate=True)
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return {name: archive.read(name).decode("utf-8", "replace") for name in archive.namelist()}
    except (binascii.Error, zipfile.BadZipFile) as exc:
        raise ValueError(f"execution details are not a base64 zip: {type(exc).__name__}") from None


def child_request(files: Mapping[str, str]) -> str | None:
    """The Import Journals request the load job submitted, as its log names it."""
    for name, text in files.items():
        if name.endswith(".log") and (match := _CHILD.search(text)):
            return match.group(1)
    return None


def log_excerpt(files: Mapping[str, str], limit: int = 300) -> str:
    text = " ".join(t for n, t in sorted(files.items()) if n.endswith(".log"))
    return " ".join(text.split())[:limit]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportReport:
    """What the Import Journals output says per journal name (REFERENCE4 = our journal id)."""

    imported: Mapping[str, str]  # reference -> JE_BATCH_ID
    rejected: Mapping[str, tuple[tuple[int, str], ...]]  # reference -> (line, "CODES: description")


def import_report(files: Mapping[str, str]) -> ImportReport | None:
    """The report of an ended Import Journals job, or None when the job left none."""
    reports = [text for name, text in files.items() if name.endswith(".csv")]
    if not reports:
        return None
    imported: dict[str, str] = {}
    rejected: dict[str, list[tuple[int, str]]] = {}
    for row in csv.DictReader(io.StringIO(reports[0])):
        reference = row.get("REFERENCE4") or ""
        if row.get("STATUS") == "IMPORTED":
            imported[reference] = row.get("JE_BATCH_ID") or ""
            continue
        line = int(row["LINE"]) if (row.get("LINE") or "").isdigit() else 0
        rejected.setdefault(reference, []).append(
            (line, f"{row.get('STATUS')}: {row.get('STATUS_DESCRIPTION')}")
        )
    return ImportReport(imported=imported, rejected={k: tuple(v) for k, v in rejected.items()})


def rejection(reference: str, problems: Sequence[tuple[int, str]], document: str) -> Rejection:
    """Oracle's codes and words for one journal, with our line numbers (rows are in line order)."""
    message = "; ".join(dict.fromkeys(text for _, text in problems))
    lines = tuple(sorted({line for line, _ in problems if line > 0}))
    return Rejection(
        reference=reference,
        message=f"Oracle Journal Import: {message}"[:1000],
        lines=lines,
        document=document,
    )


def held_query(source: str, date_from: date, date_to: date) -> str:
    """The journalBatches ``q`` for the batches of our journal source (the mark every journal
    revbridge sends carries) whose effective (accounting) date is in [date_from, date_to]."""
    quoted = source.replace("'", "''")
    return (
        f"UserJeSourceName='{quoted}' and DefaultEffectiveDate>='{date_from.isoformat()}'"
        f" and DefaultEffectiveDate<='{date_to.isoformat()}'"
    )


def batch_reference(batch: Mapping[str, Any]) -> str:
    """Our journal id from a batch: Journal Import names it REFERENCE1 (its first 50 characters),
    a space, then its own words; the journal ids revbridge sends are 32 characters, kept whole."""
    return str(batch.get("BatchName", "")).split(" ", 1)[0]


def _amount(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    return Decimal(str(value))


def erp_journal(
    reference: str,
    batches: Sequence[Mapping[str, Any]],
    *,
    ledgers: Mapping[str, str],
    account_segment: int,
    delimiter: str,
    accounts: Mapping[str, str],
) -> ErpJournal:
    """Journal batches (expanded with headers and lines) as one ErpJournal of ours: the ERP account
    mapped back to ours through ``accounts`` (ERP -> ours). Every batch found is included, so a
    journal imported twice shows twice its amounts to reconciliation."""
    lines: list[ErpAmount] = []
    legal_entity, posted = "", None
    for batch in batches:
        for header in batch.get("journalHeaders") or []:
            legal_entity = ledgers.get(str(header.get("LedgerId", "")), legal_entity)
            if header.get("AccountingDate"):
                posted = date.fromisoformat(str(header["AccountingDate"])[:10])
            for line in header.get("journalLines") or []:
                segments = str(line.get("AccountCombination", "")).split(delimiter)
                code = segments[account_segment] if account_segment < len(segments) else ""
                lines.append(
                    ErpAmount(
                        account=accounts.get(code, code),
                        debit=_amount(line.get("EnteredDebitAmount")),
                        credit=_amount(line.get("EnteredCreditAmount")),
                        currency=str(line.get("CurrencyCode") or "USD"),
                    )
                )
    document = ",".join(str(b.get("JeBatchId")) for b in batches)
    return ErpJournal(
        reference=reference,
        document=document,
        legal_entity=legal_entity,
        posting_date=posted,
        lines=tuple(lines),
    )
