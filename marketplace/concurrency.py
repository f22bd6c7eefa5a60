"""Optimistic concurrency: every editable record has a version, sent as an ETag ("v3") and checked
against If-Match, so that two people editing the same record never silently overwrite each other."""

from __future__ import annotations

import re
from collections.abc import Awaitable

import asyncpg

from marketplace.errors import NotFound, PreconditionFailed, PreconditionRequired

ETAG_RE = re.compile(r'\s*(?:W/)?"v(\d{1,9})"\s*')
ETAG_PATTERN = r'^(W/)?"v[0-9]{1,9}"$'


def etag(version: int) -> str:
    return f'"v{version}"'


def require_if_match(if_match: str | None) -> None:
    """A change needs If-Match (428 without it): checked before any work is done."""
    if if_match is None:
        raise PreconditionRequired("this change needs an If-Match header with the current ETag (from the GET)")


async def locked(row: Awaitable[asyncpg.Record | None], what: str, if_match: str | None) -> asyncpg.Record:
    """The record `row` locks (FOR UPDATE, inside the caller's transaction), once If-Match names its version:
    404 when there is none, 412 when the version moved on."""
    found = await row
    if found is None:
        raise NotFound(f"{what} not found")
    check_if_match(if_match, found["version"])
    return found


def check_if_match(if_match: str | None, current: int) -> None:
    """The version If-Match names must be `current` (412 carrying the current one otherwise); an ETag we
    never issued matches no version (RFC 9110, 13.1.1)."""
    require_if_match(if_match)
    assert if_match is not None
    m = ETAG_RE.fullmatch(if_match)
    if (int(m.group(1)) if m else 0) != current:
        raise PreconditionFailed(
            f"If-Match {if_match} is not the current ETag {etag(current)}: fetch it again and reapply your change",
            current_version=current,
        )
