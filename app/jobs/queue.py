"""The job registry, the Huey binding and transactional enqueueing.

A job that must run again later raises `RetryLater(reason, delay)`: Huey re-schedules it after
`delay` seconds whatever its retry count, so the job, not Huey, decides how often and when. Work
registered with `on_worker_start` runs once whenever a consumer starts, before it takes any job
(start-up reconciliation after a crash).
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.api import crontab
from huey.consumer import Consumer
from huey.exceptions import RetryTask
from sqlalchemy.orm import Session

from app.db import after_commit
from app.jobs.leases import Leases

logger = logging.getLogger(__name__)

# Modules whose import registers jobs; each domain that has jobs adds its `tasks` module here.
TASK_MODULES: tuple[str, ...] = (
    "app.sop.tasks",
    "app.custody.tasks",
    "app.exports.tasks",
    "app.requests.tasks",
    "app.delivery.tasks",
    "app.notify.tasks",
)

JobFunction = Callable[..., Any]
StartHook = Callable[[], None]


class RetryLater(Exception):
    """Raised by a job to be run again after `delay` seconds (its own backoff, not Huey's)."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.delay = max(0.0, delay)


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    func: JobFunction
    retries: int = 0
    retry_delay: int = 0
    schedule: dict[str, str] | None = None


_registry: dict[str, JobSpec] = {}
_start_hooks: dict[str, StartHook] = {}


def job(
    name: str, *, retries: int = 0, retry_delay: int = 0
) -> Callable[[JobFunction], JobFunction]:
    """Register a function as the job `name` ("domain.verb")."""

    def register(func: JobFunction) -> JobFunction:
        _register(JobSpec(name=name, func=func, retries=retries, retry_delay=retry_delay))
        return func

    return register


def periodic_job(name: str, **schedule: str) -> Callable[[JobFunction], JobFunction]:
    """Register a job run on a crontab schedule (`minute="*/5"` …) by the scheduler."""

    def register(func: JobFunction) -> JobFunction:
        _register(JobSpec(name=name, func=func, schedule=schedule))
        return func

    return register


def on_worker_start(name: str) -> Callable[[StartHook], StartHook]:
    """Register `name` to run once whenever job workers start, before they take a job."""

    def register(func: StartHook) -> StartHook:
        _start_hooks[name] = func
        return func

    return register


def _register(spec: JobSpec) -> None:
    existing = _registry.get(spec.name)
    if existing is not None and existing.func is not spec.func:
        raise ValueError(f"job {spec.name!r} is registered twice")
    _registry[spec.name] = spec


def registered_jobs() -> dict[str, JobSpec]:
    """Import every domain's tasks module and return the registry."""
    for module in TASK_MODULES:
        importlib.import_module(module)
    return dict(_registry)


def build_huey(url: str, name: str = "saksi") -> Huey:
    """Create the Huey instance for `sqlite:///path`, `redis://…` or `memory://`."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name=name, filename=str(path), utc=True)
    if parsed.scheme in {"redis", "rediss"}:
        return RedisHuey(name=name, url=url, utc=True)
    if parsed.scheme == "memory":
        return MemoryHuey(name=name, utc=True)
    raise ValueError(f"unsupported queue URL scheme {parsed.scheme!r} (sqlite, redis, memory)")


class JobQueue:
    """Registered jobs bound to one Huey instance."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        # Set by the runtime: periodic jobs then run once per period across every worker.
        self.leases: Leases | None = None
        self.holder: Callable[[], str] = lambda: "unnamed"
        self._tasks: dict[str, Any] = {}
        for spec in registered_jobs().values():
            self._tasks[spec.name] = self._bind(spec)
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()

    def _bind(self, spec: JobSpec) -> Any:
        if spec.schedule is not None:
            run = self._exclusive(spec)
            return self.huey.periodic_task(crontab(**spec.schedule), name=spec.name)(run)
        return self.huey.task(name=spec.name, retries=spec.retries, retry_delay=spec.retry_delay)(
            _retrying(spec.func)
        )

    def _exclusive(self, spec: JobSpec) -> JobFunction:
        """The periodic job, run only by the copy that claims its lease (see `leases`)."""

        @functools.wraps(spec.func)
        def run() -> Any:
            leases, holder = self.leases, self.holder()
            if leases is None:
                return spec.func()
            if not leases.claim(spec.name, holder):
                logger.debug("%s: run by another worker this period", spec.name)
                return None
            stop = threading.Event()
            renewer = threading.Thread(target=_renew, args=(leases, spec.name, holder, stop),
                                       name=f"lease-{spec.name}", daemon=True)  # fmt: skip
            renewer.start()
            try:
                return spec.func()
            finally:
                stop.set()
                renewer.join()
                leases.release(spec.name, holder)

        return run

    def enqueue(self, session: Session, name: str, *args: Any) -> None:
        """Dispatch job `name` once `session` commits; nothing is sent if it rolls back."""
        task = self._task(name)
        after_commit(session, lambda: task(*args))

    def dispatch(self, name: str, *args: Any) -> Any:
        """Dispatch job `name` now, outside any transaction; return Huey's result handle."""
        return self._task(name)(*args)

    def _task(self, name: str) -> Any:
        try:
            return self._tasks[name]
        except KeyError:
            raise ValueError(f"unknown job {name!r}") from None

    def waiting(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of the `name` jobs waiting in the queue or scheduled to run later."""
        tasks = [*self.huey.pending(), *self.huey.scheduled()]
        return [tuple(task.args) for task in tasks if task.name == name]

    def pending_count(self) -> int:
        """Return the number of jobs waiting in the queue (also a storage health check)."""
        return int(self.huey.pending_count())

    def run_start_hooks(self) -> None:
        """Run the `on_worker_start` work; a failure is logged and does not stop the workers."""
        for name, hook in sorted(_start_hooks.items()):
            try:
                hook()
            except Exception:
                logger.exception("start-up work %s failed", name)

    def run_consumer(self, workers: int, *, periodic: bool = True) -> None:
        """Run a consumer in the foreground (`saksi worker`), with Huey's signal handlers."""
        self.run_start_hooks()
        consumer = self.huey.create_consumer(
            workers=workers, worker_type="thread", periodic=periodic
        )
        consumer.run()

    def start_consumer(self, workers: int, *, periodic: bool = True) -> None:
        """Run worker threads and the scheduler in this process, without signal handlers."""
        with self._lock:
            if self._consumer is not None or workers <= 0:
                return
            self.run_start_hooks()
            consumer = self.huey.create_consumer(
                workers=workers, worker_type="thread", periodic=periodic, check_worker_health=False
            )
            # Consumer.start() would install signal handlers, which belong to the web server.
            consumer.scheduler.start()
            for _, worker in consumer.worker_threads:
                worker.start()
            self._consumer = consumer
            logger.info("job consumer started with %d worker thread(s)", workers)

    def stop_consumer(self) -> None:
        """Stop the in-process workers after their current job."""
        with self._lock:
            consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.stop(graceful=True)


def _renew(leases: Leases, name: str, holder: str, stop: threading.Event) -> None:
    """Renew a running job's lease every quarter lease until `stop`."""
    while not stop.wait(leases.lease.total_seconds() / 4):
        try:
            leases.renew(name, holder)
        except Exception:
            logger.exception("%s: could not renew its lease", name)


def _retrying(func: JobFunction) -> JobFunction:
    """Turn the job's `RetryLater` into Huey's `RetryTask` with the job's own delay."""

    @functools.wraps(func)
    def run(*args: Any) -> Any:
        try:
            return func(*args)
        except RetryLater as exc:
            raise RetryTask(str(exc), delay=exc.delay) from exc

    return run
