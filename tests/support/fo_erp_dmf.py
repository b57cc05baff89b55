"""The fake F&O's Data management package REST API: blobs, ImportFromPackage, executions and
their error files.

``ImportFromPackage`` checks the package as DMF reads it (a zip; Manifest.xml naming the General
journal entity and its data file; PackageHeader.xml; the data file in UTF-16 with the entity's
required columns and no unknown ones) and refuses a bad one with 400. It refuses a second import
while one is running (500 "in use": F&O runs imports as a batch job that must not be started in
parallel). An execution id it knows is found, not run again. Rows are checked as DMF does: types
when staging (errors go to the staging error file, the staging rows with an ERROR column) and the
chart's checks and voucher balance when copying to target (errors go to the target error keys
file: JOURNALBATCHNUMBER, LINENUMBER, DESCRIPTION, ERROR). A journal batch with any error is not
created. The status moves NotRun/Executing -> Succeeded | PartiallySucceeded | Failed after
``polls_to_finish`` status calls, or never when stalled.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree

from fo_erp_ledger import Ledger

NS = "{http://schemas.microsoft.com/dynamics/2015/01/DataManagement}"
REQUIRED = (
    "JOURNALBATCHNUMBER", "LINENUMBER", "JOURNALNAME", "ACCOUNTTYPE", "ACCOUNTDISPLAYVALUE", "TRANSDATE",
    "VOUCHER", "CURRENCYCODE", "DEBITAMOUNT", "CREDITAMOUNT",
)  # fmt: skip
KNOWN = (
    *REQUIRED, "DESCRIPTION", "TEXT", "OFFSETACCOUNTTYPE", "OFFSETACCOUNTDISPLAYVALUE", "FINTAGDISPLAYVALUE",
    "POSTINGLAYER", "EXCHANGERATE",
)  # fmt: skip
KEYS_COLUMNS = ("JOURNALBATCHNUMBER", "LINENUMBER", "DESCRIPTION", "ERROR")


@dataclass
class Execution:
    id: str
    company: str
    outcome: str  # the status it ends with
    staging_errors: list[dict[str, str]]
    target_errors: list[dict[str, str]]
    journals: list[list[dict[str, str]]]  # rows of each journal batch that goes to target
    polls: int = 0
    applied: bool = False
    keys_file_asked: int = 0
    files: dict[str, str] = field(default_factory=dict)


class Dmf:
    def __init__(
        self, ledger: Ledger, *, polls_to_finish: int, import_seconds: float, keys_file_delay: int
    ) -> None:
        self.ledger = ledger
        self.polls_to_finish = polls_to_finish
        self.import_seconds = import_seconds
        self.keys_file_delay = keys_file_delay
        self.stalled = False
        self.auto_post = False
        self.blobs: dict[str, bytes] = {}
        self.executions: dict[str, Execution] = {}
        self.imports_started = 0
        self._importing = threading.Lock()

    def action(self, name: str, body: dict[str, Any], blob_url: str, lock: threading.Lock) -> tuple[int, Any]:
        """One action; ``lock`` guards the shared state, not held while an import runs."""
        if name == "ImportFromPackage":
            return self._import(body, lock)
        with lock:
            if name == "GetAzureWriteUrl":
                unique = str(body.get("uniqueFileName") or "")
                if not unique:
                    return 400, {"error": {"message": "uniqueFileName is required."}}
                url = f"{blob_url}/{unique}?sv=2020&sig=signed"
                return 200, {"value": json.dumps({"BlobId": f"{{{unique}}}", "BlobUrl": url})}
            execution = self.executions.get(str(body.get("executionId") or ""))
            if name == "GetExecutionSummaryStatus":
                return 200, {"value": self._status(execution)}
            if execution is None:
                return 400, {"error": {"message": "The execution id was not found."}}
            return self._error_file(name, execution, blob_url)

    # -- import ------------------------------------------------------------------------------------

    def _import(self, body: dict[str, Any], lock: threading.Lock) -> tuple[int, Any]:
        missing = [
            k for k in ("packageUrl", "definitionGroupId", "executionId", "legalEntityId") if k not in body
        ]
        if missing:
            return 400, {"error": {"message": f"Missing parameters: {', '.join(missing)}"}}
        execution_id = str(body["executionId"])
        with lock:
            if execution_id and execution_id in self.executions:  # found, not run again
                return 200, {"value": execution_id}
            package = self.blobs.get(str(body["packageUrl"]).split("?")[0].rsplit("/", 1)[-1])
        if not self._importing.acquire(blocking=False):
            return 500, {
                "error": {"message": "The data project is in use by another import. Try again later."}
            }
        try:
            time.sleep(self.import_seconds)
            if package is None:
                return 400, {"error": {"message": "The package could not be found at packageUrl."}}
            rows, problem = _read_package(package)
            if problem:
                return 400, {"error": {"message": problem}}
            with lock:
                execution = self._execute(execution_id, str(body["legalEntityId"]), rows)
                self.executions[execution.id] = execution
                self.imports_started += 1
            return 200, {"value": execution.id}
        finally:
            self._importing.release()

    def _execute(self, execution_id: str, company: str, rows: list[dict[str, str]]) -> Execution:
        staging, batches = [], {}
        for row in rows:
            problem = _staging_error(row)
            if problem:
                staging.append({**row, "ERROR": problem})
            else:
                batches.setdefault(row["JOURNALBATCHNUMBER"], []).append(row)
        target, good = [], []
        for batch_rows in batches.values():
            errors = self._target_errors(company, batch_rows)
            target.extend(errors)
            if not errors:
                good.append(batch_rows)
        failed = bool(staging or target)
        outcome = "Succeeded" if not failed else ("PartiallySucceeded" if good else "Failed")
        return Execution(
            execution_id or f"exec-{len(self.executions) + 1}", company, outcome, staging, target, good
        )

    def _target_errors(self, company: str, rows: list[dict[str, str]]) -> list[dict[str, str]]:
        errors = []
        for row in rows:
            if row["JOURNALNAME"] not in self.ledger.journal_names:
                problem = f"Journal name '{row['JOURNALNAME']}' does not exist."
            else:
                problem = self.ledger.line_error(
                    company, row["ACCOUNTDISPLAYVALUE"], date.fromisoformat(row["TRANSDATE"])
                )
            if problem:
                errors.append(_key_row(row, problem))
        if not errors:
            lines = [_line(row) for row in rows]
            problem = self.ledger.unbalanced(lines)
            errors = [_key_row(row, problem) for row in rows] if problem else []
        return errors

    # -- status and error files --------------------------------------------------------------------

    def _status(self, execution: Execution | None) -> str:
        if execution is None:
            return "Unknown"
        if execution.applied:
            return execution.outcome
        execution.polls += 1
        if self.stalled or execution.polls < self.polls_to_finish:
            return "Executing"
        for rows in execution.journals:  # copied to target: journals F&O holds, not yet posted
            header = self.ledger.add_header(
                execution.company, rows[0]["JOURNALNAME"], rows[0].get("DESCRIPTION", "")
            )
            self.ledger.lines.extend({**_line(row), **_where(header)} for row in rows)
        execution.applied = True
        if self.auto_post:
            self.ledger.post_all()
        return execution.outcome

    def _error_file(self, name: str, execution: Execution, blob_url: str) -> tuple[int, Any]:
        if name == "GetImportStagingErrorFileUrl":
            if not execution.staging_errors:
                return 200, {"value": ""}
            columns = list(execution.staging_errors[0])
            return 200, {
                "value": self._publish(execution, "staging", columns, execution.staging_errors, blob_url)
            }
        if name == "GenerateImportTargetErrorKeysFile":
            return 200, {"value": bool(execution.target_errors)}
        if name == "GetImportTargetErrorKeysFileUrl":
            execution.keys_file_asked += 1
            if not execution.target_errors or execution.keys_file_asked <= self.keys_file_delay:
                return 200, {"value": ""}
            return 200, {
                "value": self._publish(
                    execution, "keys", list(KEYS_COLUMNS), execution.target_errors, blob_url
                )
            }
        return 404, {"error": {"message": f"No action {name}."}}

    def _publish(
        self, execution: Execution, kind: str, columns: list[str], rows: list[dict[str, str]], url: str
    ) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        name = f"{execution.id}-{kind}-errors.csv"
        self.blobs[name] = out.getvalue().encode("utf-16" if kind == "staging" else "utf-8-sig")
        return f"{url}/{name}?sv=2020&sig=signed"


def _read_package(package: bytes) -> tuple[list[dict[str, str]], str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(package))
        names = set(archive.namelist())
        if "Manifest.xml" not in names or "PackageHeader.xml" not in names:
            return [], "The package has no Manifest.xml or PackageHeader.xml."
        manifest = ElementTree.fromstring(archive.read("Manifest.xml"))
        entity = manifest.find(f".//{NS}DataManagementPackageEntityData")
        if manifest.tag != f"{NS}DataManagementPackageManifest" or entity is None:
            return [], "Manifest.xml is not a DataManagementPackageManifest with an entity."
        if entity.findtext(f"{NS}EntityName") != "General journal":
            return [], f"Entity '{entity.findtext(f'{NS}EntityName')}' is not the General journal."
        data_file = entity.findtext(f"{NS}InputFilePath") or ""
        if data_file not in names:
            return [], f"The data file '{data_file}' is not in the package."
        raw = archive.read(data_file)
    except (zipfile.BadZipFile, ElementTree.ParseError) as exc:
        return [], f"The package could not be read: {exc}"
    if not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [], "The source format CSV-Unicode expects a UTF-16 file."
    reader = csv.DictReader(io.StringIO(raw.decode("utf-16")))
    columns = reader.fieldnames or []
    unknown = [c for c in columns if c not in KNOWN]
    absent = [c for c in REQUIRED if c not in columns]
    if unknown or absent:
        return [], f"Columns do not match the entity: unknown {unknown}, missing {absent}."
    return [dict(row) for row in reader], ""


def _staging_error(row: dict[str, str]) -> str:
    try:
        int(row["LINENUMBER"])
        date.fromisoformat(row["TRANSDATE"])
        amounts = Decimal(row["DEBITAMOUNT"] or "0"), Decimal(row["CREDITAMOUNT"] or "0")
    except (ValueError, InvalidOperation):
        return "Value could not be converted (LINENUMBER, TRANSDATE, DEBITAMOUNT or CREDITAMOUNT)."
    if row["ACCOUNTTYPE"] != "Ledger":
        return f"Account type '{row['ACCOUNTTYPE']}' is not supported here."
    if min(amounts) < 0 or len(row["CURRENCYCODE"]) != 3:
        return "Amounts must not be negative and the currency code must have three letters."
    return ""


def _key_row(row: dict[str, str], problem: str) -> dict[str, str]:
    return {k: row.get(k, "") for k in KEYS_COLUMNS[:-1]} | {"ERROR": problem}


def _line(row: dict[str, str]) -> dict[str, Any]:
    return {
        "LineNumber": Decimal(row["LINENUMBER"]),
        "AccountType": "Ledger",
        "AccountDisplayValue": row["ACCOUNTDISPLAYVALUE"],
        "TransDate": f"{row['TRANSDATE']}T12:00:00Z",
        "Voucher": row["VOUCHER"],
        "CurrencyCode": row["CURRENCYCODE"],
        "DebitAmount": Decimal(row["DEBITAMOUNT"] or "0"),
        "CreditAmount": Decimal(row["CREDITAMOUNT"] or "0"),
    }


def _where(header: dict[str, Any]) -> dict[str, Any]:
    return {"dataAreaId": header["dataAreaId"], "JournalBatchNumber": header["JournalBatchNumber"]}
