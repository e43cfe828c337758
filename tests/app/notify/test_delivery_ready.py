"""A shared delivery tells the pemohon it is ready: the portal's address, never the link."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.notify.models import Notification, NotificationKind
from tests.app.handover.test_handover_flow import _deliver, world
from tests.nvr_sim.conftest import anchor, sim_cache, simulator

__all__ = ["anchor", "sim_cache", "simulator", "world"]


def test_a_shared_delivery_queues_one_message_without_the_link(world: dict[str, Any]) -> None:
    runtime = world["runtime"]
    _, started = _deliver(world)

    with runtime.sessions() as session:
        ready = list(
            session.scalars(
                select(Notification).where(Notification.kind == NotificationKind.DELIVERY_READY)
            )
        )

    assert len(ready) == 1
    message = ready[0]
    assert message.request_id == world["id"]
    assert message.subject == f"[Saksi] Rekaman SKS-2026-{world['id']:05d} siap diserahkan"
    assert "https://saksi.example.go.id" in message.body
    link = started["link"]
    assert link
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert token not in message.body
    assert link not in message.body
    assert "/unduh/" not in message.body
