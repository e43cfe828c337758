"""Periodic jobs with several workers: each runs once per period, by one worker at a time, and
another takes over when the one that ran them dies (issue 18)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.clock import FrozenClock
from app.jobs.leases import LEASE, JobLease, Leases
from app.runtime import Runtime

JOB = "delivery.purge_expired"


def test_one_copy_runs_per_period(runtime: Runtime, clock: FrozenClock) -> None:
    leases = Leases(runtime.sessions, clock)
    assert leases.claim(JOB, "a")
    assert not leases.claim(JOB, "b")  # a runs it
    leases.release(JOB, "a")
    assert not leases.claim(JOB, "b")  # a ran it this period already
    clock.advance(timedelta(minutes=1))
    assert leases.claim(JOB, "b")
    leases.release(JOB, "b")
    with runtime.sessions() as session:
        row = session.scalars(select(JobLease).where(JobLease.name == JOB)).one()
        assert row.holder == "b"  # who ran it last stays on the row


def test_a_dead_holder_is_taken_over_once_its_lease_expires(
    runtime: Runtime, clock: FrozenClock
) -> None:
    leases = Leases(runtime.sessions, clock)
    assert leases.claim(JOB, "killed")  # and never releases: kill -9 mid-run
    clock.advance(timedelta(minutes=1))
    assert not leases.claim(JOB, "survivor")  # the lease still runs
    clock.advance(LEASE)
    assert leases.claim(JOB, "survivor")


def test_a_long_run_keeps_its_lease_by_renewing_it(runtime: Runtime, clock: FrozenClock) -> None:
    leases = Leases(runtime.sessions, clock)
    assert leases.claim(JOB, "slow")
    for _ in range(8):  # four lease lengths of work, renewed every quarter
        clock.advance(LEASE / 4)
        leases.renew(JOB, "slow")
        assert not leases.claim(JOB, "other")
    leases.release(JOB, "slow")
    clock.advance(timedelta(minutes=1))
    assert leases.claim(JOB, "other")


def test_different_jobs_do_not_share_a_lease(runtime: Runtime, clock: FrozenClock) -> None:
    leases = Leases(runtime.sessions, clock)
    assert leases.claim(JOB, "a")
    assert leases.claim("exports.recover_interrupted", "b")
