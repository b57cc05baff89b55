"""Structured logs with correlation ids and Prometheus metrics. Never payload content."""
