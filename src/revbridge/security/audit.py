"""The audit chain: each entry's hash covers its content and the previous entry's hash.

Editing, deleting or reordering any entry breaks every hash after it; truncating the tail is
caught by the head record (count and last hash) the store keeps beside the table and, when
configured, an anchor file outside the database. Pure: the store feeds it rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str  # an API key id, a token subject, "cli:<user>"; never a patient
    action: str  # config.apply, config.approve, workitem.resolve, replay, phi.view, login, apikey.create ...
    target: str  # what it was done to: a config version, a work item id, a message id
    details: Mapping[str, str]
    prev_hash: str
    hash: str


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, str],
    prev_hash: str,
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "target": target,
            "details": dict(sorted(details.items())),
            "prev": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Finding:
    seq: int | None
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}" if self.seq is not None else self.problem


def verify(entries: Iterable[AuditEntry], *, head_count: int | None, head_hash: str | None) -> list[Finding]:
    """Every way the chain is broken; empty when it is intact and ends where the head says."""
    findings: list[Finding] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            findings.append(
                Finding(e.seq, f"out of sequence: expected {expected_seq} (deleted or reordered)")
            )
            expected_seq = e.seq
        if e.prev_hash != prev:
            findings.append(
                Finding(e.seq, "does not follow the previous entry (deleted, inserted or reordered)")
            )
        recomputed = entry_hash(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            details=e.details,
            prev_hash=e.prev_hash,
        )
        if recomputed != e.hash:
            findings.append(Finding(e.seq, "content does not match its hash (edited)"))
        prev = e.hash
        expected_seq += 1
    if head_count is not None and count != head_count:
        findings.append(
            Finding(None, f"chain holds {count} entries but the head records {head_count} (truncated)")
        )
    if head_hash is not None and count and prev != head_hash:
        findings.append(
            Finding(None, "last entry is not the head the store recorded (truncated or rewritten)")
        )
    return findings
