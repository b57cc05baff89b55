"""One typed settings object, read once at start-up and passed down.

Values come from (highest first) explicit overrides (CLI flags), ``REVBRIDGE_*`` environment
variables, an optional YAML file (``REVBRIDGE_SETTINGS_FILE`` or ``--settings``), then defaults.
Nothing below bootstrap reads the environment itself.
"""

from __future__ import annotations

import os
import posixpath
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from revbridge.core.errors import ConfigurationError

# The YAML file of the settings being built right now (load_settings sets it for the duration).
_settings_file: ContextVar[Path | None] = ContextVar("revbridge_settings_file", default=None)


class _YamlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None:
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except OSError as exc:
                raise ConfigurationError(f"cannot read settings file {path}: {exc.strerror}") from None
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" at line {mark.line + 1}" if mark is not None else ""
                problem = getattr(exc, "problem", None) or "syntax error"
                raise ConfigurationError(
                    f"settings file {path} is not valid YAML{where}: {problem}"
                ) from None
            if not isinstance(loaded, dict):
                raise ConfigurationError(f"settings file {path} must hold a mapping")
            self._data = loaded

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


StagingKind = Literal["charge", "payment", "adjustment"]
# The canonical fields a staged row of each kind may map (formats/staging/rows.py reads them).
STAGING_FIELDS: dict[str, frozenset[str]] = {
    "charge": frozenset(
        {"id", "facility", "encounter", "department", "amount", "date", "procedure", "revenue_code"}
        | {"quantity", "patient_id", "currency"}
    ),
    "payment": frozenset(
        {"id", "facility", "amount", "date", "encounter", "method", "patient_id", "currency"}
    ),
    "adjustment": frozenset(
        {"id", "facility", "amount", "code", "date", "encounter", "category", "against", "department"}
        | {"patient_id", "currency"}
    ),
}


