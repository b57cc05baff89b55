"""revbridge: patient billing to ERP finance, balanced, reconciled and exactly once."""

__version__ = "0.1.0"
