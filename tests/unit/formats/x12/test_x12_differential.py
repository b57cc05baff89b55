"""Differential test against pyx12, an independent X12 implementation (test-only oracle): on the
corpus files it reads, we find the same claims, amounts, adjustments, service lines and PLBs.

pyx12 is slow (about 300 claims/s), so the inputs are the small corpus files. Where pyx12 cannot
read a file as stored, the smallest relabelling that lets it is applied in memory and named below;
nothing about the claims changes.

- 837 files name guide versions pyx12 has no map for (X222A2, X223A3): relabelled to X222A1 and
  X223A2, whose segments for these claims are the same.
- The 004010 file says ISA12 = 00400 (pyx12 knows 00401); relabelled.
- Where SVC01 uses a component separator other than ISA16 (three files), pyx12 drops the whole
  2110 loop, so there only claims, claim-level CAS and PLBs are compared.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from x12_build import context

from revbridge.canonical.events import (
    ClaimAdjudicated,
    ClaimSubmitted,
    ProviderAdjustment,
    RemittanceReceived,
)
from revbridge.formats.x12 import X12

pyx12_context = pytest.importorskip("pyx12.x12context")
pyx12_params = pytest.importorskip("pyx12.params")
pyx12_errors = pytest.importorskip("pyx12.error_handler")

STRAY_SEPARATOR = {
    "lfh_x12__cob-contractural-adjustment.835",
    "lfh_x12__secondary-payment.835",
    "editools__4010_ohio_adamh_reversals_denials.txt",
}
RELABEL = {
    "005010X222A2": "005010X222A1",
    "005010X223A3": "005010X223A2",
    "*U*00400*": "*U*00401*",
}

Triple = tuple[str, str, Decimal]


@dataclass(frozen=True)
class Claim:
    clp: tuple[str, str, Decimal, Decimal, str]  # CLP01, CLP02, CLP03, CLP04, CLP07
    cas: tuple[Triple, ...]  # claim level
    lines: tuple[tuple[str, Decimal, Decimal, tuple[Triple, ...]], ...]  # SVC01-03 and line CAS


def relabelled(path: Path) -> str:
    text = path.read_text(encoding="latin-1")
    for old, new in RELABEL.items():
        text = text.replace(old, new)
    return text


def pyx12_nodes(text: str, loop: str) -> list[Any]:
    reader = pyx12_context.X12ContextReader(
        pyx12_params.params(), pyx12_errors.errh_null(), io.StringIO(text)
    )
    return list(reader.iter_segments(loop))


def amount(value: str | None) -> Decimal:
    return Decimal(value or "0")


def triples(cas_segments: list[Any]) -> tuple[Triple, ...]:
    found = []
    for cas in cas_segments:
        for n in range(2, 20, 3):
            reason = cas.get_value(f"CAS{n:02d}")
            if reason:
                found.append((cas.get_value("CAS01"), reason, amount(cas.get_value(f"CAS{n + 1:02d}"))))
    return tuple(found)


def oracle_835(text: str, with_lines: bool) -> tuple[list[Claim], list[tuple[str, Decimal]], list[Decimal]]:
    claims, plbs, bprs = [], [], []
    for node in pyx12_nodes(text, "2100"):
        if node.id == "BPR":
            bprs.append(amount(node.get_value("BPR02")))
        elif node.id == "PLB":
            for n in range(3, 15, 2):
                if node.get_value(f"PLB{n:02d}"):
                    plbs.append((node.get_value(f"PLB{n:02d}"), amount(node.get_value(f"PLB{n + 1:02d}"))))
        elif node.id == "2100":
            lines = tuple(
                (
                    svc.get_value("SVC01"),
                    amount(svc.get_value("SVC02")),
                    amount(svc.get_value("SVC03")),
                    triples(list(svc.select("CAS"))),
                )
                for svc in node.select("2110")
            )
            clp = tuple(node.get_value(f"CLP{n:02d}") for n in (1, 2, 3, 4, 7))
            claims.append(
                Claim(
                    clp=(clp[0], clp[1], amount(clp[2]), amount(clp[3]), clp[4] or ""),
                    cas=triples(list(node.select("CAS"))),
                    lines=lines if with_lines else (),
                )
            )
    return claims, plbs, bprs


def ours_835(path: Path, with_lines: bool) -> tuple[list[Claim], list[tuple[str, Decimal]], list[Decimal]]:
    outcome = X12.to_events(path.read_bytes(), context())
    claims = []
    for event in outcome.items:
        if not isinstance(event, ClaimAdjudicated):
            continue
        lines = tuple(
            (
                line.procedure,
                line.charge.amount,
                line.paid.amount,
                tuple((a.group, a.reason, a.amount.amount) for a in line.adjustments),
            )
            for line in event.lines
        )
        claims.append(
            Claim(
                clp=(
                    event.claim_id,
                    event.status,
                    event.charge.amount,
                    event.paid.amount,
                    event.payer_claim_id,
                ),
                cas=tuple(
                    (a.group, a.reason, a.amount.amount)
                    for a in event.adjustments
                    if "/2110[" not in a.locator
                ),
                lines=lines if with_lines else (),
            )
        )
    plbs = [
        (f"{e.reason}:{e.reference}" if e.reference else e.reason, e.amount.amount)
        for e in outcome.items
        if isinstance(e, ProviderAdjustment)
    ]
    bprs = [e.amount.amount for e in outcome.items if isinstance(e, RemittanceReceived)]
    return claims, plbs, bprs


def corpus_835() -> list[str]:
    return [
        "badx12__X221-era-sample.edi",
        "badx12__X221-multiple-claims-single-check.edi",
        "editools__4010_ohio_adamh_reversals_denials.txt",
        "lfh_x12__cob-contractural-adjustment.835",
        "lfh_x12__managed-care.835",
        "lfh_x12__medicare-part-a.835",
        "lfh_x12__secondary-payment.835",
        "pyx12__835_mult_loops.txt",
    ]


@pytest.mark.parametrize("name", corpus_835())
def test_835_claims_adjustments_lines_and_plb_match_pyx12(corpus: Path, name: str) -> None:
    path = corpus / "x12_835" / name
    with_lines = name not in STRAY_SEPARATOR
    expected = oracle_835(relabelled(path), with_lines)
    assert expected[0], "pyx12 read no claims"
    assert ours_835(path, with_lines) == expected
    if with_lines and b"SVC*" in path.read_bytes():
        assert any(claim.lines for claim in expected[0])  # the lines really were compared


@pytest.mark.parametrize(
    "name", ["lfh_x12__837P_demo.example1.837", "lfh_x12__837I_institutional-claim.837i"]
)
def test_837_claims_and_lines_match_pyx12(corpus: Path, name: str) -> None:
    path = corpus / "x12_837" / name
    expected = []
    for node in pyx12_nodes(relabelled(path), "2300"):
        if node.id != "2300":
            continue
        lines = [
            (
                int(lx.get_value("LX01")),
                lx.get_value("SV101") or lx.get_value("SV202") or "",
                lx.get_value("SV201") or "",
                amount(lx.get_value("SV102") or lx.get_value("SV203")),
            )
            for lx in node.select("2400")
        ]
        expected.append(
            (node.get_value("CLM01"), amount(node.get_value("CLM02")), node.get_value("CLM05-3"), lines)
        )
    ours = [
        (
            e.claim_id,
            e.total.amount,
            e.frequency,
            [(ln.line_number, ln.procedure, ln.revenue_code, ln.charge.amount) for ln in e.lines],
        )
        for e in X12.to_events(path.read_bytes(), context()).items
        if isinstance(e, ClaimSubmitted)
    ]
    assert expected
    assert ours == expected
    assert ours[0][1] == sum((line[3] for line in ours[0][3]), Decimal(0))
