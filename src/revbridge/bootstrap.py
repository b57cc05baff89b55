"""The composition root: settings in, a running revbridge out.

Everything that touches the outside world (database engine, keyring, clock, registries) is built
here once and passed down. Nothing is created at import time.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from revbridge.core.clock import Clock, SystemClock
from revbridge.core.errors import InputError
from revbridge.formats.base import Format
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.hl7_intake import Hl7Intake
from revbridge.pipeline.intake import Intake
from revbridge.pipeline.worker import PostingStage, Worker, WorkerConfig
from revbridge.security.keys import Keyring, load_keyring
from revbridge.settings import Settings
from revbridge.store import migrate, queue, workitems
from revbridge.store.engine import check_reachable, make_engine
from revbridge.store.messages import MessageStore

REPO_ROOT = Path(__file__).resolve().parents[2]


def reference_config_dir(settings: Settings | None = None) -> Path:
    """The configuration used when none is given: settings.config_dir, else examples/config."""
    if settings is not None and settings.config_dir is not None:
        return settings.config_dir
    for candidate in (Path.cwd() / "examples" / "config", REPO_ROOT / "examples" / "config"):
        if candidate.is_dir():
            return candidate
    raise InputError("no configuration directory: pass one or set REVBRIDGE_CONFIG_DIR")


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    keyring: Keyring
    clock: Clock
    formats: Mapping[str, Format]
    metrics: Metrics
    store: MessageStore
    intake: Intake
    hl7: Hl7Intake
    posting: PostingStage | None = None
    notices: list[str] = field(default_factory=list)

    def worker(self, owner: str | None = None) -> Worker:
        s = self.settings
        return Worker(
            engine=self.db,
            store=self.store,
            formats=self.formats,
            tokenizer=self.keyring.tokenizer(),
            clock=self.clock,
            config=WorkerConfig(
                owner=owner or s.worker_id or f"{socket.gethostname()}:{os.getpid()}",
                lease=timedelta(seconds=s.lease_seconds),
                max_attempts=s.max_attempts,
                retry_base=s.retry_base_seconds,
                batch_size=s.batch_size,
            ),
            metrics=self.metrics,
            posting=self.posting,
        )

    def status(self) -> dict[str, dict[str, int]]:
        """The public shape of `revbridge status --json` (DESIGN.md section 10)."""
        journals = self.posting.journal_counts() if self.posting is not None else {}
        return {
            "messages": queue.counts(self.db),
            "journals": journals,
            "work_items": {"open": sum(workitems.counts_by_code(self.db).values())},
        }

    def close(self) -> None:
        self.store.close()
        self.db.dispose()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    formats: Mapping[str, Format] | None = None,
    upgrade: bool = False,
    null_pool: bool = False,
) -> Runtime:
    db = make_engine(settings.db_url, null_pool=null_pool)
    check_reachable(db)
    if upgrade:
        migrate.upgrade(db)
    elif not migrate.is_current(db):
        raise InputError("the database schema is not current: run `revbridge db upgrade`")
    keyring, created = load_keyring(
        key_file=settings.resolved_key_file,
        keys_spec=settings.keys.get_secret_value() if settings.keys else None,
        active=settings.active_key,
        token_key=settings.token_key.get_secret_value() if settings.token_key else None,
        create=True,
    )
    notices = []
    if created:
        notice = (
            f"created a local encryption key file at {settings.resolved_key_file} (mode 0600); "
            "keep it: stored messages cannot be read without it. Production: set REVBRIDGE_KEYS."
        )
        print(notice, file=sys.stderr)
        notices.append(notice)
    clock = clock or SystemClock()
    metrics = Metrics()
    if formats is None:
        from revbridge.formats.registry import FORMATS

        formats = FORMATS
    chosen = formats
    store = MessageStore(db, keyring, clock)
    intake = Intake(store, chosen, metrics)
    return Runtime(
        settings=settings,
        db=db,
        keyring=keyring,
        clock=clock,
        formats=chosen,
        metrics=metrics,
        store=store,
        intake=intake,
        hl7=Hl7Intake(intake, clock),
        notices=notices,
    )
