"""The soak benchmark's parts (bench/soak.py): its traffic, and its report (CSV, chart, verdict)."""
