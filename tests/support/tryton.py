"""trytond for the tests, on the running PostgreSQL (erp-apis.md B.1).

``start()`` gives a running trytond with a fresh database copied from a template; ``stop()`` ends
the process and drops the database. The template is built once per machine and kept (its name
carries a hash of the trytond version, the modules and this fixture, so a change rebuilds it):
``trytond-admin`` activates ``account`` and ``analytic_account`` (about 35 s), then this file, run
as a script, builds the company, the minimal English chart from the account module's test tools,
fiscal years 2000-2030 with monthly periods, the hospital chart under it and analytic cost centres,
with the helpers shipped in the wheels. The hospital chart and the cost centres are the reference
configuration's (examples/config), so the pipeline's own journals post as they are. A PostgreSQL
advisory lock keeps two test sessions from building it at once.

    python tryton.py fixture DATABASE CONFIG_FILE     (what the template build runs)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
import psycopg
from sqlalchemy.engine import make_url

FIXTURE_VERSION = "4"
MODULES = ("account", "analytic_account")
ADMIN_PASSWORD = "admin"
FISCAL_YEARS = range(2000, 2031)  # the corpus 835s pay from 2002 on
COMPANY = "Mercy Health"
ACCOUNT_MAP = {"1015": "1.1.1"}  # the connector setting the tests use: cash clearing on Tryton's cash
# Where each account of the reference chart goes in Tryton: the chart account whose type and parent
# it copies, by role first (receivables and credit balances need a party), else by kind.
LIKE_BY_ROLE = {
    "ar_payer": ("1.2.1", True),
    "ar_patient": ("1.2.1", True),
    "ar_unbilled": ("1.2.3", False),
    "payer_credit_balance": ("2.1.1", True),
    "patient_credit_balance": ("2.1.1", True),
}
LIKE_BY_KIND = {
    "asset": "1.1.4",
    "contra_asset": "1.1.4",
    "liability": "2.2.4",
    "equity": "3.4.4",
    "revenue": "4.1.2",
    "contra_revenue": "4.3.1",
    "expense": "5.2.3",
}


def chart() -> tuple[tuple[tuple[str, str, str, bool], ...], tuple[str, ...]]:
    """The reference configuration's accounts as (code, name, like, party required) and its cost
    centres: what the Tryton company is built with (our 1015 is left to the mapping above)."""
    from revbridge.bootstrap import reference_config_dir
    from revbridge.cli.config import load_dir

    master = load_dir(reference_config_dir()).master
    roles: dict[str, str] = {}
    for mapping in master.account_mappings:
        roles.setdefault(mapping.account, mapping.role.value)
    accounts = []
    for account in sorted(
        {a.number: a for c in master.charts for a in c.accounts}.values(), key=lambda a: a.number
    ):
        if account.number in ACCOUNT_MAP:
            continue
        like, party = LIKE_BY_ROLE.get(
            roles.get(account.number, ""), (LIKE_BY_KIND[account.kind.value], False)
        )
        accounts.append((account.number, account.name, like, party))
    centres = tuple(sorted({d.cost_center for d in master.departments}))
    return tuple(accounts), centres


PG_ADMIN_URL = os.environ.get("REVBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BIN = Path(sys.executable).parent


@dataclass
class TrytonServer:
    url: str
    database: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log: BinaryIO

    @property
    def settings(self) -> dict[str, object]:
        """Connector settings for this server (the registry's ``tryton`` type)."""
        return {
            "type": "tryton",
            "url": self.url,
            "database": self.database,
            "user": "admin",
            "password": ADMIN_PASSWORD,
            "accounts": dict(ACCOUNT_MAP),
        }


def _pg() -> dict[str, object]:
    url = make_url(PG_ADMIN_URL)
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password or None,
        "dbname": url.database or "postgres",
    }


def _trytond_uri() -> str:
    url = make_url(PG_ADMIN_URL)
    auth = url.username or "postgres"
    if url.password:
        auth += f":{url.password}"
    return f"postgresql://{auth}@{url.host or '127.0.0.1'}:{url.port or 5432}/"


def template_name() -> str:
    import trytond

    h = hashlib.sha256()
    parts = (trytond.__version__, *MODULES, FIXTURE_VERSION, repr(chart()))
    for part in (*parts, repr(FISCAL_YEARS), COMPANY, inspect.getsource(fixture)):
        h.update(part.encode())
    return f"rb_tryton_tpl_{h.hexdigest()[:12]}"


def _config(workdir: Path, port: int = 0) -> Path:
    conf = workdir / "trytond.conf"
    lines = ["[database]", f"uri = {_trytond_uri()}", "[web]", f"listen = 127.0.0.1:{port or 8000}"]
    lines += ["[session]", "timeout = 86400", "max_attempt = 1000"]
    conf.write_text("\n".join(lines) + "\n")
    return conf


