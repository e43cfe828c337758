"""Per-NVR playback slots as a line, not a retry (issue 18 item 1): an export that finds every
slot of its NVR taken waits in line without an attempt, a custody event or a counted try, shows
`waiting for NVR` meanwhile, takes the slot as soon as it frees, and exports take an NVR's slots
in the order they joined its line."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from app.cameras.models import Nvr
from app.db import unit_of_work
from app.exports import pipeline, turns
from app.exports.limiter import Lease, NvrSlots
from app.exports.models import Export, ExportState
from tests.app.exports.test_faults import (
    World,
    _get_export,
    anchor,
    events,
    sim_cache,
    start_exports,
    world_with,
)

__all__ = ["anchor", "sim_cache", "world_with"]


def _one_slot_held(world: World) -> tuple[NvrSlots, int]:
    """The NVR allows one playback session, and someone else has it."""
    runtime = world.runtime
    with unit_of_work(runtime.sessions) as session:
        nvr = session.scalars(select(Nvr)).one()
        nvr.playback_limit = 1
        nvr_id = nvr.id
    held = NvrSlots(runtime.sessions, runtime.clock, 1, turns.SLOT_LEASE)
    assert held.acquire(nvr_id, "another-worker:export-99") is not None
    return held, nvr_id


def test_a_waiting_export_makes_no_attempt_and_no_event_then_runs_when_the_slot_frees(
    world_with: Callable[..., World],
) -> None:
    world = world_with({}, export_slot_wait_seconds=30.0)
    runtime = world.runtime
    held, nvr_id = _one_slot_held(world)
    [export_id] = start_exports(runtime, world.request_id)
    before = events(runtime, world.request_id)
    ended: list[ExportState] = []
    waiter = threading.Thread(target=lambda: ended.append(pipeline.run(runtime, export_id, "w1")))
    waiter.start()
    time.sleep(1.5)  # it polls the line several times meanwhile

    waiting = _get_export(runtime, export_id)
    assert waiting["state"] == "queued"
    assert waiting["attempts"] == []
    assert waiting["error_detail"].startswith("waiting for NVR ")
    assert events(runtime, world.request_id) == before  # waiting leaves no custody event
    assert waiter.is_alive()

    held.release(Lease(nvr_id, 0, "another-worker:export-99"))
    waiter.join(60)

    assert ended == [ExportState.DONE]
    done = _get_export(runtime, export_id)
    assert [(a["number"], a["outcome"]) for a in done["attempts"]] == [(1, "done")]
    assert done["error_code"] is None
    actions = [a for a, _ in events(runtime, world.request_id)[len(before) :]]
    assert actions.count("export.started") == 1


def test_an_nvrs_slots_go_in_the_order_exports_joined_its_line(
    world_with: Callable[..., World],
) -> None:
    world = world_with({})
    runtime = world.runtime
    held, nvr_id = _one_slot_held(world)
    [first] = start_exports(runtime, world.request_id)
    second = _another_export(world, first)
    line = NvrSlots(runtime.sessions, runtime.clock, 1, turns.SLOT_LEASE)
    alive = timedelta(minutes=1)

    assert line.take_in_turn(nvr_id, first, "w1:export-a", alive) is None
    assert line.take_in_turn(nvr_id, second, "w2:export-b", alive) is None
    assert (line.ahead_of(first), line.ahead_of(second)) == (0, 1)
    held.release(Lease(nvr_id, 0, "another-worker:export-99"))

    assert line.take_in_turn(nvr_id, second, "w2:export-b", alive) is None  # not its turn
    lease = line.take_in_turn(nvr_id, first, "w1:export-a", alive)
    assert lease is not None
    assert line.ahead_of(first) is None  # out of the line once it has its slot
    assert line.ahead_of(second) == 0
    assert line.take_in_turn(nvr_id, second, "w2:export-b", alive) is None  # slot busy
    line.release(lease)
    assert line.take_in_turn(nvr_id, second, "w2:export-b", alive) is not None


def test_a_dead_waiter_does_not_hold_the_line_up(world_with: Callable[..., World]) -> None:
    world = world_with({})
    runtime = world.runtime
    held, nvr_id = _one_slot_held(world)
    [first] = start_exports(runtime, world.request_id)
    second = _another_export(world, first)
    line = NvrSlots(runtime.sessions, runtime.clock, 1, turns.SLOT_LEASE)
    assert line.take_in_turn(nvr_id, first, "dead:export-a", timedelta(seconds=0.5)) is None
    held.release(Lease(nvr_id, 0, "another-worker:export-99"))
    time.sleep(0.7)  # its waiter stopped looking (its worker died)

    assert line.take_in_turn(nvr_id, second, "w2:export-b", timedelta(minutes=1)) is not None


def _another_export(world: World, like: int) -> int:
    """A second queued export of the same NVR (a re-export of the same item, say)."""
    with unit_of_work(world.runtime.sessions) as session:
        model = session.get(Export, like)
        assert model is not None
        other = Export(request_id=model.request_id, item_id=model.item_id, purpose=model.purpose,
                       state=ExportState.QUEUED, created_by_id=model.created_by_id,
                       created_at=model.created_at, updated_at=model.updated_at)  # fmt: skip
        session.add(other)
        session.flush()
        return other.id
