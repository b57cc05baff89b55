"""The `revbridge` command line (DESIGN.md section 10): the commands of the CLI face.

``serve`` (the runner, ``revbridge.service``) and ``demo`` (``revbridge.demo``) sit above the faces
and join these in ``revbridge.__main__``, the entry point.
"""

from __future__ import annotations

import sys

import click
import typer
from typer._click.exceptions import ClickException as TyperClickException

from revbridge.cli import (
    admin,
    alerts,
    config,
    exceptions,
    golive,
    journals,
    ledger,
    messages,
    periods,
    reconcile,
    report,
    security,
)
from revbridge.cli.common import err_console
from revbridge.core.errors import RevbridgeError, StoreError, StoreUnavailable

app = typer.Typer(
    name="revbridge",
    help="Patient billing to ERP finance: balanced, reconciled, PHI-free journals, exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(messages.ingest)
app.command()(messages.status)
app.command("journals")(journals.journals_command)
app.command()(journals.replay)
app.add_typer(exceptions.exceptions_app, name="exceptions")
app.command("reconcile")(reconcile.reconcile_command)
app.add_typer(report.report_app, name="report")
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.apikey_app, name="apikey")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(config.config_app, name="config")
app.add_typer(periods.period_app, name="period")
app.add_typer(golive.golive_app, name="golive")
app.add_typer(security.keys_app, name="keys")
app.add_typer(alerts.alerts_app, name="alerts")
app.command()(security.purge)
ledger.register(app)


def main(command: typer.Typer = app) -> None:
    """Run ``command`` (default: the CLI face's commands) with one-line errors and exit codes."""
    try:
        code = command(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except RevbridgeError as exc:
        # A database that cannot be reached is the user's to fix (exit 2, like bad input); any
        # other store failure is ours or the server's (exit 3).
        failed = isinstance(exc, StoreError) and not isinstance(exc, StoreUnavailable)
        kind = "database error" if failed else "error"
        err_console.print(f"revbridge: {kind}: {exc}", highlight=False, soft_wrap=True)
        sys.exit(3 if failed else 2)
    except KeyboardInterrupt:
        sys.exit(130)
    except (typer.Exit, click.exceptions.Exit) as exc:
        sys.exit(exc.exit_code)
    except (TyperClickException, click.ClickException) as exc:
        # usage errors (a missing option, an unknown command): click's own two-line message
        exc.show()
        sys.exit(exc.exit_code)
    except (typer.Abort, click.exceptions.Abort):
        sys.exit(130)