def _execute(sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(**_pg(), autocommit=True) as conn:  # type: ignore[arg-type]
        cur = conn.execute(sql, args or None)  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description else []


def ensure_template() -> str:
    """The template database's name, building it first if this machine has none."""
    name = template_name()
    with psycopg.connect(**_pg(), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute("SELECT pg_advisory_lock(7724001)")
        try:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists is None:
                _build(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(7724001)")
    return name


def _build(name: str) -> None:
    building = f"{name}_building"
    _execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    _execute(f'CREATE DATABASE "{building}"')
    with tempfile.TemporaryDirectory(prefix="rb-tryton-") as tmp:
        work = Path(tmp)
        conf = _config(work)
        passfile = work / "pass"
        passfile.write_text(ADMIN_PASSWORD + "\n")
        env = os.environ | {"TRYTONPASSFILE": str(passfile)}
        admin = [str(BIN / "trytond-admin"), "-c", str(conf), "-d", building, "--all"]
        admin += ["-u", *MODULES, "--activate-dependencies", "--email", "admin@example.com"]
        _run(admin, env, work / "admin.log")
        _run([sys.executable, __file__, "fixture", building, str(conf)], env, work / "fixture.log")
    _execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    for (stale,) in _execute("SELECT datname FROM pg_database WHERE datname LIKE 'rb_tryton_tpl_%%'"):
        if stale != name:  # templates of earlier fixture versions
            _execute(f'DROP DATABASE IF EXISTS "{stale}"')


def _run(command: list[str], env: dict[str, str], log: Path) -> None:
    with open(log, "wb") as out:
        done = subprocess.run(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}):\n{tail}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(workdir: Path | None = None) -> TrytonServer:
    template = ensure_template()
    database = f"rb_tryton_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    work = workdir or Path(tempfile.mkdtemp(prefix="rb-trytond-"))
    work.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    conf = _config(work, port)
    log = open(work / "trytond.log", "wb")  # noqa: SIM115 - the process writes it until stop()
    process = subprocess.Popen(
        [str(BIN / "trytond"), "-c", str(conf), "-d", database], stdout=log, stderr=subprocess.STDOUT
    )
    server = TrytonServer(
        url=f"http://127.0.0.1:{port}", database=database, process=process, workdir=work, log=log
    )
    try:
        _wait_ready(server)
    except BaseException:
        stop(server)
        raise
    return server


def _wait_ready(server: TrytonServer, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    body = {"id": 0, "method": "common.db.login", "params": ["admin", {"password": ADMIN_PASSWORD}, "en"]}
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (server.workdir / "trytond.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"trytond exited with {server.process.returncode}:\n{log}")
        try:
            answer = httpx.post(f"{server.url}/{server.database}/rpc/", json=body, timeout=5)
            if answer.status_code == 200 and "result" in answer.json():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError("trytond did not answer a login within 90 s")


def stop(server: TrytonServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)
    server.log.close()
    _execute(f'DROP DATABASE IF EXISTS "{server.database}" WITH (FORCE)')


# ---- the fixture, run by the template build in its own process ---------------------------------


def fixture(database: str, config_file: str) -> None:
    from proteus import Model
    from proteus import config as proteus_config

    proteus_config.set_trytond(database, config_file=config_file)
    from trytond.modules.account.tests.tools import create_chart
    from trytond.modules.company.tests.tools import create_company, get_company

    Party = Model.get("party.party")
    party = Party(name=COMPANY)
    party.save()
    create_company(party=party, currency="USD")
    company = get_company()
    create_chart(company)

    FiscalYear = Model.get("account.fiscalyear")
    Sequence = Model.get("ir.sequence.strict")
    SequenceType = Model.get("ir.sequence.type")
    (move_type,) = SequenceType.find([("name", "=", "Account Move")], limit=1)
    for year in FISCAL_YEARS:
        sequence = Sequence(name=str(year), sequence_type=move_type, company=company)
        sequence.save()
        fiscal_year = FiscalYear(
            name=str(year),
            start_date=dt.date(year, 1, 1),
            end_date=dt.date(year, 12, 31),
            company=company,
            move_sequence=sequence,
        )
        fiscal_year.save()
        fiscal_year.click("create_period")

    accounts, centres = chart()
    Account = Model.get("account.account")
    for code, name, like, party_required in accounts:
        (model,) = Account.find([("code", "=", like), ("company", "=", company.id)])
        Account(
            code=code,
            name=name,
            type=model.type,
            parent=model.parent,
            party_required=party_required,
            company=company,
        ).save()

    Analytic = Model.get("analytic_account.account")
    root = Analytic(type="root", name="Cost centres", code="CC", company=company)
    root.save()
    for code in centres:
        Analytic(type="normal", name=code, code=code, root=root, parent=root, company=company).save()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"fixture": fixture}[command](*args)
