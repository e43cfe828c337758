"""BAST numbers: consecutive per year under concurrency, and a rolled-back issue skips none."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_session_factory, unit_of_work
from app.handover.numbering import allocate, format_number


@pytest.fixture
def sessions(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = (
        make_engine(fresh_database_url, pool_size=25, max_overflow=0)
        if (fresh_database_url.startswith("postgresql"))
        else make_engine(fresh_database_url)
    )
    yield make_session_factory(engine)
    engine.dispose()


def test_twenty_issued_at_once_get_twenty_consecutive_numbers(
    sessions: sessionmaker[Session],
) -> None:
    barrier = threading.Barrier(20)
    numbers: list[int] = []
    lock = threading.Lock()

    def issue() -> None:
        barrier.wait(timeout=30)
        with unit_of_work(sessions) as session:
            number = allocate(session, 2026)
        with lock:
            numbers.append(number)

    threads = [threading.Thread(target=issue) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(numbers) == list(range(1, 21))


def test_a_rolled_back_issue_does_not_consume_its_number(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        assert allocate(session, 2026) == 1
    with pytest.raises(RuntimeError, match="rendering the BAST failed"):
        _issue_and_fail(sessions)

    with unit_of_work(sessions) as session:
        assert allocate(session, 2026) == 2


def _issue_and_fail(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        assert allocate(session, 2026) == 2
        raise RuntimeError("rendering the BAST failed")


def test_each_year_starts_at_one(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        assert [allocate(session, 2026), allocate(session, 2026)] == [1, 2]
        assert allocate(session, 2027) == 1


@pytest.mark.parametrize(
    ("sequence", "year", "text"),
    [(7, 2026, "007/BAST/2026"), (42, 2026, "042/BAST/2026"), (1234, 2027, "1234/BAST/2027")],
)
def test_number_format(sequence: int, year: int, text: str) -> None:
    assert format_number(sequence, year) == text
