"""FHIR throughput: the Synthea transaction Bundle (295 entries) parsed and mapped, against the
``json.loads`` floor, in one run.

Candidates, measured in interleaved rounds so the machine's drift hits all of them alike:

- floor: ``json.loads(payload, parse_float=Decimal)``, the cheapest way to read the same bytes with
  exact money (plain float ``json.loads`` is printed for reference);
- parse: ``formats.fhir.parse``, bytes to our typed models of every supported resource;
- to_events: ``FHIR.to_events``, bytes to canonical events (references resolved, patients
  tokenised with HMAC, totals checked, problems located), what a worker does per message;
- fhir.resources R4B ``Bundle.model_validate`` on the parsed JSON, for reference (skipped when the
  package is missing), fewer rounds because it is slow.

Resources/s counts every Bundle entry (295), financial or not, as the issue's target does.
Usage: ``.venv/bin/python bench/fhir.py [--seconds S] [--rounds R]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.fhir import FHIR, parse

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("REVBRIDGE_CORPUS", ROOT.parent / "shared" / "corpus"))
SYNTHEA = "fhir/inferno_refserver__synthea_v2.4_Emmie273_Kovacek682_transaction_bundle_claims_eobs.json"
TARGET = 5_000


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Runs per second of ``fn``, over about ``seconds``."""
    runs, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        fn()
        runs += 1
        now = time.perf_counter()
        if now >= deadline:
            return runs / (now - start)


def reference_validator(payload: bytes) -> Callable[[], object] | None:
    # This script is bench/fhir.py: with bench/ first on sys.path, "fhir" would import it again.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        from fhir.resources.R4B.bundle import Bundle
    except ImportError:
        return None
    data = json.loads(payload, parse_float=Decimal)

    def validate() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Bundle.model_validate(data)

    return validate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per candidate per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    payload = (CORPUS / SYNTHEA).read_bytes()
    document: Any = json.loads(payload, parse_float=Decimal)
    entries = len(document["entry"])
    ctx = ParseContext(message_id="bench", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 1))
    outcome = FHIR.to_events(payload, ctx)
    print(
        f"Synthea bundle: {len(payload):,} bytes, {entries} entries; to_events gives {len(outcome.items)} "
        f"events and {len(outcome.problems)} problems"
    )

    candidates: dict[str, Callable[[], object]] = {
        "floor: json.loads(parse_float=Decimal)": lambda: json.loads(payload, parse_float=Decimal),
        "json.loads (floats, reference)": lambda: json.loads(payload),
        "ours: parse (typed models)": lambda: parse(payload, ctx),
        "ours: to_events": lambda: FHIR.to_events(payload, ctx),
    }
    best: dict[str, float] = dict.fromkeys(candidates, 0.0)
    for _ in range(args.rounds):
        for name, fn in candidates.items():
            best[name] = max(best[name], rate(fn, args.seconds))
    validator = reference_validator(payload)
    if validator is not None:
        name = "fhir.resources R4B Bundle.model_validate"
        best[name] = max(rate(validator, args.seconds) for _ in range(2))

    floor = best["floor: json.loads(parse_float=Decimal)"]
    print(f"\n{'candidate':44} {'documents/s':>12} {'resources/s':>12} {'x floor':>8}")
    for name, documents in best.items():
        print(f"{name:44} {documents:12,.1f} {documents * entries:12,.0f} {documents / floor:8.2f}")
    ours = best["ours: to_events"] * entries
    verdict = "met" if ours >= TARGET else "NOT met"
    print(f"\ntarget: at least {TARGET:,} resources/s parsed and mapped: {verdict} ({ours:,.0f})")


if __name__ == "__main__":
    main()
