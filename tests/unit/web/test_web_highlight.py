"""Marking the place a locator names in a raw message: HL7 v2, X12 and JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from revbridge.web.highlight import Layout, layout

DFT = (
    b"MSH|^~\\&|HMS03|NCA|EPIC|NCA|200909261522||DFT^P03|152210|T|2.5\r"
    b"PID|||11401562^^^1013^MRN||DOE^JANE\r"
    b"FT1|1|691234||20090923||CG|84460^^PROC|||1|125.10||MED^^SRCA\r"
    b"FT1|2|691235||20090923||CG|99213|||2|80.00|||||||||||||||MOD1~MOD2\n"
)


def _marked(found: Layout) -> list[str]:
    return [c.text for line in found.lines for c in line.chunks if c.marked]


@pytest.mark.parametrize(
    ("locator", "expected"),
    [
        ("FT1[1]-11", ["125.10"]),
        ("FT1[2]-11", ["80.00"]),
        ("FT1-13.1", ["MED"]),
        ("FT1[1]-13.3", ["SRCA"]),
        ("FT1[2]-26(2)", ["MOD2"]),
        ("MSH[1]-9", ["DFT^P03"]),
        ("MSH-1", ["|"]),
        ("MSH-10", ["152210"]),
    ],
)
def test_hl7_fields_components_and_repetitions(locator: str, expected: list[str]) -> None:
    found = layout("hl7v2", DFT, locator)
    assert found.found
    assert _marked(found) == expected


def test_hl7_a_segment_is_marked_whole_and_lines_are_segments() -> None:
    found = layout("hl7v2", DFT, "FT1[2]")
    assert len(found.lines) == 4  # CR and LF both end segments
    assert _marked(found) == [found.lines[3].chunks[0].text]
    assert [line.number for line in found.lines if line.marked] == [4]


@pytest.mark.parametrize("locator", ["FT1[3]-11", "ZZZ[1]", "(message)", "not a locator", ""])
def test_hl7_what_is_not_there_marks_nothing(locator: str) -> None:
    found = layout("hl7v2", DFT, locator)
    assert not found.found and _marked(found) == [] and found.note


def test_hl7_an_empty_field_marks_its_segment_name() -> None:
    found = layout("hl7v2", DFT, "FT1[1]-40")
    assert found.found and _marked(found) == ["FT1"] and "empty" in found.note


def test_x12_loops_segments_and_elements(corpus: Path) -> None:
    raw = (corpus / "x12_835/lfh_x12__managed-care.835").read_bytes()
    cases = {
        "ST[1]/BPR[1]-2": ["945.00"],
        "ST[1]/SEG[3]": ["TRN*1*7170066655*1935665544"],
        "ST[1]/1000A[1]/N1[1]-2": ["RUSHMORE LIFE"],
        "ST[1]/2100[2]/CLP[1]-1": ["8765432112"],
        "ST[1]/2100[2]/CAS[1]-2": ["A2"],
        "ST[1]/2100[2]/2110[1]/CAS[1]-3": ["600.00"],
    }
    for locator, expected in cases.items():
        found = layout("x12", raw, locator)
        assert found.found, locator
        assert _marked(found) == expected, locator
    assert not layout("x12", raw, "ST[1]/2100[3]/CLP[1]").found
    assert not layout("x12", raw, "ST[2]/BPR[1]").found


def test_x12_837_claim_and_service_line_loops(corpus: Path) -> None:
    raw = (corpus / "x12_837/lfh_x12__837P_demo.example1.837").read_bytes()
    assert _marked(layout("x12", raw, "ST[1]/2300[1]/CLM[1]-2")) == ["100.00"]
    assert _marked(layout("x12", raw, "ST[1]/2300[1]/2400[2]/SV1[1]-2")) == ["15.00"]


def test_json_paths_mark_the_node_and_keep_numbers_as_written(corpus: Path) -> None:
    raw = (corpus / "fhir/fhir_models_r4__paymentreconciliation-example.json").read_bytes()
    found = layout("fhir", raw, "PaymentReconciliation.detail[2].amount")
    assert found.found
    assert [t.strip() for t in _marked(found)] == [
        '"amount": {',
        '"value": -1500.0,',
        '"currency": "USD"',
        "}",
    ]
    portal = b'{"items": [{"amount": "1.00"}, {"amount": 12.50, "payer": "x"}]}'
    assert [t.strip() for t in _marked(layout("portal", portal, "$.items[1].amount"))] == ['"amount": 12.50,']
    assert not layout("portal", portal, "$.items[5].amount").found
    assert not layout("portal", b"{not json", "$").found


def test_a_staged_row_locator_marks_the_field_of_the_row_with_that_key() -> None:
    from revbridge.formats.staging import document

    raw = document(
        "pas",
        "billing_stage",
        [
            {"key": "41", "kind": "charge", "fields": {"amount": "1.00", "id": "T41"}},
            {"key": "42", "kind": "XYZ", "fields": {"amount": None, "id": "T42"}},
        ],
    )
    assert [t.strip() for t in _marked(layout("staging", raw, "billing_stage[42].amount"))] == [
        '"amount": null,'
    ]
    assert [t.strip() for t in _marked(layout("staging", raw, "billing_stage[42].kind"))] == ['"kind": "XYZ"']
    assert [t.strip() for t in _marked(layout("staging", raw, "billing_stage[41].id"))] == ['"id": "T41"']
    assert not layout("staging", raw, "billing_stage[99].amount").found
    assert not layout("staging", b"{not json", "billing_stage[1].amount").found
