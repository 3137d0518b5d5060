"""Pages of a list, the one convention of every list endpoint and page: `limit` and
`offset` in the query string, a stable order (the caller's, ending in a unique key), the
total in `X-Total-Count` and the neighbouring pages in a `Link` header (RFC 8288,
`rel="next"` and `rel="prev"`), as GET /api/v1/wards started it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import request
from marshmallow import fields, validate

from coordinator.extensions import db
from coordinator.schemas import Schema

MAX_OFFSET = 10_000_000

# For @blp.response(..., headers=PAGE_HEADERS): what the document says a page carries.
PAGE_HEADERS = {
    "X-Total-Count": {
        "description": "How many items match, over every page",
        "schema": {"type": "integer"},
    },
    "Link": {
        "description": 'The next and previous pages: <url>; rel="next", <url>; rel="prev"',
        "schema": {"type": "string"},
    },
}


def limit_field(default: int = 100, maximum: int = 500) -> fields.Integer:
    return fields.Integer(load_default=default, validate=validate.Range(1, maximum))


def offset_field() -> fields.Integer:
    return fields.Integer(load_default=0, validate=validate.Range(0, MAX_OFFSET))


class PageArgs(Schema):
    """limit (1-500, default 100) and offset; list arguments extend it."""

    limit = limit_field()
    offset = offset_field()


def _url(offset: int, key: str = "offset") -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k != key]
    return f"{request.path}?{urlencode([*args, (key, str(offset))])}"


def page_links(total: int, limit: int, offset: int) -> str | None:
    """The Link header of the page at `offset` (None when it is the only page)."""
    links = []
    if offset + limit < total:
        links.append(f'<{_url(offset + limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{_url(max(offset - limit, 0))}>; rel="prev"')
    return ", ".join(links) or None


def page_headers(total: int, limit: int, offset: int) -> dict[str, str]:
    """X-Total-Count, and Link when there are other pages."""
    headers = {"X-Total-Count": str(total)}
    link = page_links(total, limit, offset)
    if link:
        headers["Link"] = link
    return headers


def count(query: sa.Select[Any]) -> int:
    """How many rows `query` selects."""
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
        or 0
    )


def paged(query: sa.Select[Any], limit: int, offset: int) -> sa.Select[Any]:
    """`query` (already in a stable order) cut to one page."""
    return query.limit(limit).offset(offset)


def has_next(total: int, limit: int, offset: int) -> bool:
    return offset + limit < total


@dataclass(frozen=True)
class Page:
    """A page's place in its list, for the pager of a web page (templates/_pager.html)."""

    total: int
    limit: int
    offset: int
    rows: int  # on this page
    prefix: str = ""  # of its limit and offset in the query string (two lists on a page)

    @property
    def next_url(self) -> str | None:
        return (
            _url(self.offset + self.limit, f"{self.prefix}offset")
            if has_next(self.total, self.limit, self.offset)
            else None
        )

    @property
    def prev_url(self) -> str | None:
        if self.offset <= 0:
            return None
        return _url(max(self.offset - self.limit, 0), f"{self.prefix}offset")


def page_args(default: int = 100, maximum: int = 500, prefix: str = "") -> tuple[int, int]:
    """limit and offset of a web page's query string (`prefix`limit, `prefix`offset);
    anything unreadable is the first page of `default` rows (a page never answers 4xx
    for a bad page link)."""
    try:
        limit = min(max(int(request.args.get(f"{prefix}limit", default)), 1), maximum)
    except ValueError:
        limit = default
    try:
        offset = min(max(int(request.args.get(f"{prefix}offset", 0)), 0), MAX_OFFSET)
    except ValueError:
        offset = 0
    return limit, offset
