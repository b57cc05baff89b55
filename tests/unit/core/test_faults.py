"""Fault points: the spec parser, nothing at all when unset, and a real SIGKILL when armed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import timeit
from collections.abc import Iterator

import pytest

from revbridge.core import faults


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.reset()
    yield
    faults.reset()


def test_the_spec_names_points_and_probabilities() -> None:
    assert faults.parse("ack.after_commit=0.02, erp.after_accept=1") == {
        "ack.after_commit": 0.02,
        "erp.after_accept": 1.0,
    }
    assert faults.parse("") == {}
    assert faults.parse(" , ") == {}


@pytest.mark.parametrize(
    "spec",
    ["ack.after_comit=0.1", "ack.after_commit", "ack.after_commit=x", "erp.after_accept=1.5", "=0.1"],
)
def test_a_bad_spec_is_an_error_not_a_disarmed_run(spec: str) -> None:
    with pytest.raises(ValueError, match=faults.ENV):
        faults.parse(spec)


def test_unset_the_point_draws_nothing_and_kills_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_args: object) -> float:
        raise AssertionError("a fault point with nothing armed must not draw or signal")

    monkeypatch.setattr(random, "random", forbidden)
    monkeypatch.setattr(os, "kill", forbidden)
    faults.fault_point("ack.after_commit")
    assert faults.armed() == {}
    # and it costs next to nothing: well under a microsecond a call on any machine we run on
    seconds = timeit.timeit(lambda: faults.fault_point("erp.after_accept"), number=100_000)
    assert seconds / 100_000 < 2e-6


def test_the_environment_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.ENV, "ack.after_commit=0")
    assert faults.armed() == {"ack.after_commit": 0.0}
    monkeypatch.setenv(faults.ENV, "ack.after_commit=1")
    assert faults.armed() == {"ack.after_commit": 0.0}
    faults.fault_point("ack.after_commit")  # probability 0: never fires


def test_an_armed_point_kills_its_process_and_others_do_not() -> None:
    script = (
        "from revbridge.core.faults import fault_point\n"
        "fault_point('ack.after_commit')\n"
        "print('passed', flush=True)\n"
        "fault_point('erp.after_accept')\n"
        "print('not reached', flush=True)\n"
    )
    env = dict(os.environ, **{faults.ENV: "ack.after_commit=0,erp.after_accept=1"})
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == "passed\n"
