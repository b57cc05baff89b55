"""Replay after a fix: the messages behind chosen items, or behind every open item of one code,
replayed once each through the replayer handed in, and how many of their items it cleared."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from workitem_setup import processed

from revbridge import workqueue
from revbridge.bootstrap import Runtime
from revbridge.core.errors import InputError
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode
from revbridge.store.messages import Arrival


@dataclass
class Fixer:
    """Stands in for the pipeline's replayer: records what it replays and resolves the open items
    of the messages in ``fixed``, as a replay after a real fix does."""

    rt: Runtime
    fixed: set[str] = field(default_factory=set)
    replayed: list[tuple[str, str]] = field(default_factory=list)

    def replay(self, message_id: str, *, actor: str) -> object:
        self.replayed.append((message_id, actor))
        if message_id in self.fixed:
            found = workqueue.find(self.rt.db, workqueue.Selection(), now=self.rt.clock.now())
            ids = [i.id for i in found if i.message_id == message_id]
            workqueue.resolve(
                self.rt.db, self.rt.clock, ids, reason="cleared by replay", actor=actor, anchor=None
            )
        return None


def _items(rt: Runtime, code: str) -> list[workqueue.WorkItem]:
    return list(workqueue.find(rt.db, workqueue.Selection(code=code), now=rt.clock.now()))


def test_the_messages_behind_chosen_items_are_replayed_once_each(rt: Runtime) -> None:
    a, b, _c = processed(
        rt, "BAD MISSING_AMOUNT\nBAD INVALID_VALUE", "BAD MISSING_AMOUNT", "BAD MISSING_AMOUNT\nNOTE c"
    )
    fixer = Fixer(rt, fixed={a})
    chosen = [
        i.id
        for i in workqueue.find(rt.db, workqueue.Selection(), now=rt.clock.now())
        if i.message_id in (a, b)
    ]
    report = workqueue.replay_items(rt.db, fixer, chosen, actor="kim")
    assert fixer.replayed == [(a, "kim"), (b, "kim")]
    assert report == workqueue.ReplayReport(messages=2, cleared=2)  # both items of a


def test_replay_by_code_takes_every_message_with_an_open_item_of_it(rt: Runtime) -> None:
    a, b, c = processed(rt, "BAD INVALID_VALUE", "BAD MISSING_AMOUNT", "BAD INVALID_VALUE\nNOTE c")
    workqueue.ignore(
        rt.db, rt.clock, [_items(rt, "INVALID_VALUE")[1].id], reason="x", actor="kim", anchor=None
    )
    fixer = Fixer(rt)
    assert workqueue.replay_code(rt.db, fixer, "INVALID_VALUE", actor="kim") == workqueue.ReplayReport(
        messages=1, cleared=0
    )
    assert fixer.replayed == [(a, "kim")]
    assert b not in dict(fixer.replayed) and c not in dict(fixer.replayed)


def test_items_that_name_no_message_replay_nothing(rt: Runtime) -> None:
    failed = Problem(code=ProblemCode.ERP_REJECTED, message="refused", where=SourceRef("", "journal J1"))
    with rt.db.transaction() as tx:  # an ERP failure is about a journal, not a message
        workqueue.open_items(tx, [failed], now=rt.clock.now(), message_id=None)
    (item,) = _items(rt, "ERP_REJECTED")
    fixer = Fixer(rt)
    assert workqueue.replay_items(rt.db, fixer, [item.id, 999], actor="kim") == workqueue.ReplayReport(
        messages=0, cleared=0
    )
    assert fixer.replayed == []


def test_a_message_named_that_cannot_be_replayed_refuses_the_request(rt: Runtime) -> None:
    (done,) = processed(rt, "BAD MISSING_AMOUNT")
    pending = rt.store.accept(Arrival(channel="test", format="lines", payload=b"CHARGE c1 1", dedupe_key=""))
    with pytest.raises(InputError, match="say what to replay"):
        workqueue.messages_to_replay(rt.db, workqueue.ReplayChoice())
    with pytest.raises(InputError, match="cannot replay nope: unknown, duplicate or not yet processed"):
        workqueue.messages_to_replay(rt.db, workqueue.ReplayChoice(message_ids=(done, "nope")))
    with pytest.raises(InputError, match=f"cannot replay {pending.message_id}"):
        workqueue.messages_to_replay(rt.db, workqueue.ReplayChoice(message_ids=(pending.message_id,)))
    assert workqueue.messages_to_replay(rt.db, workqueue.ReplayChoice(message_ids=(done,))) == (done,)
    assert workqueue.messages_to_replay(rt.db, workqueue.ReplayChoice(code="MISSING_AMOUNT")) == (done,)
    assert workqueue.messages_to_replay(rt.db, workqueue.ReplayChoice(code="INVALID_VALUE")) == ()
