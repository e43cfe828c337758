"""Two officials performing the same step at the same moment, with real commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app import errors
from app.agencies.models import Agency, AgencyKind
from app.auth.models import Role, User
from app.db import make_engine, make_session_factory, unit_of_work
from app.requests.models import DeliveryMethod, EvidenceRequest, RequestStatus
from app.sop import service
from app.sop.definition import StepAction, load_sop
from app.sop.models import StepRecord

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _user(session: Session, username: str) -> User:
    user = User(
        username=username, full_name=username, role=Role.KEPALA_DINAS,
        password_hash="x", active=True, created_at=NOW,
    )  # fmt: skip
    session.add(user)
    return user


def _request(session: Session, agency: Agency, creator: User) -> EvidenceRequest:
    person = {
        f"{who}_{field}": "x"
        for who in ("officer", "recipient")
        for field in ("name", "id_number", "position", "institution", "email")
    }
    request = EvidenceRequest(
        agency_id=agency.id, letter_number="B/1", letter_number_key="B/1",
        letter_date=date(2026, 11, 21), letter_path="letters/x.pdf", letter_sha256="0" * 64,
        letter_size=1, letter_filename="x.pdf", legal_basis="x", purpose="x", incident="x",
        delivery_method=DeliveryMethod.MEDIA, status=RequestStatus.IN_PROGRESS,
        sop_id="cctv-cirebon-2025", current_step=2, created_by_id=creator.id,
        created_at=NOW, updated_at=NOW, **person,
    )  # fmt: skip
    session.add(request)
    session.flush()
    return request


@pytest.fixture
def arranged(fresh_database_url: str) -> Iterator[dict[str, Any]]:
    engine = make_engine(fresh_database_url)
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        agency = Agency(name="Polres", kind=AgencyKind.POLRI, active=True, created_at=NOW)
        session.add(agency)
        first, second = _user(session, "kadis-a"), _user(session, "kadis-b")
        session.flush()
        request = _request(session, agency, first)
        session.add(
            StepRecord(
                request_id=request.id,
                step_number=1,
                action="register",
                outcome="completed",
                actor_id=first.id,
                actor_role="pemohon",
                performed_at=NOW,
                note="",
            )  # fmt: skip
        )
        ids = {"request": request.id, "users": [first.id, second.id]}
    yield {"sessions": sessions, **ids}
    engine.dispose()


def _meet(barrier: threading.Barrier) -> None:
    """Let both transactions read before either writes; where the engine serialises, go on."""
    try:
        barrier.wait(timeout=2)
    except threading.BrokenBarrierError:
        # SQLite: the IMMEDIATE transaction of one thread blocks the other before it reads.
        pass


def test_only_one_of_two_simultaneous_dispositions_succeeds(arranged: dict[str, Any]) -> None:
    sop = load_sop()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def dispose(user_id: int) -> None:
        try:
            with unit_of_work(arranged["sessions"]) as session:
                request = session.get(EvidenceRequest, arranged["request"])
                user = session.get(User, user_id)
                assert request is not None
                assert user is not None
                _meet(barrier)
                service.perform(
                    session, sop, request, user, frozenset({StepAction.DISPOSE}),
                    NOW + timedelta(minutes=5), expected_step=2,
                )  # fmt: skip
            outcomes.append("done")
        except errors.InvalidTransition:
            outcomes.append("conflict")

    threads = [threading.Thread(target=dispose, args=(uid,)) for uid in arranged["users"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["conflict", "done"]
    with arranged["sessions"]() as session:
        records = session.query(StepRecord).filter_by(request_id=arranged["request"]).all()
        assert [r.step_number for r in records] == [1, 2]
        request = session.get(EvidenceRequest, arranged["request"])
        assert request is not None
        assert request.current_step == 3
