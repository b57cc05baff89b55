"""The torture run's history checker: the senders' records, the store and the ERP, side by side.

Rows (every one but the first two must be zero):
- acknowledged: distinct messages some sender got a positive acknowledgement for (MLLP AA, HTTP
  2xx, a file moved to done/);
- stored: of those, the ones the store holds (its dedupe keys);
- lost: acknowledged and not stored;
- stored twice: dedupe keys held by more than one message that is not a recorded duplicate;
- posted twice: journals the ERP holds more than one document for;
- unbalanced: store journals whose debits and credits differ per currency, ERP documents likewise,
  and ERP documents whose totals differ from the journal they carry;
- posted, not at the ERP / at the ERP, not posted: the store and the ERP disagree on a journal;
- reconciliation breaks: ``revbridge reconcile --json``;
- sources never acknowledged: a source that got no positive acknowledgement at all (a run that
  did not exercise it proves nothing about it);
- not drained: messages pending, processing or waiting (for context the demo day always sends),
  journals staged, submitting, accepted or failed,
  files never picked up, messages never acknowledged (a sender gave up).
The store is read through the CLI (``status``, ``journals``, ``reconcile`` with ``--json``);
the dedupe keys, which no command lists, are read from the tables (tests may).
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from torture_erp import ErpDocument

from revbridge.store import Database
from revbridge.store.schema import message_keys, messages

POSITIVE = {"AA", "done"}
SOURCES = ("mllp", "http-fhir", "http-portal", "file", "flood")
MUST_BE_ZERO = (
    "sources never acknowledged",
    "lost",
    "stored twice",
    "posted twice",
    "unbalanced",
    "posted, not at the ERP",
    "at the ERP, not posted",
    "reconciliation breaks",
    "not drained",
)


@dataclass
class Report:
    rows: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.rows.get(name, 0) == 0 for name in MUST_BE_ZERO)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "info": self.info, "examples": self.examples}

    def table(self) -> str:
        width = max(len(k) for k in [*self.rows, *self.info]) + 2
        lines = ["", f"{'check':<{width}} {'count':>10}  must be zero"]
        for name, value in self.rows.items():
            must = name in MUST_BE_ZERO
            verdict = ("ok" if value == 0 else "FAILED") if must else ""
            lines.append(f"{name:<{width}} {value:>10,}  {verdict}")
        lines.append("")
        for name, value in self.info.items():
            lines.append(f"{name:<{width}} {value}")
        for name, found in self.examples.items():
            if found:
                lines.append(f"examples of {name}: {', '.join(found[:5])}")
        lines.append("RESULT: " + ("every must-be-zero row is zero" if self.ok else "FAILED"))
        return "\n".join(lines)


def read_records(folder: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            found.extend(json.loads(line) for line in fh if line.strip())
    return found


def positive(record: dict[str, Any]) -> bool:
    ack = str(record["ack"])
    return ack in POSITIVE or (ack.isdigit() and 200 <= int(ack) < 300)


def cli_json(cli: Sequence[str], env: dict[str, str], *args: str) -> Any:
    done = subprocess.run([*cli, *args, "--json"], capture_output=True, text=True, timeout=600, env=env)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def check(
    records: list[dict[str, Any]],
    db: Database,
    cli: Sequence[str],
    erp: list[ErpDocument],
    *,
    env: dict[str, str],
    sources: Sequence[str] = SOURCES,
) -> Report:
    report = Report()
    acked = {i for r in records if positive(r) for i in r["ids"]}
    gave_up = {i for r in records if r["ack"] == "gave up" for i in r["ids"]} - acked
    known = _known(db, acked)
    stored_twice = _stored_twice(db)
    report.rows["acknowledged"] = len(acked)
    report.rows["stored"] = len(known)
    report.rows["lost"] = len(acked - known)
    report.examples["lost"] = sorted(acked - known)[:5]
    silent = [s for s in sources if not any(r["source"] == s and positive(r) for r in records)]
    report.rows["sources never acknowledged"] = len(silent)
    report.examples["sources never acknowledged"] = silent
    report.rows["stored twice"] = len(stored_twice)
    report.examples["stored twice"] = stored_twice[:5]
    journals = cli_json(cli, env, "journals", "--limit", "10000000")
    _compare_ledgers(report, journals, erp)
    recon = cli_json(cli, env, "reconcile")
    report.rows["reconciliation breaks"] = len(recon["breaks"])
    report.examples["reconciliation breaks"] = [json.dumps(b)[:300] for b in recon["breaks"][:3]]
    status = cli_json(cli, env, "status")
    stuck = {
        f"messages {k}": v
        for k, v in status["messages"].items()
        if k in ("pending", "processing", "waiting") and v
    }
    stuck |= {
        f"journals {k}": v
        for k, v in status["journals"].items()
        if k in ("staged", "submitting", "accepted", "failed") and v
    }
    if gave_up:
        stuck["never acknowledged"] = len(gave_up)
    report.rows["not drained"] = sum(stuck.values())
    report.examples["not drained"] = [f"{k}: {v}" for k, v in stuck.items()]
    report.info["messages by state"] = status["messages"]
    report.info["journals by state"] = status["journals"]
    report.info["acks by source and code"] = dict(Counter(f"{r['source']} {r['ack']}" for r in records))
    return report


def _known(db: Database, ids: Iterable[str]) -> set[str]:
    wanted = sorted(ids)
    found: set[str] = set()
    with db.reading() as conn:
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            rows = conn.execute(select(message_keys.c.dedupe_key).where(message_keys.c.dedupe_key.in_(chunk)))
            found.update(r[0] for r in rows)
    return found


def _stored_twice(db: Database) -> list[str]:
    with db.reading() as conn:
        rows = conn.execute(
            select(messages.c.dedupe_key)
            .where(messages.c.status != "duplicate", messages.c.dedupe_key.is_not(None))
            .group_by(messages.c.dedupe_key)
            .having(func.count() > 1)
        )
        return [str(r[0]) for r in rows]


def _totals(lines: Iterable[dict[str, Any]]) -> dict[str, tuple[Decimal, Decimal]]:
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for line in lines:
        debit, credit = totals.get(line["currency"], (Decimal(0), Decimal(0)))
        totals[line["currency"]] = (
            debit + Decimal(str(line["debit"])),
            credit + Decimal(str(line["credit"])),
        )
    return totals


def _compare_ledgers(report: Report, journals: list[dict[str, Any]], erp: list[ErpDocument]) -> None:
    per_key = Counter(d.external_id for d in erp)
    twice = sorted(k for k, n in per_key.items() if n > 1)
    report.rows["posted twice"] = len(twice)
    report.examples["posted twice"] = twice[:5]
    unbalanced: list[str] = []
    by_id = {str(j["id"]): j for j in journals}
    store_totals = {jid: _totals(j["lines"]) for jid, j in by_id.items()}
    unbalanced += [jid for jid, t in store_totals.items() if any(d != c for d, c in t.values())]
    for doc in erp:
        if any(doc.debits[c] != doc.credits.get(c) for c in doc.debits):
            unbalanced.append(f"ERP {doc.id}")
        elif (
            doc.external_id in store_totals
            and {c: (doc.debits[c], doc.credits[c]) for c in doc.debits} != store_totals[doc.external_id]
        ):
            unbalanced.append(f"ERP {doc.id} != journal {doc.external_id}")
    report.rows["unbalanced"] = len(unbalanced)
    report.examples["unbalanced"] = unbalanced[:5]
    documents = {d.external_id: d.id for d in erp}
    posted = {jid: j for jid, j in by_id.items() if j["status"] == "posted"}
    missing = sorted(jid for jid, j in posted.items() if documents.get(jid) != j["erp_reference"])
    report.rows["posted, not at the ERP"] = len(missing)
    report.examples["posted, not at the ERP"] = missing[:5]
    extra = sorted(set(documents) - set(posted))
    report.rows["at the ERP, not posted"] = len(extra)
    report.examples["at the ERP, not posted"] = extra[:5]
    report.info["journals (store)"] = len(by_id)
    report.info["documents (ERP)"] = len(erp)