class StagingSource(BaseModel):
    """One database staging table to poll (docs/configuration.md, "Database staging tables")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    url: str  # SQLAlchemy URL without a password: postgresql+psycopg://..., mysql+pymysql://...
    password_env: str | None = None  # the environment variable holding the source password
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    db_schema: str | None = None
    key_column: str
    status_column: str | None = None  # status mode when set; key (high-water) mode otherwise
    ready_value: str = "ready"
    done_value: str = "done"
    group_column: str | None = None  # consecutive rows with one value of it are one message
    batch_size: int = Field(default=500, ge=1, le=10_000)
    poll_seconds: float = Field(default=1.0, gt=0)
    kind: StagingKind | None = None  # every row is of this kind ...
    kind_column: str | None = None  # ... or this column's value, looked up in ``kinds``
    kinds: dict[str, StagingKind] = Field(default_factory=dict)
    columns: dict[StagingKind, dict[str, str]]  # kind -> canonical field -> source column

    @model_validator(mode="after")
    def _consistent(self) -> StagingSource:
        if urlsplit(self.url).password:
            raise ValueError("the url must not hold a password: name an environment variable in password_env")
        if (self.kind is None) == (self.kind_column is None):
            raise ValueError("give either kind or kind_column (with kinds)")
        if self.kind_column is not None and not self.kinds:
            raise ValueError("kind_column needs kinds: column value -> charge | payment | adjustment")
        used = {self.kind} if self.kind is not None else set(self.kinds.values())
        unmapped = sorted(k for k in used if k not in self.columns)
        if unmapped:
            raise ValueError(f"columns has no mapping for kind {unmapped[0]}")
        for kind, fields in self.columns.items():
            unknown = sorted(set(fields) - STAGING_FIELDS[kind])
            if unknown:
                raise ValueError(f"columns.{kind} maps unknown field(s) {', '.join(unknown)}")
        return self


BrokerFormat = Literal["auto", "hl7v2", "x12", "fhir", "portal"]


class BrokerSource(BaseModel):
    """One RabbitMQ queue or NATS JetStream stream to consume (docs/configuration.md, "Broker
    sources"); sources/broker.py says what is promised."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    broker: Literal["rabbitmq", "nats"]
    url: str  # amqp://user@host:5672/vhost or nats://host:4222, without a password
    password_env: str | None = None  # the environment variable holding the broker password
    queue: str | None = Field(default=None, min_length=1, max_length=255)  # RabbitMQ: an existing queue
    stream: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")  # NATS: the stream
    subject: str | None = None  # NATS: the consumer's filter subject (default: the whole stream)
    consumer: str = Field(default="revbridge", pattern=r"^[A-Za-z0-9_-]{1,64}$")  # durable name
    format: BrokerFormat = "auto"
    prefetch: int = Field(default=100, ge=1, le=10_000)  # unacknowledged messages in flight
    max_deliveries: int = Field(default=5, ge=1, le=1_000)  # then a message that fails is poison
    retry_seconds: float = Field(default=5.0, gt=0)  # pause before reconnecting or redelivering
    ack_wait_seconds: float = Field(default=30.0, gt=0)  # NATS: an unacked message comes back after

    @model_validator(mode="after")
    def _consistent(self) -> BrokerSource:
        parts = urlsplit(self.url)
        if parts.password:
            raise ValueError("the url must not hold a password: name an environment variable in password_env")
        wanted = {"rabbitmq": ("amqp", "amqps"), "nats": ("nats", "tls")}[self.broker]
        if parts.scheme not in wanted:
            raise ValueError(f"a {self.broker} url starts with {' or '.join(s + '://' for s in wanted)}")
        if self.broker == "rabbitmq" and (self.queue is None or self.stream is not None):
            raise ValueError("a rabbitmq source names a queue (and no stream)")
        if self.broker == "nats" and (self.stream is None or self.queue is not None):
            raise ValueError("a nats source names a stream (and no queue)")
        return self


class SftpSource(BaseModel):
    """One SFTP folder to poll, e.g. a clearinghouse's 835 outbox (docs/configuration.md, "SFTP
    sources"). Secrets come from environment variables named here, never from YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    folder: str  # the remote folder files arrive in
    done_folder: str | None = None  # after: move; default: "done" beside the folder
    rejected_folder: str | None = None  # after: move; default: "rejected" beside the folder
    after: Literal["move", "remember"] = "move"  # remember: the server is read-only
    ready: Literal["stable", "marker"] = "stable"  # stable: unchanged between two listings
    marker_suffix: str = Field(default=".ready", pattern=r"^\.[A-Za-z0-9_-]{1,16}$")
    known_hosts: Path | None = None  # default: ~/.ssh/known_hosts
    check_host_key: bool = True
    client_key: Path | None = None
    passphrase_env: str | None = None  # the environment variable holding the key's passphrase
    password_env: str | None = None  # the environment variable holding the password
    poll_seconds: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=20.0, gt=0)
    max_file_bytes: int = Field(default=256 * 1024 * 1024, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> SftpSource:
        if not self.folder.startswith("/"):
            raise ValueError("folder must be an absolute path on the server")
        if self.client_key is None and self.password_env is None:
            raise ValueError("give client_key or password_env (or both)")
        return self

    @property
    def done(self) -> str:
        return self.done_folder or posixpath.join(posixpath.dirname(self.folder.rstrip("/")), "done")

    @property
    def rejected(self) -> str:
        return self.rejected_folder or posixpath.join(posixpath.dirname(self.folder.rstrip("/")), "rejected")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REVBRIDGE_", extra="ignore", frozen=True)

    # where the embedded store, key file and inbox live
    home: Path = Path(".revbridge")
    # SQLAlchemy URL; default: SQLite file under home. PostgreSQL: postgresql+psycopg://...
    db: str | None = None
    # the configuration directory (master data + rulebook) used when none is given
    config_dir: Path | None = None

    # encryption of raw payloads: "kid:base64key,kid2:base64key" or a JSON key file
    keys: SecretStr | None = None
    key_file: Path | None = None
    active_key: str | None = None
    # HMAC key for patient tokens (base64); defaults to the key file's token key
    token_key: SecretStr | None = None

    # HTTP API and MLLP listener
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    mllp_host: str = "127.0.0.1"
    mllp_port: int = 2575
    mllp_max_frame: int = 1024 * 1024
    mllp_idle_timeout: float = 300.0
    mllp_max_connections_per_peer: int = 16
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    tls_client_allow: list[str] = Field(default_factory=list)
    max_body_bytes: int = 16 * 1024 * 1024
    max_x12_bytes: int = 256 * 1024 * 1024
    ingest_rate_per_key: float = 200.0  # requests per second per API key on ingest routes

    # directory source
    inbox: Path | None = None
    inbox_poll_seconds: float = 1.0
    inbox_stable_seconds: float = 1.0

    # database staging-table sources (sources/staging.py), polled by `revbridge serve`
    staging_sources: list[StagingSource] = Field(default_factory=list)
    # RabbitMQ / NATS JetStream consumers (sources/broker.py), run by `revbridge serve`
    broker_sources: list[BrokerSource] = Field(default_factory=list)
    # SFTP folders (sources/sftp.py), polled by `revbridge serve`
    sftp_sources: list[SftpSource] = Field(default_factory=list)

    # workers
    worker_id: str | None = None
    lease_seconds: float = 60.0
    # how long the ERP outbox holds the journals of one round; a process that dies holding them
    # delays them this long (another takes them over as uncertain and looks them up first)
    outbox_lease_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = 5
    retry_base_seconds: float = 2.0
    batch_size: int = 64

    # events out (issue 19, docs/configuration.md): CloudEvents to one sink; "none" sends nothing
    # (announcements still accumulate in the event outbox, sent once a sink is configured;
    # `revbridge purge` drops those older than retention, owed to no one)
    events_sink: Literal["none", "rabbitmq", "nats", "webhook"] = "none"
    events_url: str | None = None  # amqp://..., nats://..., or the webhook's https:// URL
    events_secret: SecretStr | None = None  # the webhook's HMAC-SHA256 signing key
    events_source: str = "/revbridge"  # the CloudEvents source attribute
    events_exchange: str = "revbridge.events"  # RabbitMQ topic exchange (routing key: the type)
    events_stream: str = "REVBRIDGE_EVENTS"  # NATS JetStream stream ...
    events_subject_prefix: str = "revbridge.events"  # ... of subjects <prefix>.<type>
    events_batch: int = Field(default=100, ge=1)
    # how long a publisher holds the announcements of one round; one that dies holding them
    # delays them this long (another publisher, or the restarted one, then sends them)
    events_lease_seconds: float = Field(default=60.0, gt=0)
    events_poll_seconds: float = Field(default=1.0, gt=0)
    events_retry_base_seconds: float = Field(default=1.0, gt=0)
    events_retry_max_seconds: float = Field(default=300.0, gt=0)
    events_timeout_seconds: float = Field(default=10.0, gt=0)

    # retention of raw payloads (days); None keeps them forever
    retention_days: int | None = None
    # days `revbridge purge` remembers the files an SFTP source took (store/pruning.py); a file
    # left longer than this on a read-only server is taken again (its messages are duplicates)
    sftp_seen_days: int = Field(default=90, ge=1)
    # records horizon (whole months, PostgreSQL): `revbridge purge` drops the messages and events
    # partitions of months older than this many months (store/horizon.py); None keeps them
    records_retention_months: int | None = None

    # observability
    log_level: str = "INFO"
    log_json: bool = True

    # alert thresholds: `revbridge alerts render` writes the Prometheus rules from these
    # (docs/operations.md says what each alert means and what to do)
    alert_cash_posting_p99_seconds: float = Field(default=60.0, gt=0)  # realtime lane, receipt->posted
    alert_error_item_age_hours: float = Field(default=4.0, gt=0)  # oldest open error work item
    alert_warning_item_age_hours: float = Field(default=72.0, gt=0)  # oldest open warning work item
    alert_backlog_messages: int = Field(default=10000, ge=1)  # messages pending or processing
    alert_backlog_minutes: float = Field(default=10.0, gt=0)  # ... for this long
    alert_circuit_open_minutes: float = Field(default=5.0, gt=0)  # an ERP circuit open this long
    alert_ack_p99_seconds: float = Field(default=0.5, gt=0)  # MLLP frame received -> ACK written
    alert_excepted_per_hour: float = Field(default=50.0, gt=0)  # messages excepted in the last hour
    alert_reconciliation_minutes: float = Field(default=30.0, gt=0)  # not tying for this long

    # authentication
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_roles_claim: str = "roles"  # the claim that lists a token holder's revbridge roles
    # a workbench session ends after this long without a request (automatic logoff); 0: never
    workbench_idle_minutes: float = Field(default=15.0, ge=0)
    require_approval: bool = False
    # a file outside the database that repeats the audit head, so truncation is caught
    audit_anchor: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        chosen = _settings_file.get()
        if chosen is None and os.environ.get("REVBRIDGE_SETTINGS_FILE"):
            chosen = Path(os.environ["REVBRIDGE_SETTINGS_FILE"])
        return (init_settings, env_settings, _YamlSource(settings_cls, chosen))

    @property
    def db_url(self) -> str:
        if self.db:
            return self.db
        return f"sqlite:///{(self.home / 'revbridge.db').resolve()}"

    @property
    def embedded_store(self) -> bool:
        """The store is a SQLite file (the default one or one named with --db): it belongs to this
        process, so commands bring its schema up to date themselves. PostgreSQL is shared by many
        processes and is upgraded on purpose (`revbridge db upgrade`)."""
        return self.db_url.split(":", 1)[0].split("+", 1)[0] == "sqlite"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or (self.home / "keys.json")

    @property
    def resolved_audit_anchor(self) -> Path:
        return self.audit_anchor or (self.home / "audit-anchor.json")

    @property
    def resolved_inbox(self) -> Path:
        return self.inbox or (self.home / "inbox")


def load_settings(settings_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once. Overrides that are None are ignored (unset CLI flags)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    token = _settings_file.set(settings_file)
    try:
        return Settings(**clean)
    except ValidationError as exc:
        # Name the setting and what is wrong with it, never the value (it may be a secret).
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigurationError(f"invalid setting {name}: {first['msg']}") from None
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}".splitlines()[0]) from None
    finally:
        _settings_file.reset(token)
