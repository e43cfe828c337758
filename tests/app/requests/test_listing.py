"""`GET /api/v1/requests` pages by cursor, filters, and costs the same queries at any length."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from app.auth.models import Role
from app.runtime import Runtime
from tests.app.factories import Factory, request_payload
from tests.app.requests.test_intake import submit, world

__all__ = ["world"]


def register(factory: Factory, world: dict[str, Any], n: int, **overrides: Any) -> list[int]:
    """Register `n` requests as the operator; their ids, oldest first."""
    ids = []
    for i in range(n):
        number = f"B/{factory.now:%H%M}-{i}/XII/2026/Reskrim"
        payload = request_payload(world["agency"], world["cameras"][:1], factory.now,
                                  letter_number=number, **overrides)  # fmt: skip
        reply = submit(factory, world["operator"], payload)
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()["id"])
    return ids


def listed(factory: Factory, user: Any, **params: Any) -> Any:
    return factory.client.get("/api/v1/requests", params=params, headers=factory.headers(user))


def walk(factory: Factory, user: Any, limit: int) -> tuple[list[int], int]:
    """Every page from the first: the ids in order and how many pages there were."""
    ids: list[int] = []
    params: dict[str, Any] = {"limit": limit}
    pages = 0
    while True:
        reply = listed(factory, user, **params)
        assert reply.status_code == 200, reply.text
        pages += 1
        ids += [row["id"] for row in reply.json()]
        cursor = reply.headers.get("x-next-cursor")
        if cursor is None:
            assert "link" not in reply.headers
            return ids, pages
        assert reply.headers["link"] == f'<?limit={limit}&cursor={cursor}>; rel="next"'
        params = {"limit": limit, "cursor": cursor}


def test_pages_walk_every_request_once_newest_first(
    factory: Factory, world: dict[str, Any]
) -> None:
    """Three requests a minute apart, then four in the same instant: the id breaks the tie."""
    older = []
    for _ in range(3):
        older += register(factory, world, 1)
        factory.runtime.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    same_instant = register(factory, world, 4)

    ids, pages = walk(factory, world["operator"], limit=3)

    assert ids == sorted(same_instant, reverse=True) + older[::-1]
    assert pages == 3
    assert walk(factory, world["operator"], limit=7) == (ids, 1)


@contextmanager
def counted(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements run while the block runs."""
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)


def test_a_page_costs_the_same_queries_at_any_length(
    factory: Factory, world: dict[str, Any], runtime: Runtime
) -> None:
    register(factory, world, 12)
    headers = factory.headers(world["operator"])  # logged in before counting
    lengths, costs = [], []
    for limit in (1, 4, 12):
        with counted(runtime) as statements:
            reply = factory.client.get("/api/v1/requests", params={"limit": limit},
                                       headers=headers)  # fmt: skip
        lengths.append(len(reply.json()))
        costs.append(len(statements))

    assert lengths == [1, 4, 12]
    assert costs[0] == costs[1] == costs[2], costs


def test_filters_narrow_the_list(factory: Factory, world: dict[str, Any]) -> None:
    """By agency, text (a letter number, the purpose, a request number), step, overdue
    (step 2's 15 minutes passed) and the day of registration."""
    other = factory.agency("Kejaksaan Negeri Kabupaten Cirebon")
    late = register(factory, world, 2)
    factory.runtime.clock.advance(timedelta(minutes=20))  # type: ignore[attr-defined]
    fresh = register(factory, world, 1, purpose="penyidikan kasus tabrak lari")
    elsewhere = register(factory, {**world, "agency": other}, 1)
    operator = world["operator"]

    def ids(**params: Any) -> list[int]:
        reply = listed(factory, operator, **params)
        assert reply.status_code == 200, reply.text
        return sorted(row["id"] for row in reply.json())

    assert ids(agency_id=other.id) == elsewhere
    assert ids(q="tabrak lari") == fresh
    assert ids(q=f"SKS-{factory.now:%Y}-{late[0]:05d}") == [late[0]]
    assert ids(q="0%") == []  # the wildcard is text, not a pattern
    assert ids(overdue=True) == late
    assert ids(overdue=False) == sorted(fresh + elsewhere)
    assert ids(step=2) == sorted(late + fresh + elsewhere)
    assert ids(step=3) == []
    today = factory.now.date()
    assert ids(created_from=today.isoformat(), created_to=today.isoformat()) == sorted(
        late + fresh + elsewhere
    )
    assert ids(created_to=(today - timedelta(days=1)).isoformat()) == []
    assert listed(factory, factory.user(Role.PEMOHON, agency=other)).json()[0]["id"] in elsewhere


@pytest.mark.parametrize(
    "params",
    [{"cursor": "bukan-kursor"}, {"limit": 0}, {"limit": 201}, {"step": 0}, {"agency_id": 2**64}],
)
def test_bad_paging_or_filters_are_refused_in_the_envelope(
    factory: Factory, world: dict[str, Any], params: dict[str, Any]
) -> None:
    reply = listed(factory, world["operator"], **params)

    assert reply.status_code == 422
    assert reply.json()["error"] == "ValidationFailed"
