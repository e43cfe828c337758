"""Pages of the registry's lists (users, agencies, NVRs, cameras): `?limit=&cursor=`.

Ordered by id, a page ends with the id it stopped at; the next page's cursor (that id, opaque)
is in the `Link` header (`rel="next"`, RFC 8288) and in `X-Next-Cursor`, none on the last page.
One query per page whatever the list's length (issue 17: lists had no paging).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app import errors

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    after: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> PageParams:
    return PageParams(limit, _decode(cursor) if cursor else 0)


Paging = Annotated[PageParams, Depends(page_params)]


def page_by_id(
    session: Session, query: Select[Any], id_column: InstrumentedAttribute[int],
    params: PageParams, response: Response,
) -> Sequence[Any]:  # fmt: skip
    """One page of `query`'s rows after the cursor, in id order; next-page headers set."""
    rows = list(
        session.scalars(
            query.where(id_column > params.after).order_by(id_column).limit(params.limit + 1)
        )
    )
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        cursor = _encode(int(getattr(rows[-1], id_column.key)))
        response.headers["X-Next-Cursor"] = cursor
        response.headers["Link"] = f'<?limit={params.limit}&cursor={cursor}>; rel="next"'
    return rows


def _encode(ident: int) -> str:
    return base64.urlsafe_b64encode(f"id:{ident}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    """The id a cursor names; a cursor not made here is refused (422)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind != "id" or not number.isdigit() or len(number) > 19:
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.ValidationFailed("cursor: not a cursor this list gave out") from exc
