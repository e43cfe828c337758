"""The `saksi` command: serve, worker, db, user (and later demo, nvr-sim, replay, verify, purge).

The CLI reads the same `SAKSI_*` settings as the service, so it always acts on the same data
directory and database.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

import uvicorn
from pydantic import ValidationError

from app import bootstrap, errors, migrate
from app.auth.models import Role
from app.auth.schemas import UserCreate
from app.auth.service import create_user
from app.db import unit_of_work
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.settings import Environment, Settings

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `saksi` command line."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (errors.SaksiError, ValidationError, ValueError) as exc:
        print(f"saksi: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="saksi", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API, web UI and job workers")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="run job workers only (scale-out)")
    worker.add_argument("--threads", type=int, default=None)
    worker.add_argument("--no-periodic", action="store_true", help="leave schedules to another")
    worker.set_defaults(handler=_worker)

    db = commands.add_parser("db", help="database schema").add_subparsers(required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(handler=_db_upgrade)

    user = commands.add_parser("user", help="user accounts").add_subparsers(required=True)
    add = user.add_parser("add", help="add a user; the password is read from standard input")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--full-name", default=None)
    add.add_argument("--agency-id", type=int, default=None)
    add.add_argument("--password-stdin", action="store_true", required=True)
    add.set_defaults(handler=_user_add)
    return parser


def _runtime() -> Runtime:
    return build_runtime(Settings())


def _serve(args: argparse.Namespace) -> int:
    runtime = _runtime()
    _prepare(runtime)
    app = create_app(runtime, run_workers=True)
    print(f"Saksi berjalan di http://{args.host}:{args.port}/  (API: /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    runtime.close()
    return 0


def _prepare(runtime: Runtime) -> None:
    settings = runtime.settings
    if settings.env is Environment.PRODUCTION:
        with runtime.engine.connect() as connection:
            current = migrate.current_revision(connection)
        if current != migrate.head_revision():
            raise errors.ServiceUnavailable(
                f"the database is at revision {current}, not the newest: run `saksi db upgrade`"
            )
        return
    bootstrap.upgrade_database(runtime)
    admin = bootstrap.ensure_first_admin(runtime)
    if admin is not None:
        print(
            f"Akun admin pertama dibuat / first admin account created:\n"
            f"  username: {admin.username}\n  password: {admin.password}\n"
            f"  (also saved in {admin.password_file})",
            flush=True,
        )


def _worker(args: argparse.Namespace) -> int:
    runtime = _runtime()
    threads = args.threads or runtime.settings.worker_threads or 1
    consumer = runtime.queue.huey.create_consumer(
        workers=threads, worker_type="thread", periodic=not args.no_periodic
    )
    consumer.run()
    runtime.close()
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    runtime = _runtime()
    migrate.upgrade(runtime.settings.resolved_database_url, args.revision)
    print(f"database at {args.revision}")
    runtime.close()
    return 0


def _user_add(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n")
    data = UserCreate(
        username=args.username,
        full_name=args.full_name or args.username,
        role=Role(args.role),
        password=password,
        agency_id=args.agency_id,
    )
    runtime = _runtime()
    try:
        with unit_of_work(runtime.sessions) as session:
            user = create_user(session, data, runtime.clock.now())
            print(f"user {user.username!r} ({user.role.value}) created with id {user.id}")
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
