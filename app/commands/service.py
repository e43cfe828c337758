"""`saksi serve`, `worker`, `db upgrade`, `user add`, `key init` and `demo`."""

from __future__ import annotations

import argparse
import json
import os
import sys

import uvicorn

from app import bootstrap, errors, migrate, walkthrough
from app import demo as demo_data
from app.auth.models import Role
from app.auth.schemas import UserCreate, UserUpdate
from app.auth.service import create_user, find_user, update_user
from app.cameras.models import NvrVendor
from app.custody import service as custody
from app.db import unit_of_work
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.settings import Environment, Settings, ensure_generated_secret
from custody import load_or_create, verifier_key
from nvr_sim import NvrSimulator, SimConfig, SimulatorThread, default_cameras
from nvr_sim import cli as nvr_sim_cli


def runtime_from_settings() -> Runtime:
    return build_runtime(Settings())


def served_at(runtime: Runtime, host: str, port: int) -> None:
    """Print into evidence the address this process serves on, unless SAKSI_PUBLIC_URL names
    the one recipients reach (behind a proxy, a domain): an address that answers nowhere
    would go into manifests, links and the BAST's QR code."""
    if "public_url" not in runtime.settings.model_fields_set:
        public = f"http://{host}:{port}"
        runtime.settings = runtime.settings.model_copy(update={"public_url": public})


def serve(args: argparse.Namespace) -> int:
    runtime = runtime_from_settings()
    served_at(runtime, args.host, args.port)
    _prepare(runtime)
    print(f"Saksi berjalan di http://{args.host}:{args.port}/  (API: /docs)", flush=True)
    if args.workers > 1:
        # Several processes on one port (uvicorn's supervisor): each builds its own runtime
        # from the environment, so the address decided here is handed to them through it.
        os.environ.setdefault("SAKSI_PUBLIC_URL", runtime.settings.public_url)
        runtime.close()
        uvicorn.run("app.main:process_app", factory=True, workers=args.workers,
                    host=args.host, port=args.port, log_level="info")  # fmt: skip
        return 0
    app = create_app(runtime, run_workers=True)
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


def worker(args: argparse.Namespace) -> int:
    runtime = runtime_from_settings()
    threads = args.threads or runtime.settings.worker_threads or 1
    # The start-up work first (restarting what workers that died left), then the jobs.
    runtime.queue.run_consumer(threads, periodic=not args.no_periodic)
    runtime.close()
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    """Migrate from the settings alone: no office key, secrets or queue needed (the compose
    `migrate` service runs before anything else exists but the database)."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # SQLite's file lives there
    migrate.upgrade(settings.resolved_database_url, args.revision, settings.database_app_role)
    print(f"database at {args.revision}")
    return 0


def check(_args: argparse.Namespace) -> int:
    """A process's health from the inside (the worker container's health check): the office
    key loads, the database answers at the latest schema, the queue answers."""
    runtime = runtime_from_settings()
    try:
        with runtime.engine.connect() as connection:
            current = migrate.current_revision(connection)
        head = migrate.head_revision()
        pending = runtime.queue.pending_count()
    finally:
        runtime.close()
    if current != head:
        print(f"database at {current}, not {head}: run `saksi db upgrade`", file=sys.stderr)
        return 1
    print(f"ok: database at {current}, {pending} jobs waiting")
    return 0


def user_add(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n")
    data = UserCreate(
        username=args.username,
        full_name=args.full_name or args.username,
        role=Role(args.role),  # the parser does not import the models: checked here
        password=password,
        agency_id=args.agency_id,
    )
    runtime = runtime_from_settings()
    try:
        with unit_of_work(runtime.sessions) as session:
            user = create_user(session, data, runtime.clock.now(), by=custody.console())
            print(f"user {user.username!r} ({user.role.value}) created with id {user.id}")
    finally:
        runtime.close()
    return 0


def user_passwd(args: argparse.Namespace) -> int:
    data = UserUpdate(password=sys.stdin.readline().rstrip("\n"))
    runtime = runtime_from_settings()
    try:
        with unit_of_work(runtime.sessions) as session:
            user = find_user(session, args.username)
            update_user(session, user, data, runtime.clock.now(), by=custody.console())
            print(f"password of {user.username!r} set; its earlier sessions have ended")
    finally:
        runtime.close()
    return 0


def demo(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        os.environ["SAKSI_DATA_DIR"] = str(args.data_dir)
    runtime = runtime_from_settings()
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
            footage = (config.segment_seconds, config.motion_period)
            summary = walkthrough.run(runtime, world, footage, (args.host, args.port))
            print(json.dumps(summary, ensure_ascii=False), flush=True)
            return 0
        window = demo_data.sample_window(
            runtime.clock.now(), config.segment_seconds, config.motion_period
        )
        request_id = demo_data.sample_request(runtime, world, window)
        demo_data.demo_signing_keys(runtime)  # the signing forms work in the demo too
        served_at(runtime, args.host, args.port)
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
        "                      profil 'simulator': putar ulang tanpa jeda waktu nyata (seperti",
        "                      --fast-vendor-playback), tidak seperti NVR sungguhan",
        "",
        "Akun (peran: nama pengguna / kata sandi):",
        accounts,
    ]
    print("\n".join(lines), flush=True)


def key_init(_args: argparse.Namespace) -> int:
    settings = Settings()
    path = settings.office_key_path
    existed = path.exists()
    key = load_or_create(path)
    state = "already exists" if existed else "created"
    print(f"office key {state}: {path}")
    print(f"checkpoint verifier key: {verifier_key(settings.custody_origin, key.public_bytes)}")
    return 0


def nvr_sim(args: argparse.Namespace) -> int:
    return nvr_sim_cli.main(args.rest)
