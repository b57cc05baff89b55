"""Prometheus metrics, one registry per running engine (tests build several engines)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
        self.mllp_connections = Gauge("revbridge_mllp_connections", "Open MLLP connections", registry=r)
        self.mllp_skipped_bytes = Counter(
            "revbridge_mllp_skipped_bytes", "Bytes received outside MLLP frames and skipped", registry=r
        )
