"""The torture run's ERP: tests/support/faulty_erp.py in a process of its own, driven by a pipe.

Its own process, so its handler threads do not share a GIL with the senders. It keeps no
idempotency (a second POST of a journal makes a second document, so the checker can count
duplicates). Commands: ``drop n`` (the next n POSTs are committed, then their connection is cut
with no answer), ``down`` / ``up``, ``documents`` (every document: external id, ERP id and the
per-currency totals of its debits and credits), ``stats`` and ``stop``.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

from faulty_erp import FaultyErp

SECRET = "torture-s3cret"


@dataclass(frozen=True, slots=True)
class ErpDocument:
    external_id: str
    id: str
    debits: dict[str, Decimal]
    credits: dict[str, Decimal]


def _serve(host: str, pipe: Connection) -> None:
    erp = FaultyErp(enforce_idempotency=False, host=host, client_secret=SECRET)
    pipe.send(erp.url)
    while True:
        command, arg = pipe.recv()
        if command == "drop":
            erp.fail_next("drop_after_commit", int(arg))
            pipe.send(None)
        elif command == "down":
            erp.go_down()
            pipe.send(None)
        elif command == "up":
            if erp.down:
                erp.come_up()
            pipe.send(None)
        elif command == "documents":
            pipe.send([_summary(d.external_id, d.id, d.body) for d in list(erp.documents)])
        elif command == "stats":
            posts = erp.journal_requests("POST")
            pipe.send({"posts": len(posts), "dropped": sum(1 for r in posts if r.status == 0)})
        elif command == "stop":
            erp.close()
            pipe.send(None)
            return


def _summary(external_id: str, doc_id: str, body: dict[str, Any]) -> ErpDocument:
    debits: dict[str, Decimal] = {}
    credits: dict[str, Decimal] = {}
    for line in body.get("lines") or []:
        currency = str(line["currency"])
        debits[currency] = debits.get(currency, Decimal(0)) + Decimal(line["debit"])
        credits[currency] = credits.get(currency, Decimal(0)) + Decimal(line["credit"])
    return ErpDocument(external_id, doc_id, debits, credits)


class ErpProcess:
    def __init__(self, host: str) -> None:
        context = mp.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(host, child), name="torture-erp", daemon=True)
        self._process.start()
        self.url: str = self._pipe.recv()

    def _ask(self, command: str, arg: object = None) -> Any:
        self._pipe.send((command, arg))
        return self._pipe.recv()

    def drop_after_commit(self, count: int) -> None:
        self._ask("drop", count)

    def go_down(self) -> None:
        self._ask("down")

    def come_up(self) -> None:
        self._ask("up")

    def documents(self) -> list[ErpDocument]:
        found: list[ErpDocument] = self._ask("documents")
        return found

    def stats(self) -> dict[str, int]:
        found: dict[str, int] = self._ask("stats")
        return found

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self._ask("stop")
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
