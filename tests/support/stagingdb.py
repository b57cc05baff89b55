"""Source databases for the staging-table poller tests: a fresh PostgreSQL or MariaDB database
per test, holding one staging table the way a patient-accounting system might lay it out."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from pgdb import create_pg_database, drop_pg_database
from sqlalchemy import Column, Date, Integer, MetaData, Numeric, String, Table, create_engine, text
from sqlalchemy.engine import make_url

MARIADB_ADMIN_URL = os.environ.get("REVBRIDGE_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
BACKENDS = ("postgresql", "mariadb")
TABLE = "billing_stage"


def create_source(backend: str) -> str:
    """A fresh database on ``backend`` with the staging table; returns its URL."""
    if backend == "postgresql":
        url = create_pg_database("rbstage")
    else:
        name = f"rbstage_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(MARIADB_ADMIN_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}`"))
        admin.dispose()
        url = make_url(MARIADB_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    staging_table(MetaData()).metadata.create_all(engine)
    engine.dispose()
    return url


def drop_source(backend: str, url: str) -> None:
    if backend == "postgresql":
        drop_pg_database(url)
        return
    admin = create_engine(MARIADB_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{make_url(url).database}`"))
    admin.dispose()


def staging_table(metadata: MetaData, name: str = TABLE) -> Table:
    return Table(
        name,
        metadata,
        Column("row_id", Integer, primary_key=True, autoincrement=True),
        Column("txn_type", String(8), nullable=False),
        Column("txn_no", String(32)),
        Column("facility", String(16)),
        Column("visit_no", String(32)),
        Column("dept", String(64)),
        Column("amount", Numeric(12, 2)),
        Column("service_date", Date),
        Column("mrn", String(32)),
        Column("patient_name", String(64)),  # never mapped: must never be read into a message
        Column("state", String(8), nullable=False, server_default="ready"),
    )


def row(n: int, kind: str = "CHG", **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "txn_type": kind,
        "txn_no": f"T{n}",
        "facility": "GENERAL",
        "visit_no": f"V{n % 97}",
        "dept": "LAB",
        "amount": Decimal("125.50") + n,
        "service_date": date(2026, 11, 2),
        "mrn": f"MRN{n:06d}",
        "patient_name": "SENTINEL-NAME-ZZQ",
        "state": "ready",
    }
    values.update(overrides)
    return values


def create_table(url: str, name: str) -> None:
    engine = create_engine(url)
    staging_table(MetaData(), name).create(engine)
    engine.dispose()


def insert(url: str, rows: Iterable[Mapping[str, Any]], table_name: str = TABLE) -> None:
    engine = create_engine(url)
    table = staging_table(MetaData(), table_name)
    batch = list(rows)
    with engine.begin() as conn:
        for start in range(0, len(batch), 1000):
            conn.execute(table.insert(), batch[start : start + 1000])
    engine.dispose()


def states(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {
            str(s): int(n)
            for s, n in conn.execute(text(f"SELECT state, COUNT(*) FROM {TABLE} GROUP BY state"))
        }
    engine.dispose()
    return found


def keys_in_state(url: str, state: str) -> set[int]:
    """The keys of the rows whose status column holds ``state``."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {
            int(k)
            for (k,) in conn.execute(text(f"SELECT row_id FROM {TABLE} WHERE state = :s"), {"s": state})
        }
    engine.dispose()
    return found


def source_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """The settings block of a staging source reading this table (key mode unless overridden)."""
    block: dict[str, Any] = {
        "name": "pas",
        "url": url,
        "table": TABLE,
        "key_column": "row_id",
        "batch_size": 50,
        "poll_seconds": 0.05,
        "kind_column": "txn_type",
        "kinds": {"CHG": "charge", "PAY": "payment", "ADJ": "adjustment"},
        "columns": {
            "charge": {
                "id": "txn_no",
                "facility": "facility",
                "encounter": "visit_no",
                "department": "dept",
                "amount": "amount",
                "date": "service_date",
                "patient_id": "mrn",
            },
            "payment": {"id": "txn_no", "facility": "facility", "amount": "amount", "date": "service_date"},
            "adjustment": {
                "id": "txn_no",
                "facility": "facility",
                "amount": "amount",
                "code": "dept",
                "date": "service_date",
            },
        },
    }
    block.update(overrides)
    return block
