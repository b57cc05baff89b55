"""Fault points for the torture tests: a process kills itself at the worst moment, on purpose.

``fault_point(name)`` marks a place where dying is the hardest case for revbridge's promises:
``ack.after_commit`` (intake committed a message, the sender has not had its ACK yet),
``erp.after_accept`` (the ERP took a journal, revbridge has not recorded it yet) and
``staging.after_commit`` (a staging table's rows are stored, their status not yet set) and
``broker.after_commit`` (a broker message is stored, the broker not yet acknowledged),
``sftp.before_move`` (an SFTP file's messages are stored, the remote file not yet moved). With the
environment variable ``REVBRIDGE_FAULTS`` unset (production), a fault point is a dictionary
lookup on an empty mapping and nothing else. Set, it names points and probabilities,
``REVBRIDGE_FAULTS="ack.after_commit=0.02,erp.after_accept=0.05"``, and each time a named point
is passed a random draw below its probability sends SIGKILL to this very process: no cleanup, no
flush, no finally blocks, as when the power goes. The variable is read once, at first use.
docs/operations.md ("Fault points (tests only)") says never to set it in production.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Mapping

ENV = "REVBRIDGE_FAULTS"
KNOWN = frozenset(
    {
        "ack.after_commit",
        "erp.after_accept",
        "staging.after_commit",
        "broker.after_commit",
        "sftp.before_move",
    }
)

_armed: Mapping[str, float] | None = None


def parse(spec: str) -> dict[str, float]:
    """``"a=0.1,b=1"`` -> ``{"a": 0.1, "b": 1.0}``; an unknown point or a probability outside
    [0, 1] is an error (a typo must not quietly disarm a torture run)."""
    armed: dict[str, float] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in KNOWN:
            raise ValueError(f"{ENV}: expected name=probability with a name in {sorted(KNOWN)}, got {part!r}")
        try:
            probability = float(value)
        except ValueError:
            raise ValueError(f"{ENV}: {name} needs a probability, got {value.strip()!r}") from None
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"{ENV}: {name} probability must be within [0, 1], got {probability}")
        armed[name] = probability
    return armed


def armed() -> Mapping[str, float]:
    """The points armed in this process (read from the environment once)."""
    global _armed
    if _armed is None:
        _armed = parse(os.environ.get(ENV, ""))
    return _armed


def fault_point(name: str) -> None:
    """Die here (SIGKILL) with the probability ``REVBRIDGE_FAULTS`` gives ``name``."""
    points = _armed if _armed is not None else armed()
    if not points:
        return
    probability = points.get(name)
    if probability and random.random() < probability:
        os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Forget what was read, so the next fault point reads the environment again (tests)."""
    global _armed
    _armed = None
