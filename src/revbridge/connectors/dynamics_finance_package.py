"""What the F&O connector writes and reads as files: the DMF package of the General journal
entity, the journal key, the account display value and the DMF error files.

Pure functions: journals in, bytes out (and back). A package is what a DMF export of the
General journal entity (``LedgerJournalEntity``) looks like: a zip holding ``Manifest.xml`` (a
``DataManagementPackageManifest`` naming the definition group, the entity, its data file and the
field map), ``PackageHeader.xml`` (a ``DataManagementPackageHeader``, package version 2) and the
data file ``General journal.csv`` in the ``CSV-Unicode`` source format (UTF-16 with a byte-order
mark, CRLF). Columns are the entity's fields as MS Learn lists them
(https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/entity-general-journal).

F&O has no external reference on a journal, so our journal id travels, reversibly shortened to fit
the 60 characters of the journal description, as the journal batch's DESCRIPTION (``journal_key``).
JOURNALBATCHNUMBER and VOUCHER are placeholders (F&O numbers them on import); LINENUMBER is our
1-based line number, so an error row names our line. Nothing else about the journal is sent.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from xml.sax.saxutils import escape

from revbridge.connectors.base import ConnectorRejected
from revbridge.connectors.exports import ExportLine, exact_lines
from revbridge.core.money import exponent
from revbridge.ledger.journal import Journal

ENTITY_NAME = "General journal"  # the data management entity name
TARGET_ENTITY = "LedgerJournalEntity"  # its AOT name
DATA_FILE = f"{ENTITY_NAME}.csv"
SOURCE_FORMAT = "CSV-Unicode"
NAMESPACE = "http://schemas.microsoft.com/dynamics/2015/01/DataManagement"
_XMLNS = f'xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="{NAMESPACE}"'
MANIFEST_TYPE = (
    "Microsoft.Dynamics.AX.Framework.Tools.DataManagement.Serialization.DataManagementPackageManifest"
)
COLUMNS = (
    "JOURNALBATCHNUMBER",
    "LINENUMBER",
    "JOURNALNAME",
    "DESCRIPTION",
    "VOUCHER",
    "TRANSDATE",
    "ACCOUNTTYPE",
    "ACCOUNTDISPLAYVALUE",
    "CURRENCYCODE",
    "DEBITAMOUNT",
    "CREDITAMOUNT",
)
KEY_PREFIX = "RB-"
EXECUTION_PREFIX = "revbridge-"
DIMENSIONS = ("facility", "cost_center", "payer_class", "service_line")
_HEX_ID = re.compile(r"[0-9a-f]{32}")  # revbridge's journal ids (core.ids.digest)


def journal_key(reference: str) -> str:
    """Our journal id as F&O stores it (journal description, at most 60 characters): the 64 hex
    digits as 52 base32 letters behind ``RB-``; an id that is not hex is used as it is."""
    try:
        raw = bytes.fromhex(reference)
    except ValueError:
        raw = b""
    if len(raw) == 32:
        return KEY_PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")
    if len(reference) > 60:
        raise ConnectorRejected(f"journal id {reference[:12]}... is too long for an F&O description")
    return reference


def reference_of(description: str) -> str | None:
    """The journal id behind a journal description when it is a key ``journal_key`` makes from an
    id revbridge makes (32 hex digits kept as they are, 64 as ``RB-`` and base32); None for any
    other description, which revbridge did not write."""
    if _HEX_ID.fullmatch(description):
        return description
    if description.startswith(KEY_PREFIX):
        letters = description[len(KEY_PREFIX) :]
        try:
            raw = base64.b32decode(letters + "=" * (-len(letters) % 8))
        except (binascii.Error, ValueError):
            return None
        if len(raw) == 32 and journal_key(raw.hex()) == description:
            return raw.hex()
    return None


def execution_id(references: Iterable[str]) -> str:
    """The DMF execution id of one package: the same journals give the same id, so a resent
    package is found (``GetExecutionSummaryStatus``) instead of imported twice."""
    text = "\n".join(sorted(references))
    return EXECUTION_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:32]


def display_value(account: str, values: Sequence[str], delimiter: str) -> str:
    """Main account then the dimension values in the integration format's order; a blank value
    leaves its segment empty (``4100--MEDICARE-F01-``)."""
    for value in (account, *values):
        if delimiter in value:
            raise ConnectorRejected(f"value {value!r} holds the segment delimiter {delimiter!r}")
    return delimiter.join((account, *values))


def split_display_value(value: str, delimiter: str) -> tuple[str, tuple[str, ...]]:
    account, *values = value.split(delimiter)
    return account, tuple(values)


def amount_text(line: ExportLine) -> tuple[str, str]:
    places = exponent(line.currency)
    return f"{line.debit:.{places}f}", f"{line.credit:.{places}f}"


def rows_for(
    journal: Journal, number: int, journal_name: str, accounts: Mapping[int, str]
) -> list[dict[str, str]]:
    """The entity rows of one journal: its own journal batch and voucher (placeholders numbered
    within the package), one row per line with our line number. ``accounts`` gives each line's
    account display value by line number."""
    rows = []
    for line in exact_lines(journal):
        debit, credit = amount_text(line)
        rows.append(
            {
                "JOURNALBATCHNUMBER": f"RB{number:06d}",
                "LINENUMBER": str(line.line_no),
                "JOURNALNAME": journal_name,
                "DESCRIPTION": journal_key(journal.id),
                "VOUCHER": f"RBV{number:06d}",
                "TRANSDATE": journal.posting_date.isoformat(),
                "ACCOUNTTYPE": "Ledger",
                "ACCOUNTDISPLAYVALUE": accounts[line.line_no],
                "CURRENCYCODE": line.currency,
                "DEBITAMOUNT": debit,
                "CREDITAMOUNT": credit,
            }
        )
    return rows


def render_csv(rows: Iterable[Mapping[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-16")  # CSV-Unicode: UTF-16 with its byte-order mark


def _manifest(definition_group: str) -> str:
    maps = "".join(
        "<EntityMap><ArrayIndex>0</ArrayIndex>"
        f"<EntityField>{column}</EntityField>"
        '<EntityFieldConversionList i:nil="true" />'
        "<IsAutoDefault>false</IsAutoDefault><IsAutoGenerated>false</IsAutoGenerated>"
        "<IsDefaultValueEqualNull>false</IsDefaultValueEqualNull><UseTextQualifier>false</UseTextQualifier>"
        f"<XMLField>{column}</XMLField></EntityMap>"
        for column in COLUMNS
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\r\n'
        f"<DataManagementPackageManifest {_XMLNS}>"
        f"<DefinitionGroupName>{escape(definition_group)}</DefinitionGroupName>"
        "<Description>revbridge journals</Description>"
        "<PackageEntityList><DataManagementPackageEntityData>"
        "<DefaultRefreshType>FullPush</DefaultRefreshType><Disable>false</Disable>"
        f"<EntityMapList>{maps}</EntityMapList>"
        f"<EntityName>{ENTITY_NAME}</EntityName>"
        "<ExecutionUnit>1</ExecutionUnit>"
        f"<InputFilePath>{DATA_FILE}</InputFilePath>"
        "<LevelInExecutionUnit>1</LevelInExecutionUnit><SequenceInLevel>1</SequenceInLevel>"
        f"<SourceFormat>{SOURCE_FORMAT}</SourceFormat>"
        f"<TargetEntity>{TARGET_ENTITY}</TargetEntity>"
        "</DataManagementPackageEntityData></PackageEntityList>"
        "</DataManagementPackageManifest>"
    )


def _header() -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\r\n'
        f"<DataManagementPackageHeader {_XMLNS}>"
        "<Description>revbridge journals</Description>"
        f"<ManifestType>{MANIFEST_TYPE}</ManifestType>"
        "<PackageType>DefinitionGroup</PackageType><PackageVersion>2</PackageVersion>"
        "</DataManagementPackageHeader>"
    )


def render_package(definition_group: str, rows: Iterable[Mapping[str, str]]) -> bytes:
    """The zip ImportFromPackage takes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("Manifest.xml", _manifest(definition_group))
        package.writestr("PackageHeader.xml", _header())
        package.writestr(DATA_FILE, render_csv(rows))
    return buffer.getvalue()


def read_error_file(content: bytes) -> list[dict[str, str]]:
    """A DMF error file (CSV, UTF-16 or UTF-8 with or without a byte-order mark) as rows."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = content.decode("utf-16")
    else:
        text = content.decode("utf-8-sig", errors="replace")
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]
