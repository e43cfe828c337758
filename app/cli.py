"""The `saksi` command: serve, worker, db, user, key, verify, replay, nvr-sim, demo.

The CLI reads the same `SAKSI_*` settings as the service, so it always acts on the same data
directory and database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn
from pydantic import ValidationError

from app import bootstrap, errors, migrate, walkthrough
from app import demo as demo_data
from app.auth.models import Role
from app.auth.schemas import UserCreate
from app.auth.service import create_user
from app.cameras.models import NvrVendor
from app.db import unit_of_work
from app.delivery import purge
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.settings import Environment, Settings, ensure_generated_secret
from custody import CustodyError, load_or_create, verifier_key, verify_ledger
from custody.package_verify import verify_package
from nvr_adapters import ClipWriter, NvrError, ReplayTarget, TimeWindow, fetch
from nvr_sim import NvrSimulator, SimConfig, SimulatorThread, default_cameras
from nvr_sim import cli as nvr_sim_cli

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
    except (errors.SaksiError, CustodyError, NvrError, ValidationError, ValueError) as exc:
        print(f"saksi: {exc}", file=sys.stderr)
        return 2


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
    key = commands.add_parser("key", help="the office signing key").add_subparsers(required=True)
    init = key.add_parser("init", help="create the office key (production needs one)")
    init.set_defaults(handler=_key_init)


def _evidence_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser("verify", help="verify evidence").add_subparsers(required=True)
    ledger_check = verify.add_parser("ledger", help="recompute and check the custody ledger")
    ledger_check.add_argument(
        "--checkpoint", action="append", default=[], type=Path,
        help="a signed checkpoint kept elsewhere (BAST annex, package); may repeat",
    )  # fmt: skip
    ledger_check.set_defaults(handler=_verify_ledger)
    package_check = verify.add_parser("package", help="check an evidence package offline")
    package_check.add_argument("path", type=Path, help="the package folder or its ZIP")
    package_check.add_argument(
        "--key", type=Path, default=None,
        help="the office's published public key (minisign .pub); else the bundled one is used",
    )  # fmt: skip
    package_check.set_defaults(handler=_verify_package)
    purge_cmd = commands.add_parser("purge", help="purge deliveries past their 14 days now")
    purge_cmd.add_argument("--dry-run", action="store_true", help="only list what is due")
    purge_cmd.add_argument(
        "--now", type=_aware_time, default=None, help="ISO time to purge as of (default: now)"
    )
    purge_cmd.set_defaults(handler=_purge)
    replay = commands.add_parser("replay", help="pull a time range from an RTSP replay URL")
    replay.add_argument("url")
    replay.add_argument("--start", required=True, type=datetime.fromisoformat)
    replay.add_argument("--end", required=True, type=datetime.fromisoformat)
    replay.add_argument("-o", "--output", required=True, type=Path)
    replay.add_argument("--username", default="")
    replay.add_argument("--password-stdin", action="store_true")
    replay.set_defaults(handler=_replay)


def _tool_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    simulator = commands.add_parser(
        "nvr-sim", help="run the simulated NVR", add_help=False, prefix_chars="\0"
    )
    simulator.add_argument("rest", nargs=argparse.REMAINDER)
    simulator.set_defaults(handler=lambda args: nvr_sim_cli.main(args.rest))
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
    demo.set_defaults(handler=_demo)


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
    # The start-up work first (restarting what workers that died left), then the jobs.
    runtime.queue.run_consumer(threads, periodic=not args.no_periodic)
    runtime.close()
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    runtime = _runtime()
    settings = runtime.settings
    migrate.upgrade(settings.resolved_database_url, args.revision, settings.database_app_role)
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


def _demo(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        os.environ["SAKSI_DATA_DIR"] = str(args.data_dir)
    runtime = _runtime()
    _prepare(runtime)
    settings = runtime.settings
    width, height = (int(x) for x in args.sim_size.split("x"))
    password = ensure_generated_secret(settings.data_dir / "secrets" / "nvr-sim-password").decode()
    config = SimConfig(
        cameras=default_cameras(4), cache_dir=settings.data_dir / "nvr-sim-cache", width=width,
        height=height, fps=args.sim_fps, username="admin", password=password,
    )  # fmt: skip
    rtsp_port, http_port = (0, 0) if args.walkthrough else (args.rtsp_port, args.http_port)
    simulator = SimulatorThread(
        NvrSimulator(config, host=args.host, rtsp_port=rtsp_port, http_port=http_port)
    )
    endpoints = simulator.start()
    try:
        # An ONVIF Profile G NVR: probed, searched and replayed as one in the field.
        endpoint = demo_data.NvrEndpoint(
            args.host, endpoints.http_port, endpoints.rtsp_port, "admin", password,
            vendor=NvrVendor.ONVIF,
        )  # fmt: skip
        world = demo_data.seed(runtime, endpoint)
        accounts = demo_data.remember_accounts(settings.data_dir, world)
        if args.walkthrough:
            summary = walkthrough.run(runtime, world, config.segment_seconds, config.motion_period)
            print(json.dumps(summary, ensure_ascii=False), flush=True)
            return 0
        window = demo_data.sample_window(
            runtime.clock.now(), config.segment_seconds, config.motion_period
        )
        request_id = demo_data.sample_request(runtime, world, window)
        _print_demo(args, endpoints.rtsp("/onvif/replay/Recording_1"), accounts, request_id)
        uvicorn.run(create_app(runtime, run_workers=True), host=args.host, port=args.port)
    finally:
        simulator.stop()
        runtime.close()
    return 0


def _print_demo(args: argparse.Namespace, replay_url: str, accounts: str, request_id: int) -> None:
    base = f"http://{args.host}:{args.port}"
    lines = [
        "",
        "Saksi demo",
        f"  Masuk / log in    : {base}/masuk",
        f"  Permintaan contoh : {base}/permintaan/{request_id}",
        f"  API               : {base}/docs",
        f"  NVR simulator     : {replay_url}",
        "",
        "Akun (peran: nama pengguna / kata sandi):",
        accounts,
    ]
    print("\n".join(lines), flush=True)


def _aware_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-12-06T10:00:00+07:00")
    return moment


def _purge(args: argparse.Namespace) -> int:
    runtime = _runtime()
    try:
        now = args.now or runtime.clock.now()
        report = purge.purge_due(runtime, now, dry_run=args.dry_run)
    finally:
        runtime.close()
    print(json.dumps({"now": now.isoformat(), "dry_run": args.dry_run, "due": report.due,
                      "purged": report.purged, "failed": report.failed}))  # fmt: skip
    return 1 if report.failed else 0


def _verify_ledger(args: argparse.Namespace) -> int:
    runtime = _runtime()
    notes = [path.read_text(encoding="utf-8") for path in args.checkpoint]
    try:
        with runtime.engine.connect() as connection:
            report = verify_ledger(
                connection, runtime.settings.custody_origin, runtime.office_key.public_bytes, notes
            )
    finally:
        runtime.close()
    print(
        f"ledger: {report.events} events, {report.checkpoints} checkpoints, "
        f"root {report.root.hex()}"
    )
    for finding in report.findings:
        print(f"FAIL {finding}")
    if report.ok:
        print("OK: every event and checkpoint verifies")
        return 0
    print(f"the first failing sequence number is {report.first_failing_seq}")
    return 1


def _verify_package(args: argparse.Namespace) -> int:
    # Offline: no settings, no database; only the package and the office's published key.
    key = args.key.read_text(encoding="utf-8") if args.key else None
    report = verify_package(args.path, office_public_key=key)
    if not report.key_pinned:
        print("WARNING: checked against the saksi.pub inside the package; pass --key with the")
        print("         office's published key, or a forged package could carry its own key")
    for finding in report.findings:
        print(f"FAIL {finding}")
    if report.ok:
        print(f"OK: {report.clips} clips, their hashes, the signed manifest and every receipt")
        return 0
    return 1


def _replay(args: argparse.Namespace) -> int:
    """Print one JSON object describing the clip written (the operator's diagnostic tool)."""
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
    zone = Settings().zone
    window = TimeWindow(_aware(args.start, zone), _aware(args.end, zone))
    # A vendor playback URL carries its own times; anything else is asked by ONVIF Range.
    onvif = "starttime=" not in args.url
    target = ReplayTarget(args.url, args.username, password, window, onvif=onvif)
    writer = ClipWriter(args.output)
    started = time.perf_counter()
    stats = asyncio.run(fetch(target, writer))
    facts = writer.close()
    result = {
        "frames": facts.frames,
        "first_frame_utc": facts.first_frame_utc.isoformat(),
        "last_frame_utc": facts.last_frame_utc.isoformat(),
        "duration_s": round((facts.last_frame_utc - facts.first_frame_utc).total_seconds(), 3),
        "bytes": facts.size,
        "sha256": facts.sha256,
        "raw_sha256": facts.raw_sha256,
        "resumes": stats.resumes,
        "time_source": stats.time_source,
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
    print(json.dumps(result))
    return 0


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _key_init(_args: argparse.Namespace) -> int:
    settings = Settings()
    path = settings.office_key_path
    existed = path.exists()
    key = load_or_create(path)
    state = "already exists" if existed else "created"
    print(f"office key {state}: {path}")
    print(f"checkpoint verifier key: {verifier_key(settings.custody_origin, key.public_bytes)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
