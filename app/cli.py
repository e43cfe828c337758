"""The `saksi` command: serve, worker, db, user, key, verify, purge, replay, fetch, nvr-sim,
demo.

The CLI reads the same `SAKSI_*` settings as the service, so it always acts on the same data
directory and database. Each command's handler (in `app.commands`) is imported only when that
command runs: `saksi replay` does not pay for the web application's imports.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from app import log_repeats

Handler = Callable[[argparse.Namespace], int]
# The roles of app.auth.models.Role, listed here so the parser imports no database models.
ROLES = ("admin", "kepala_dinas", "sekretaris", "kepala_bidang", "subkoordinator", "operator",
         "auditor", "pemohon")  # fmt: skip


PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `saksi` command line."""
    # Evidence, the database, keys and letters are the office's alone: whatever this process
    # creates is readable by its owner only (files 0600, folders 0700).
    os.umask(PRIVATE_UMASK)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log_repeats.install()  # an error repeating many times a second is written a few times
    # Alembic announces each of its plugins at INFO as it is imported: seven lines at the start
    # of every command that tell an operator nothing. Its migration lines stay.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    parser = _parser()
    args = parser.parse_args(argv)
    module, name = str(args.handler).split(":")
    handler: Handler = getattr(importlib.import_module(f"app.commands.{module}"), name)
    try:
        return handler(args)
    except _user_errors() as exc:
        print(f"saksi: {exc}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[Exception], ...]:
    """What a command reports in one line (evaluated only once something was raised)."""
    from pydantic import ValidationError  # noqa: PLC0415

    from app.errors import SaksiError  # noqa: PLC0415
    from custody import CustodyError  # noqa: PLC0415
    from nvr_adapters.errors import NvrError  # noqa: PLC0415

    return (SaksiError, CustodyError, NvrError, ValidationError, ValueError)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="saksi", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _service_commands(commands)
    _evidence_commands(commands)
    _tool_commands(commands)
    return parser


Commands = argparse._SubParsersAction  # the type argparse gives `add_subparsers()`


def _service_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the API, web UI and job workers")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        choices=range(1, 33),
        metavar="N",
        help="API processes (each also runs SAKSI_WORKER_THREADS job workers)",
    )
    serve.set_defaults(handler="service:serve")

    worker = commands.add_parser("worker", help="run job workers only (scale-out)")
    worker.add_argument("--threads", type=int, default=None)
    worker.add_argument("--no-periodic", action="store_true", help="leave schedules to another")
    worker.set_defaults(handler="service:worker")

    check = commands.add_parser("check", help="exit 0 if the key, database and queue answer")
    check.set_defaults(handler="service:check")

    db = commands.add_parser("db", help="database schema").add_subparsers(required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(handler="service:db_upgrade")

    user = commands.add_parser("user", help="user accounts").add_subparsers(required=True)
    add = user.add_parser("add", help="add a user; the password is read from standard input")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--full-name", default=None)
    add.add_argument("--agency-id", type=int, default=None)
    add.add_argument("--password-stdin", action="store_true", required=True)
    add.set_defaults(handler="service:user_add")
    passwd = user.add_parser(
        "passwd", help="set a user's password (read from standard input): the way back in when "
        "the only administrator forgot theirs; the account's old sessions end",
    )  # fmt: skip
    passwd.add_argument("--username", required=True)
    passwd.add_argument("--password-stdin", action="store_true", required=True)
    passwd.set_defaults(handler="service:user_passwd")
    key = commands.add_parser("key", help="the office signing key").add_subparsers(required=True)
    init = key.add_parser("init", help="create the office key (production needs one)")
    init.set_defaults(handler="service:key_init")


def _evidence_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser("verify", help="verify evidence").add_subparsers(required=True)
    ledger_check = verify.add_parser("ledger", help="recompute and check the custody ledger")
    ledger_check.add_argument(
        "--checkpoint", action="append", default=[], type=Path,
        help="a signed checkpoint kept elsewhere (BAST annex, package); may repeat",
    )  # fmt: skip
    ledger_check.set_defaults(handler="evidence:check_ledger")
    package_check = verify.add_parser("package", help="check an evidence package offline")
    package_check.add_argument("path", type=Path, help="the package folder or its ZIP")
    package_check.add_argument(
        "--key", type=Path, default=None,
        help="the office's published public key (minisign .pub); else the bundled one is used",
    )  # fmt: skip
    package_check.set_defaults(handler="evidence:check_package")
    pdf_check = verify.add_parser(
        "pdf", help="check every electronic signature of a PDF (e.g. a signed BAST) offline"
    )
    pdf_check.add_argument("path", type=Path, help="the PDF")
    pdf_check.add_argument(
        "--trust", action="append", default=[], type=Path,
        help="a CA certificate (PEM/DER) to trust besides the office's signing CAs; may repeat",
    )  # fmt: skip
    pdf_check.add_argument(
        "--no-office-roots", action="store_true", help="trust only the --trust certificates"
    )
    pdf_check.set_defaults(handler="pdf:verify_pdf")
    purge_cmd = commands.add_parser("purge", help="purge deliveries past their 14 days now")
    purge_cmd.add_argument("--dry-run", action="store_true", help="only list what is due")
    purge_cmd.add_argument(
        "--now", type=_aware_time, default=None, help="ISO time to purge as of (default: now)"
    )
    purge_cmd.set_defaults(handler="evidence:purge_deliveries")
    replay = commands.add_parser("replay", help="pull a time range from an RTSP replay URL")
    replay.add_argument("url")
    replay.add_argument("--start", required=True, type=datetime.fromisoformat)
    replay.add_argument("--end", required=True, type=datetime.fromisoformat)
    replay.add_argument("-o", "--output", required=True, type=Path)
    replay.add_argument("--username", default="")
    replay.add_argument("--password-stdin", action="store_true")
    replay.set_defaults(handler="replay:replay")
    _fetch_command(commands)


def _fetch_command(commands: Commands[argparse.ArgumentParser]) -> None:
    fetch = commands.add_parser(
        "fetch", help="probe, search and fetch one camera's window exactly as an export does"
    )
    fetch.add_argument("--vendor", required=True, choices=("hikvision", "dahua", "onvif"))
    fetch.add_argument("--host", required=True)
    fetch.add_argument("--http-port", type=int, default=80)
    fetch.add_argument("--rtsp-port", type=int, default=554)
    fetch.add_argument("--channel", required=True, help="camera number (ONVIF: recording token)")
    fetch.add_argument("--start", required=True, type=datetime.fromisoformat)
    fetch.add_argument("--end", required=True, type=datetime.fromisoformat)
    fetch.add_argument("-o", "--output", required=True, type=Path, help="folder for the files")
    fetch.add_argument("--username", default="admin")
    fetch.add_argument("--password-stdin", action="store_true")
    fetch.add_argument("--timezone", default=None, help="the NVR's zone (default: the office's)")
    fetch.add_argument("--method", choices=("auto", "download", "playback"), default="auto")
    fetch.add_argument("--search-only", action="store_true", help="stop after the search")
    fetch.add_argument(
        "--hikvision-z-is-local", action="store_true", help="firmware reading …Z times as local"
    )
    fetch.set_defaults(handler="fetch:fetch")


def _tool_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    simulator = commands.add_parser(
        "nvr-sim", help="run the simulated NVR", add_help=False, prefix_chars="\0"
    )
    simulator.add_argument("rest", nargs=argparse.REMAINDER)
    simulator.set_defaults(handler="service:nvr_sim")
    demo = commands.add_parser("demo", help="the simulator, the service and sample data")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--rtsp-port", type=int, default=8554)
    demo.add_argument("--http-port", type=int, default=8080, help="the simulator's ONVIF/HTTP port")
    demo.add_argument("--sim-size", default="1280x720", help="simulated footage, WIDTHxHEIGHT")
    demo.add_argument("--sim-fps", type=int, default=25)
    demo.add_argument(
        "--walkthrough", action="store_true",
        help="drive one request end to end over the REST API, print a JSON summary, exit",
    )  # fmt: skip
    demo.add_argument("--data-dir", type=Path, default=None, help="instead of SAKSI_DATA_DIR")
    demo.set_defaults(handler="service:demo")


def _aware_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-12-06T10:00:00+07:00")
    return moment


if __name__ == "__main__":
    raise SystemExit(main())
