"""The demo's patients are obviously fake, and even so none of their identifiers, names, birth
dates or addresses survive our parsers: they are the sentinels of this test."""

from __future__ import annotations

import re

from demo_traffic import Parsed

from revbridge.canonical import codec
from revbridge.demo import Kind, Traffic
from revbridge.demo.people import FAMILY, GIVEN, STREETS

WORD = re.compile(r"[A-Za-z0-9-]+")  # dates, ids and names stay whole


def _pid(traffic: Traffic) -> list[list[str]]:
    return [
        segment.split("|")
        for message in traffic.messages
        if message.kind.value.startswith("ADT")
        for segment in message.payload.decode().split("\r")
        if segment.startswith("PID|")
    ]


def test_patients_are_obviously_fake(traffic: Traffic) -> None:
    pids = _pid(traffic)
    assert len(pids) > 500
    for pid in pids:
        family, given = pid[5].split("^")[:2]
        assert family in FAMILY and given in GIVEN
        assert pid[11].split("^")[2] == "FAKETOWN" and pid[11].split("^")[4].startswith("000")
        assert re.fullmatch(r"555-01\d\d", pid[13])


def test_no_patient_data_reaches_an_event_or_a_problem(traffic: Traffic, parsed: list[Parsed]) -> None:
    sentinels: set[str] = set(FAMILY) | set(GIVEN)
    for pid in _pid(traffic):
        mrn, birth = pid[3].split("^")[0], pid[7]
        sentinels |= {mrn, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", birth}
    for message in traffic.messages:
        text = message.payload.decode()
        if message.kind in (Kind.ADT_A01, Kind.ADT_A04):
            sentinels |= set(re.findall(r"\|(ZZ[A-Z]{2}\d{10})", text))  # IN1-36 member ids
        if message.kind is Kind.REMITTANCE_835:
            sentinels |= set(re.findall(r"\*MI\*(ZZ[A-Z]{2}\d{10})", text))
    assert len(sentinels) > 1000
    for p in parsed:
        texts = [codec.dumps(event) for event in p.events] + [str(problem) for problem in p.problems]
        for text in texts:
            words = set(WORD.findall(text))
            assert not words & sentinels, (p.message.kind, words & sentinels)
            assert not any(street in text for street in STREETS)
