"""The composition root: settings in, a running revbridge out.

Everything that touches the outside world (database engine, keyring, clock, registries) is built
here once and passed down. Nothing is created at import time.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from revbridge import runtime_status
from revbridge.connectors.base import Connector
from revbridge.connectors.registry import Connectors, thaw
from revbridge.connectors.registry import Environment as ConnectorEnvironment
from revbridge.core.clock import Clock, SystemClock
from revbridge.core.errors import ConfigurationError, InputError
from revbridge.core.wakeup import Wakeup
from revbridge.events import SINKS, Publisher, PublisherConfig
from revbridge.events.sinks import SinkSettings
from revbridge.formats.base import Format
from revbridge.formats.registry import FORMATS
from revbridge.masterdata.loader import load
from revbridge.observability.logging import apply_settings
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.pipeline.hl7_intake import Hl7Intake
from revbridge.pipeline.intake import Intake
from revbridge.pipeline.poster import Poster
from revbridge.pipeline.replay import Replayer
from revbridge.pipeline.status import Result
from revbridge.pipeline.worker import Worker, WorkerConfig
from revbridge.security.keys import Keyring, load_keyring
from revbridge.settings import BrokerSource, Settings, SftpSource, StagingSource
from revbridge.sources import consumers
from revbridge.sources.staging import StagingPoller
from revbridge.store import Database, configs, migrate, queue, sftp_seen, staging, workitems
from revbridge.store.messages import MessageStore
from revbridge.store.staging_source import StagingTable, TableSpec, columns_of

if TYPE_CHECKING:  # asyncssh is imported only when an SFTP source is configured
    from revbridge.sources.sftp import SftpPoller

REPO_ROOT = Path(__file__).resolve().parents[2]


def reference_config_dir(settings: Settings | None = None) -> Path:
    """The configuration used when none is given: settings.config_dir, else examples/config."""
    if settings is not None and settings.config_dir is not None:
        return settings.config_dir
    for candidate in (REPO_ROOT / "examples" / "config", Path.cwd() / "examples" / "config"):
        if candidate.is_dir():
            return candidate
    raise InputError("no configuration directory: pass one or set REVBRIDGE_CONFIG_DIR")


def apply_reference_config(db: Database, clock: Clock, settings: Settings) -> None:
    """A store with no configuration gets the reference one, so a first `ingest` posts (DESIGN.md
    section 4: the demo health system's configuration is the default)."""
    directory = reference_config_dir(settings)
    config, errors = load(directory)
    if config is None:
        raise InputError(f"the reference configuration in {directory} is invalid: {errors[0]}")
    configs.propose(
        db,
        config,
        effective_from=date(1900, 1, 1),
        actor="system:bootstrap",
        note="reference configuration",
        source=str(directory),
        now=clock.now(),
        approve=True,
        anchor=settings.resolved_audit_anchor,
    )


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring: Keyring
    clock: Clock
    formats: Mapping[str, Format]
    metrics: Metrics
    store: MessageStore
    intake: Intake
    hl7: Hl7Intake
    posting: Poster | None = None
    notices: list[str] = field(default_factory=list)
    connectors: Connectors | None = None
    # In-process wake-ups: intake -> workers (a message arrived), workers -> outbox (journals).
    arrivals: Wakeup = field(default_factory=Wakeup)
    staged: Wakeup = field(default_factory=Wakeup)

    def worker(self, owner: str | None = None) -> Worker:
        s = self.settings
        return Worker(
            db=self.db,
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
            arrivals=self.arrivals,
            staged=self.staged,
        )

    def connector_for(self, legal_entity: str) -> Connector:
        """The ERP connector the configuration in effect names for a legal entity (one client and
        one set of limits per connector, kept across calls)."""
        with self.db.reading() as conn:
            found = self.posting.configs.current(conn, self.clock.now().date()) if self.posting else None
        if found is None:
            raise InputError("no approved configuration is in effect")
        entity = found[1].legal_entity(legal_entity)
        if self.connectors is None:
            self.connectors = Connectors(
                ConnectorEnvironment(db=self.db, clock=self.clock, secrets=os.environ)
            )
        settings = thaw(entity.connector.settings) if entity.connector.settings else {}
        return self.connectors.get(entity.connector.name, settings)

    def dispatcher(self, *, connector_for: Callable[[str], Connector] | None = None) -> Dispatcher:
        owner = self.settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        return Dispatcher(
            self.db,
            connector_for or self.connector_for,
            clock=self.clock,
            metrics=self.metrics,
            config=OutboxConfig(
                owner=f"{owner}:outbox", lease=timedelta(seconds=self.settings.outbox_lease_seconds)
            ),
            staged=self.staged,
        )

    def publisher(self) -> Publisher | None:
        """The events-out publisher the settings ask for (None: ``events_sink`` is "none")."""
        s = self.settings
        if s.events_sink == "none":
            return None
        if not s.events_url:
            raise InputError(f"events_sink {s.events_sink} needs events_url")
        secret = s.events_secret.get_secret_value().encode() if s.events_secret else None
        try:
            sink = SINKS[s.events_sink](
                SinkSettings(
                    url=s.events_url,
                    secret=secret,
                    exchange=s.events_exchange,
                    stream=s.events_stream,
                    subject_prefix=s.events_subject_prefix,
                    timeout=s.events_timeout_seconds,
                )
            )
        except ValueError as exc:
            raise InputError(str(exc)) from None
        owner = s.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        config = PublisherConfig(
            owner=f"{owner}:events",
            source=s.events_source,
            batch=s.events_batch,
            lease=timedelta(seconds=s.events_lease_seconds),
            poll_seconds=s.events_poll_seconds,
            retry_base=s.events_retry_base_seconds,
            retry_max=s.events_retry_max_seconds,
        )
        return Publisher(self.db, sink, clock=self.clock, metrics=self.metrics, config=config)

    def replayer(self) -> Replayer:
        if self.posting is None:
            raise InputError("replay needs the posting stage")
        return Replayer(
            db=self.db,
            store=self.store,
            formats=self.formats,
            tokenizer=self.keyring.tokenizer(),
            poster=self.posting,
            clock=self.clock,
            anchor=self.settings.resolved_audit_anchor,
        )

    def settle(
        self, *, close_windows: bool, on_result: Callable[[Result], None] | None = None, post: bool = True
    ) -> int:
        """Process everything claimable now, re-apply what waits for context, (for one-shot
        commands) close the open batch windows, and post the staged journals to their ERPs."""
        processed = self.worker().drain(on_result)
        if self.posting is not None:
            while self.posting.tick() > 0:
                processed += self.worker().drain(on_result)
            if close_windows:
                self.posting.tick(force_windows=True)
        if post:
            dispatcher = self.dispatcher()
            try:
                dispatcher.drain()
            finally:
                dispatcher.close()
        return processed

    def staging_table(self, source: StagingSource) -> StagingTable:
        """Open a configured staging table; its password comes from the environment variable the
        settings name (never from YAML)."""
        password = None
        if source.password_env:
            password = os.environ.get(source.password_env)
            if password is None:
                raise ConfigurationError(f"staging source {source.name}: {source.password_env} is not set")
        extra = (source.kind_column or "", source.group_column or "")
        spec = TableSpec(
            url=source.url,
            table=source.table,
            schema=source.db_schema,
            password=password,
            key_column=source.key_column,
            columns=columns_of(source.columns.values(), extra),
            status_column=source.status_column,
            ready_value=source.ready_value,
            done_value=source.done_value,
        )
        return StagingTable(spec)

    def staging_poller(self, source: StagingSource) -> StagingPoller:
        channel = f"staging:{source.name}"[:64]
        return StagingPoller(
            config=source,
            open_table=lambda: self.staging_table(source),
            store_rows=lambda envelopes, mark: [
                r.accepted.status for r in self.intake.store_envelopes(envelopes, channel=channel, mark=mark)
            ],
            read_mark=lambda: staging.read(self.db, source.name),
            metrics=self.metrics,
        )

    def broker_password(self, source: BrokerSource) -> str | None:
        """A broker source's password, from the environment variable the settings name."""
        if source.password_env is None:
            return None
        password = os.environ.get(source.password_env)
        if password is None:
            raise ConfigurationError(f"broker source {source.name}: {source.password_env} is not set")
        return password

    def broker_consumer(self, source: BrokerSource) -> consumers.Consumer:
        return consumers.consumer(source, self.intake, self.metrics, self.broker_password(source))

    def broker_status(self) -> dict[str, dict[str, object]]:
        return runtime_status.broker_sources(self)

    def sftp_poller(self, source: SftpSource) -> SftpPoller:
        """A poller for a configured SFTP folder; its password and key passphrase come from the
        environment variables the settings name (never from YAML)."""
        from revbridge.sources.sftp import SftpPoller, whole_file_key

        secrets: dict[str, str | None] = {}
        for what, env in (("password", source.password_env), ("passphrase", source.passphrase_env)):
            secrets[what] = None
            if env:
                secrets[what] = os.environ.get(env)
                if secrets[what] is None:
                    raise ConfigurationError(f"sftp source {source.name}: {env} is not set")
        channel = f"sftp:{source.name}"
        return SftpPoller(
            config=source,
            store_file=lambda data, name: [
                r.accepted.status
                for r in self.intake.receive_whole(
                    data, channel=f"{channel}:{name}"[:64], dedupe_key=whole_file_key(source.name, name, data)
                )
            ],
            remember=lambda taken: sftp_seen.remember(self.db, source.name, taken, self.clock.now()),
            seen=lambda: sftp_seen.seen(self.db, source.name),
            metrics=self.metrics,
            spool=self.settings.home / "sftp" / source.name,
            password=secrets["password"],
            passphrase=secrets["passphrase"],
        )

    def sftp_status(self) -> dict[str, dict[str, object]]:
        return runtime_status.sftp_sources(self)

    def staging_status(self) -> dict[str, dict[str, object]]:
        return runtime_status.staging_sources(self)

    def status(self) -> dict[str, dict[str, int]]:
        """The public shape of `revbridge status --json` (DESIGN.md section 10)."""
        journals = self.posting.journal_counts() if self.posting is not None else {}
        return {
            "messages": queue.counts(self.db),
            "journals": journals,
            "work_items": {"open": sum(workitems.counts_by_code(self.db).values())},
        }

    def close(self) -> None:
        """Release what the runtime opened: the ERP clients it built, the committer, the pool."""
        if self.connectors is not None:
            self.connectors.close()
            self.connectors = None
        self.store.close()
        self.db.close()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    formats: Mapping[str, Format] | None = None,
    upgrade: bool = False,
    null_pool: bool = False,
    with_reference_config: bool = True,
    posting: bool = True,
) -> Runtime:
    apply_settings(settings.log_level, json_lines=settings.log_json)
    db = Database.open(settings.db_url, null_pool=null_pool)
    db.check_reachable()
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
    if with_reference_config and not configs.versions(db):
        apply_reference_config(db, clock, settings)
    metrics = Metrics()
    metrics.state.watch_store(
        lambda: workitems.oldest_open_by_severity(db, now=clock.now()), lambda: queue.pending_count(db)
    )
    chosen = FORMATS if formats is None else formats
    arrivals = Wakeup()
    store = MessageStore(db, keyring, clock, wakeup=arrivals)
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
        posting=Poster(db, clock, metrics) if posting else None,
        arrivals=arrivals,
    )
