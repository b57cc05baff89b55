"""HL7 v2 parse throughput: our tokenizer + to_events against a bare split and python-hl7.

A 15-segment DFT^P03 (about 3.6 KB, four FT1 charges) is parsed over and over in one process:
- floor: ``str.split`` into segments and fields, the least any parser can do;
- ours (tokenize): ``message.parse`` plus reading the header, as intake does;
- ours (to_events): bytes -> canonical events, tokenising the MRN and building four charges;
- python-hl7: ``hl7.parse`` (full tree), the library we would otherwise have used.
Prints messages/s for each and the ratios the issue asks for (target: ours >= 20x python-hl7).

    .venv/bin/python bench/hl7v2_parse.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from datetime import date

import hl7

from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2 import HL7V2, parse

SEGMENTS = [
    "MSH|^~\\&|HMS03|NCA|EPIC|NCA|200909261522||DFT^P03^DFT_P03|152210|P|2.5|||AL|NE||8859/1|||",
    "EVN|P03|200909261522|||1003^SEEGER^THOMAS^A^^^^^NPI|200909261607|NCA",
    "PID|1||11401562^^^1013^MRN~555443333^^^SSA^SS||HALL^MARCUS^A^^^^L||19341230|F|||"
    "1234 Some Street^^Davis^CA^95616^USA^H||(800)123-4567^PRN^PH|(800)765-4321^WPN^PH|EN|M|CAT|"
    "86210313010^^^1013^AN|555-44-3333|||N||||||||N",
    "PD1|||NORTH CAMPUS^^1013|2331^SEEGER^THOMAS^A^^^^^NPI||||||||N",
    "PV1|1|O|NW4^401^1^NCA^^^^^NORTH WING|3|||2331^SEEGER^THOMAS^A^^^^^NPI^1003|"
    "2335^COOPER^GEORGE^A^^^^^NPI|2337^WHITE^ANNA^^^^^^NPI|MED||||1|||2331^SEEGER^THOMAS^A^^^^^NPI|"
    "OP|86210313010^^^1013^VN|SP||||||||||||||||||||NCA|||||200909231015|200909231530|||||"
    "86210313010-ALT^^^1013^VN||2337^WHITE^ANNA^^^^^^NPI~2339^GREEN^PAUL^^^^^^NPI",
    "PV2|||^ROUTINE FOLLOW UP||||||200909231015|1|||||||||||||||||||||||||N",
    "GT1|1|382559|HALL^MARCUS^A||1234 Some Street^^Davis^CA^95616^USA|(800)123-4567|||F|P/F|SEL|"
    "555-44-3333||||ACME CORP^^^^^^L|4922 Main Rd^^Davis^CA^95616|(800)555-0100||1",
    "IN1|1|PPO-GOLD^Preferred Provider Gold|608^^^^NIIP|BLUE CROSS NCA|PO BOX 4809^^SACRAMENTO^CA^95814|"
    "|(800)555-0199|GRP7781|ACME CORP|||20090101|20091231|||HALL^MARCUS^A|SEL|19341230|"
    "1234 Some Street^^Davis^CA^95616|Y||1||||||||||||||YNZ4562U45951|||||||F|||||382506",
    "IN2|1|555-44-3333|ACME CORP|||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||SEL",
    "DG1|1|I9|786.50^CHEST PAIN NOS^I9|CHEST PAIN, UNSPECIFIED, EVALUATED IN OUTPATIENT CLINIC|"
    "200909231015|A|||||||||1|2331^SEEGER^THOMAS^A^^^^^NPI^1003^^^^PRN|D|N|20090923|AD-7781^EPIC",
    "DG1|2|I9|401.9^HYPERTENSION NOS^I9|ESSENTIAL HYPERTENSION, UNSPECIFIED, CHRONIC, MONITORED|"
    "200909231015|A|||||||||2|2331^SEEGER^THOMAS^A^^^^^NPI^1003^^^^PRN|D|N|20090923|AD-7782^EPIC",
]
for n, (code, proc, amount) in enumerate(
    [
        ("84460", "99213", "125.10"),
        ("80053", "80053", "48.25"),
        ("71020", "71020", "210.00"),
        ("93000", "93000", "96.40"),
    ],
    start=1,
):
    ft1 = {
        1: str(n),
        2: f"69123{n}",
        3: "BATCH-20090923-0042",
        4: "20090923^20090923",
        5: "200909261522",
        6: "CG",
        7: f"{code}^LAB PANEL^PROC",
        8: f"LAB PANEL {code}",
        10: "1",
        11: f"{amount}^USD",
        12: f"{amount}^USD",
        13: "MED^^SRCA",
        14: "1001^BLUE CROSS NCA^L",
        16: "NW4^401^1^NCA",
        17: "STD",
        18: "OP",
        19: "786.50^CHEST PAIN NOS^I9~401.9^HYPERTENSION NOS^I9",
        20: "2331^SEEGER^THOMAS^A^^^^^NPI^1003^^^^PRN",
        21: "2335^COOPER^GEORGE^A^^^^^NPI^1003^^^^PRN",
        22: f"{amount}^USD",
        23: "1024123^EPIC^1.2.840.114350^ISO",
        24: "2331^SEEGER^THOMAS",
        25: f"{proc}^Office Visit^CPT",
        26: "25~59",
        29: "61519-1234-12-01^NDC Description^N4",
        31: "CHG-INTERFACE-01",
    }
    SEGMENTS.append("|".join(["FT1", *(ft1.get(i, "") for i in range(1, 32))]))
MESSAGE = "\r".join(SEGMENTS) + "\r"
PAYLOAD = MESSAGE.encode()


def floor(text: str) -> object:
    return [line.split("|") for line in text.split("\r") if line]


def tokenize(payload: bytes) -> object:
    message, _problems = parse(payload)
    return message.header.get(9, 2) if message is not None else None


CTX = ParseContext(message_id="bench", tokenizer=fixed_tokenizer(), received_on=date(2009, 9, 26))


def to_events(payload: bytes) -> object:
    return HL7V2.to_events(payload, CTX)


def python_hl7(text: str) -> object:
    return hl7.parse(text)


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def measure(candidates: dict[str, Callable[[], object]], seconds: float, rounds: int = 5) -> dict[str, float]:
    """Best rate of each candidate, measured in interleaved rounds so that the machine's drift
    hits all of them alike and the ratios stay meaningful."""
    best = dict.fromkeys(candidates, 0.0)
    for _ in range(rounds):
        for name, fn in candidates.items():
            best[name] = max(best[name], rate(fn, seconds / rounds))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="time per candidate, over 5 rounds")
    args = parser.parse_args()
    segment_count = len([s for s in MESSAGE.split("\r") if s])
    check = HL7V2.to_events(PAYLOAD, CTX)
    if len(check.items) != 4 or check.problems:
        sys.exit(f"the benchmark message does not translate cleanly: {check.problems}")
    print(
        f"python {platform.python_version()} on {platform.machine()}; message: DFT^P03, "
        f"{segment_count} segments, {len(PAYLOAD)} bytes"
    )
    results = measure(
        {
            "floor (str.split segments+fields)": lambda: floor(MESSAGE),
            "ours: tokenize + header": lambda: tokenize(PAYLOAD),
            "ours: to_events (4 charges)": lambda: to_events(PAYLOAD),
            "python-hl7 hl7.parse": lambda: python_hl7(MESSAGE),
        },
        args.seconds,
    )
    base = results["floor (str.split segments+fields)"]
    reference = results["python-hl7 hl7.parse"]
    for name, value in results.items():
        print(
            f"{name:36s} {value:10,.0f} msg/s {value / base:6.3f}x floor {value / reference:7.1f}x python-hl7"
        )
    ratio = results["ours: to_events (4 charges)"] / reference
    print(f"to_events vs python-hl7: {ratio:.1f}x (target >= 20x): {'met' if ratio >= 20 else 'NOT met'}")
    sys.exit(0)


if __name__ == "__main__":
    main()
