"""Which messages workers take first: small cash (portal payments and refunds, 835s under
SMALL_REMITTANCE_BYTES) is SMALL_CASH, a large 835 FIRST, everything else IN_ORDER of arrival;
intake stores the envelope's priority with the message (store/queue.py claims by it)."""

from __future__ import annotations

import json

from x12_build import V835, era, group, interchange, transaction, x12

from revbridge.formats.base import FIRST, IN_ORDER, SMALL_CASH, SMALL_REMITTANCE_BYTES
from revbridge.formats.registry import FORMATS
from revbridge.formats.x12 import X12

V837 = "005010X222A1"
ERA = era("CLP*C1*1*10.00*10.00", bpr02="10.00")
CLAIM = ["BHT*0019*00*1*20240105*1200*CH"]


def test_only_the_portal_format_is_cash_as_a_whole() -> None:
    assert {name: fmt.priority for name, fmt in FORMATS.items()} == {
        "hl7v2": IN_ORDER,
        "x12": IN_ORDER,
        "fhir": IN_ORDER,
        "staging": IN_ORDER,
        "portal": SMALL_CASH,
    }
    item = {"type": "payment", "facility": "F01", "id": "P1", "amount": "5.00"}
    (envelope,) = FORMATS["portal"].split(json.dumps(item).encode())
    assert envelope.priority == SMALL_CASH
    (broken,) = FORMATS["portal"].split(b'{"type": "payment", ')  # stored anyway, and still cash
    assert broken.priority == SMALL_CASH and broken.problems


def test_an_835_interchange_goes_first_an_837_or_a_mixed_one_in_order() -> None:
    remittance = interchange([group([transaction(ERA)])], control="000000001")
    claims = interchange([group([transaction(CLAIM, code="837")], version=V837)], control="000000002")
    mixed = interchange(
        [group([transaction(ERA)]), group([transaction(CLAIM, code="837")], version=V837)],
        control="000000003",
    )
    envelopes = list(X12.split((remittance + claims + mixed.replace("*", "|")).encode()))
    assert [e.priority for e in envelopes] == [SMALL_CASH, IN_ORDER, IN_ORDER]


def test_a_large_835_goes_after_small_cash_and_before_the_rest() -> None:
    claims = [f"CLP*C{n}*1*10.00*10.00" for n in range(3_000)]
    large = x12(era(*claims, bpr02=f"{10 * len(claims)}.00"))
    assert len(large) >= SMALL_REMITTANCE_BYTES
    (envelope,) = X12.split(large)
    assert envelope.priority == FIRST and SMALL_CASH < FIRST < IN_ORDER
    cut = x12(era(*claims[:10], bpr02="100.00"))  # the same payer's small one
    (small,) = X12.split(cut)
    assert small.priority == SMALL_CASH


def test_a_bare_835_goes_first_and_garbage_in_order() -> None:
    segments = transaction(ERA)
    segments[0] += f"*{V835}"
    (bare,) = X12.split(("~\n".join(segments) + "~\n").encode())
    assert bare.priority == SMALL_CASH and not bare.problems
    garbage, enveloped = X12.split(b"hello\n" + x12(ERA))
    assert (garbage.priority, enveloped.priority) == (IN_ORDER, SMALL_CASH)


def test_an_hl7_message_goes_in_order() -> None:
    msh = b"MSH|^~\\&|HIS|F01|RB|F01|20260302090000||DFT^P03|C1|P|2.5\rEVN|P03\r"
    (envelope,) = FORMATS["hl7v2"].split(msh)
    assert envelope.priority == IN_ORDER
