"""Two senders at once, with real commits: each pending row is claimed by exactly one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from app.db import make_engine, make_session_factory, unit_of_work
from app.notify import sender
from app.notify.models import Notification, NotificationKind, NotificationState

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def test_concurrent_senders_claim_disjoint_rows(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        for n in range(40):
            session.add(
                Notification(
                    kind=NotificationKind.STEP_DUE,
                    dedupe_key=f"k{n}",
                    recipient_address="a@b.id",
                    subject="s",
                    body="b",
                    created_at=NOW,
                    state=NotificationState.PENDING,
                    attempts=0,
                    next_attempt_at=NOW,
                )  # fmt: skip
            )
    start = threading.Barrier(4)
    claimed: dict[str, list[int]] = {}

    def claim(token: str) -> None:
        start.wait()
        with unit_of_work(sessions) as session:
            claimed[token] = [item.id for item in sender.claim(session, token, NOW, limit=15)]

    threads = [threading.Thread(target=claim, args=(f"{n:032d}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()

    every = [row for rows in claimed.values() for row in rows]
    assert len(every) == len(set(every)) == 40  # none twice, none left (4 × 15 ≥ 40)
