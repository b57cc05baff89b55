"""Staged rows: rows a patient-accounting system wrote to a database staging table, as read by the
staging-table poller (sources/staging.py) -> ChargeCaptured / ChargeReversed /
PatientPaymentReceived / AdjustmentPosted. The document is described in docs/staging-tables.md."""

from revbridge.formats.staging.format import STAGING, StagingFormat, dedupe_key, document, to_events

__all__ = ["STAGING", "StagingFormat", "dedupe_key", "document", "to_events"]
