"""Prometheus metrics, one registry per running engine (tests build several engines)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from threading import Lock

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from revbridge.observability.logging import get_logger

_log = get_logger("revbridge.metrics")

# Read at scrape time; bootstrap passes functions that ask the store, so this layer knows no SQL.
OldestOpen = Callable[[], Mapping[str, float]]  # severity -> age in seconds of its oldest open item
Backlog = Callable[[], int]  # messages pending or processing


class StateCollector(Collector):
    """Gauges that must be read, not counted: the state of the store and of the ERP circuits
    when Prometheus scrapes. A counter kept in one process could not know the backlog that other
    processes left, nor an item opened by another worker; the store does."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._oldest: OldestOpen | None = None
        self._backlog: Backlog | None = None
        self._breakers: dict[str, Callable[[], bool]] = {}

    def watch_store(self, oldest_open: OldestOpen, backlog: Backlog) -> None:
        with self._lock:
            self._oldest, self._backlog = oldest_open, backlog

    def watch_breaker(self, connector: str, is_open: Callable[[], bool]) -> None:
        with self._lock:
            self._breakers[connector] = is_open

    def forget_breaker(self, connector: str, is_open: Callable[[], bool]) -> None:
        with self._lock:
            if self._breakers.get(connector) == is_open:
                del self._breakers[connector]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            oldest, backlog, breakers = self._oldest, self._backlog, dict(self._breakers)
        try:
            yield from self._store_gauges(oldest, backlog)
        except Exception as exc:  # a scrape while the database is away still reports the rest
            _log.warning("metrics.store_unreadable", error=type(exc).__name__)
        circuits = GaugeMetricFamily(
            "revbridge_erp_circuit_open",
            "1 while the connector's circuit breaker is open",
            labels=["connector"],
        )
        for connector in sorted(breakers):
            circuits.add_metric([connector], 1.0 if breakers[connector]() else 0.0)
        yield circuits

    @staticmethod
    def _store_gauges(oldest: OldestOpen | None, backlog: Backlog | None) -> Iterator[GaugeMetricFamily]:
        if oldest is not None:
            ages = GaugeMetricFamily(
                "revbridge_work_item_oldest_open_seconds",
                "Age of the oldest open work item, by severity (0: none open)",
                labels=["severity"],
            )
            found = oldest()
            for severity in sorted({"error", "warning", *found}):
                ages.add_metric([severity], found.get(severity, 0.0))
            yield ages
        if backlog is not None:
            yield GaugeMetricFamily(
                "revbridge_message_backlog", "Messages stored and not yet processed", value=backlog()
            )


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.accepted = Counter(
            "revbridge_messages_accepted",
            "Messages committed to the store",
            ["channel", "format"],
            registry=r,
        )
        self.duplicates = Counter(
            "revbridge_messages_duplicate",
            "Arrivals recognised as duplicates",
            ["channel", "format"],
            registry=r,
        )
        self.terminal = Counter(
            "revbridge_messages_terminal",
            "Messages reaching a terminal state",
            ["format", "status"],
            registry=r,
        )
        self.retries = Counter(
            "revbridge_message_retries", "Processing attempts that will be retried", ["format"], registry=r
        )
        self.processing = Histogram(
            "revbridge_processing_seconds",
            "Time from claim to terminal state per message",
            ["format"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.work_items = Counter("revbridge_work_items_opened", "Work items opened", ["code"], registry=r)
        self.journals = Counter(
            "revbridge_journals", "Journals by lane and state change", ["lane", "status"], registry=r
        )
        self.erp_calls = Counter(
            "revbridge_erp_calls", "Calls made to ERP connectors", ["connector", "outcome"], registry=r
        )
        self.receipt_to_posted = Histogram(
            "revbridge_receipt_to_posted_seconds",
            "Time from receipt of a message to its journal being posted",
            ["lane"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self._operations(r)

    def _operations(self, r: CollectorRegistry) -> None:
        """What operations watch besides the message and journal counts: MLLP, reconciliation,
        and the store's and the circuits' state read at scrape time."""
        self.mllp_connections = Gauge("revbridge_mllp_connections", "Open MLLP connections", registry=r)
        self.mllp_skipped_bytes = Counter(
            "revbridge_mllp_skipped_bytes", "Bytes received outside MLLP frames and skipped", registry=r
        )
        self.mllp_ack = Histogram(
            "revbridge_mllp_ack_seconds",
            "Time from a whole MLLP frame received to its ACK written to the socket",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        # labelled so that nothing is exported before a reconciliation has run (not a false 0)
        self.reconciliation_ties = Gauge(
            "revbridge_reconciliation_ties",
            "1 if the last whole-store reconciliation asked of the API tied, 0 if it did not",
            ["scope"],
            registry=r,
        )
        self.staging_rows = Counter(
            "revbridge_staging_rows",
            "Rows read from database staging tables (received), and their messages stored or duplicate",
            ["source", "outcome"],
            registry=r,
        )
        self.staging_lag = Gauge(
            "revbridge_staging_lag_rows",
            "Rows waiting in a staging table, not yet stored",
            ["source"],
            registry=r,
        )
        self.staging_poll_failures = Counter(
            "revbridge_staging_poll_failures",
            "Polls of a staging table that failed (source database unreachable or restarting, table "
            "missing), by error type; the poller retries with backoff",
            ["source", "error"],
            registry=r,
        )
        self.broker_messages = Counter(
            "revbridge_broker_messages",
            "Messages taken from RabbitMQ queues and NATS streams (received), stored, duplicate, "
            "poison (stored and excepted) and acknowledged to the broker (acked)",
            ["source", "outcome"],
            registry=r,
        )
        self.broker_lag = Gauge(
            "revbridge_broker_lag_messages",
            "Messages waiting in a RabbitMQ queue or for a NATS JetStream consumer, not yet delivered "
            "to revbridge, as last seen by the consumer",
            ["source"],
            registry=r,
        )
        self.sftp_files = Counter(
            "revbridge_sftp_files",
            "Files seen on SFTP sources (listed), and taken: stored, duplicate, refused; or failed",
            ["source", "outcome"],
            registry=r,
        )
        self.sftp_lag = Gauge(
            "revbridge_sftp_lag_files",
            "Complete files waiting on an SFTP server, not yet taken (set at each listing, lowered as "
            "each is taken)",
            ["source"],
            registry=r,
        )
        self.sftp_scan_failures = Counter(
            "revbridge_sftp_scan_failures",
            "SFTP scans that failed: server unreachable or restarting, connection lost, login refused",
            ["source"],
            registry=r,
        )
        self._events(r)
        self.state = StateCollector()
        r.register(self.state)

    def _events(self, r: CollectorRegistry) -> None:
        """Events out (revbridge.events): what the publisher sent, what failed, how far behind."""
        self.events_published = Counter(
            "revbridge_events_published", "CloudEvents published", ["sink", "type"], registry=r
        )
        self.events_failed = Counter(
            "revbridge_events_failed",
            "CloudEvent sends that failed and will be retried",
            ["sink"],
            registry=r,
        )
        self.events_unsent = Gauge(
            "revbridge_events_unsent", "Announcements in the event outbox not sent yet", registry=r
        )
        self.events_lag = Gauge(
            "revbridge_events_lag_seconds",
            "Age of the oldest announcement not sent yet (0 when none waits)",
            registry=r,
        )
