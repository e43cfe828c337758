"""The registry's lists page by cursor (issue 17: "every list pages"): users, agencies, NVRs and
cameras, `?limit=&cursor=`, the next cursor in `Link` and `X-Next-Cursor`."""

from __future__ import annotations

import pytest

from app.auth.models import Role
from tests.app.factories import Factory


def _walk(
    factory: Factory, path: str, headers: dict[str, str], limit: int, **query: str
) -> list[list[int]]:
    """Follow the cursors to the end; the ids of each page."""
    pages, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": limit, **query}
        params |= {"cursor": cursor} if cursor else {}
        answer = factory.client.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        pages.append([row["id"] for row in answer.json()])
        cursor = answer.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "link" not in answer.headers
            return pages
        assert answer.headers["link"] == f'<?limit={limit}&cursor={cursor}>; rel="next"'


def test_agencies_users_nvrs_and_cameras_page_to_the_end(factory: Factory) -> None:
    admin = factory.headers(factory.user(Role.ADMIN))
    for n in range(23):
        factory.agency(f"Polsek Contoh {n:02d}")
        factory.user(Role.OPERATOR, username=f"operator-{n:02d}")
    nvr = factory.nvr()
    for n in range(11):
        factory.camera(nvr, f"Kamera {n:02d}")
    for path, total in (("/api/v1/agencies", 23), ("/api/v1/users", 24),
                        ("/api/v1/cameras", 11), ("/api/v1/nvrs", 1)):  # fmt: skip
        pages = _walk(factory, path, admin, limit=5)
        ids = [i for page in pages for i in page]
        assert len(ids) == total, path
        assert ids == sorted(set(ids)), path  # each once, in id order
        assert all(len(page) == 5 for page in pages[:-1]), path


def test_a_role_filter_pages_too(factory: Factory) -> None:
    admin = factory.headers(factory.user(Role.ADMIN))
    for n in range(7):
        factory.user(Role.OPERATOR, username=f"operator-{n}")
        factory.user(Role.AUDITOR, username=f"auditor-{n}")
    pages = _walk(factory, "/api/v1/users", admin, limit=3, role="operator")
    assert [len(page) for page in pages] == [3, 3, 1]


@pytest.mark.parametrize(
    "cursor", ["bm90LWEtY3Vyc29y", "%%%", "aWQ6LTE", "aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk5"]
)
def test_a_cursor_not_given_out_is_refused(factory: Factory, cursor: str) -> None:
    admin = factory.headers(factory.user(Role.ADMIN))
    answer = factory.client.get("/api/v1/agencies", params={"cursor": cursor}, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["error"] == "ValidationFailed"


def test_limits_are_bounded(factory: Factory) -> None:
    admin = factory.headers(factory.user(Role.ADMIN))
    for limit in (0, 201):
        answer = factory.client.get("/api/v1/cameras", params={"limit": limit}, headers=admin)
        assert answer.status_code == 422
