"""Durable background jobs on Huey: SQLite storage embedded, Redis when scaled out.

Jobs are declared next to their domain with `@job("domain.verb")` and enqueued with
`JobQueue.enqueue(session, …)`, which dispatches only after the session commits.
"""

from app.jobs.queue import JobQueue, JobSpec, build_huey, job, periodic_job, registered_jobs

__all__ = ["JobQueue", "JobSpec", "build_huey", "job", "periodic_job", "registered_jobs"]
