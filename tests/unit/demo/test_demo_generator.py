"""The generator: deterministic, ordered, scaled, and every deliberate fault present and recorded."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from demo_traffic import START

from revbridge.demo import (
    FACILITIES,
    LOOKBACK,
    Channel,
    FaultKind,
    Kind,
    Status,
    Traffic,
    generate,
    visits_per_day,
)
from revbridge.demo.draw import Draw
from revbridge.demo.encounter import Role, stream, timeline
from revbridge.demo.system import UNKNOWN_PAYER_ALIAS, UNMAPPED_DEPARTMENT

REGISTRATIONS = (Kind.ADT_A01.value, Kind.ADT_A04.value)


def _fingerprint(traffic: Traffic) -> list[tuple[str, str, str, str, bytes, str]]:
    return [
        (m.channel.value, m.kind.value, m.facility, m.at.isoformat(), m.payload, repr(m.expect))
        for m in traffic.messages
    ]


def test_the_same_seed_gives_byte_identical_traffic_and_truth(traffic: Traffic) -> None:
    again = generate(start=START, days=2, seed=11, scale=0.2)
    assert _fingerprint(again) == _fingerprint(traffic)
    assert again.summary() == traffic.summary()
    assert again.days == traffic.days


def test_another_seed_gives_other_traffic(traffic: Traffic) -> None:
    other = generate(start=START, days=2, seed=12, scale=0.2)
    common = {m.payload for m in other.messages} & {m.payload for m in traffic.messages}
    assert len(common) < len(traffic.messages) // 100
    assert other.summary()["totals"] != traffic.summary()["totals"]


def test_each_day_is_in_sending_order_and_holds_only_its_own_day(traffic: Traffic) -> None:
    assert [d.day for d in traffic.days] == [START, START + timedelta(days=1)]
    for day in traffic.days:
        times = [m.at for m in day.messages]
        assert times == sorted(times)
        assert {t.date() for t in times} == {day.day}


def test_every_channel_and_kind_is_sent(traffic: Traffic) -> None:
    counts = traffic.counts()
    kinds = {kind for _, kind in counts}
    assert kinds == {k.value for k in Kind}
    assert {channel for channel, _ in counts} == {c.value for c in Channel}
    expected_channel = {
        "ADT": "mllp",
        "DFT": "mllp",
        "837": "file",
        "835": "file",
        "FHIR": "http-fhir",
        "portal": "http-portal",
    }
    for channel, kind in counts:
        assert any(kind.startswith(prefix) and channel == ch for prefix, ch in expected_channel.items())


def test_registrations_are_the_scaled_volume_of_every_facility(traffic: Traffic) -> None:
    registered = sum(n for (_, kind), n in traffic.counts().items() if kind in REGISTRATIONS)
    per_day = [sum(visits_per_day(11, f, d.day, 0.2) for f in FACILITIES) for d in traffic.days]
    assert registered == sum(per_day)
    nominal = sum(f.encounters for f in FACILITIES) * 0.2
    for count in per_day:  # each facility rounds its share up or down
        assert abs(count - nominal) <= len(FACILITIES)


@pytest.mark.parametrize(("small", "large"), [(0.05, 0.2), (0.1, 0.4)])
def test_volumes_scale_with_the_factor(small: float, large: float) -> None:
    a = generate(start=START, seed=3, scale=small)
    b = generate(start=START, seed=3, scale=large)
    ratio = len(b.messages) / len(a.messages)
    assert 3.0 < ratio < 5.0, ratio
    a_hl7 = sum(n for (channel, _), n in a.counts().items() if channel == "mllp")
    b_hl7 = sum(n for (channel, _), n in b.counts().items() if channel == "mllp")
    assert 3.0 < b_hl7 / a_hl7 < 5.0


@pytest.mark.slow
def test_the_default_volume_is_thousands_of_messages_a_day() -> None:
    day = generate(start=START, seed=1).days[0]
    assert 4000 < len(day.messages) < 8000
    counts = day.counts()
    assert counts[("mllp", "DFT^P03")] > 1000
    assert counts[("file", "835")] >= 10  # a file per payer that pays that day


def test_the_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="days"):
        generate(start=START, days=0)
    with pytest.raises(ValueError, match="scale"):
        generate(start=START, scale=0)


def test_no_visit_sends_anything_later_than_the_lookback() -> None:
    """Visits are simulated from LOOKBACK days before the window: nothing older could send in it."""
    latest = 0
    for facility in FACILITIES:
        for n in range(300):
            day = date(2025, 1, 1) + timedelta(days=n % 7)
            line = timeline(stream(5, facility, day, n), facility, day, n, Role.NORMAL)
            latest = max(latest, *((d - day).days for d in line.dates()))
    assert 30 < latest <= LOOKBACK


def test_every_day_carries_every_deliberate_fault(traffic: Traffic) -> None:
    for day in traffic.days:
        kinds = Counter(f.kind for f in day.faults)
        assert kinds == Counter(FaultKind), day.day


def test_duplicates_are_the_same_bytes_as_the_message_they_repeat(traffic: Traffic) -> None:
    for day in traffic.days:
        duplicates = [(i, m) for i, m in enumerate(day.messages) if m.expect.status is Status.DUPLICATE]
        assert {m.kind for _, m in duplicates} == {Kind.DFT_P03, Kind.REMITTANCE_835}
        for index, message in duplicates:
            original = day.messages[message.expect.duplicate_of or 0]
            assert message.expect.duplicate_of is not None and message.expect.duplicate_of < index
            assert original.payload == message.payload
            assert original.channel is message.channel
            assert original.expect.status is Status.PROCESSED
        resent = [f for f in day.faults if f.kind in (FaultKind.RESENT_DFT, FaultKind.DUPLICATE_835)]
        assert sorted(f.messages[1] for f in resent) == sorted(i for i, _ in duplicates)


def test_the_unmapped_department_is_one_charge_line_and_what_it_holds_back(traffic: Traffic) -> None:
    for day in traffic.days:
        (fault,) = [f for f in day.faults if f.kind is FaultKind.UNMAPPED_DEPARTMENT]
        (index,) = fault.messages
        message = day.messages[index]
        assert message.kind is Kind.DFT_P03
        assert message.expect.status is Status.EXCEPTED
        assert message.expect.work_items == ("UNMAPPED_DEPARTMENT",)
        lines = [seg.split("|") for seg in message.payload.decode().split("\r") if seg.startswith("FT1|")]
        wrong = [ft1 for ft1 in lines if ft1[13] == UNMAPPED_DEPARTMENT]
        assert len(wrong) == 1 and len(lines) > 1
        assert str(fault.held_back) == wrong[0][11]
        assert fault.value == UNMAPPED_DEPARTMENT and fault.code == "UNMAPPED_DEPARTMENT"


def test_the_unknown_payer_holds_back_every_charge_of_its_visit(traffic: Traffic) -> None:
    for day in traffic.days:
        (fault,) = [f for f in day.faults if f.kind is FaultKind.UNKNOWN_PAYER]
        held = 0
        for index in fault.messages:
            message = day.messages[index]
            lines = [s for s in message.payload.decode().split("\r") if s.startswith("FT1|")]
            assert message.expect.work_items == ("UNMAPPED_PAYER",) * len(lines)
            held += sum(int(s.split("|")[11].replace(".", "")) for s in lines)
        assert fault.held_back * 100 == held
    registrations = [
        m
        for m in traffic.messages
        if m.kind.value in REGISTRATIONS and f"|{UNKNOWN_PAYER_ALIAS}|" in m.payload.decode()
    ]
    assert len(registrations) == len(traffic.days)
    assert all(m.expect.status is Status.PROCESSED for m in registrations)


def test_the_erp_outage_is_a_window_inside_its_day(traffic: Traffic) -> None:
    for day in traffic.days:
        (outage,) = [f for f in day.faults if f.kind is FaultKind.ERP_OUTAGE]
        assert outage.start is not None and outage.end is not None
        assert outage.start.date() == day.day and outage.start < outage.end
        assert outage.end - outage.start <= timedelta(minutes=20)


def test_expected_work_items_are_exactly_the_faults(traffic: Traffic) -> None:
    items = traffic.work_items()
    assert set(items) == {"UNMAPPED_DEPARTMENT", "UNMAPPED_PAYER"}
    assert items["UNMAPPED_DEPARTMENT"] == len(traffic.days)
    statuses = traffic.statuses()
    excepted = [m for m in traffic.messages if m.expect.status is Status.EXCEPTED]
    assert statuses["excepted"] == len(excepted) and all(m.expect.work_items for m in excepted)
    assert statuses["duplicate"] == 2 * len(traffic.days)
    assert set(statuses) == {"processed", "excepted", "duplicate"}


def test_draws_are_the_same_numbers_on_every_run() -> None:
    """The stream behind every value, pinned: text seeds are hashed with SHA-512, never hash()."""
    rng = Draw("revbridge-demo/pinned")
    assert [rng.between(1, 6) for _ in range(8)] == [1, 5, 1, 6, 5, 4, 5, 2]
    assert rng.weighted((("a", 0), ("b", 1))) == "b"
    assert rng.pick(("only",)) == "only"
