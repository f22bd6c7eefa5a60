"""Optimistic concurrency: every editable record has a version, sent as an ETag ("v3") and checked
against If-Match, so that two people editing the same record never silently overwrite each other.

If-Match follows RFC 9110 (13.1.1) with strong comparison: a weak tag (`W/"v3"`) never matches, a well-formed
tag we never issued matches nothing (412), a malformed header is a 400. `If-Match: *` is refused (400): it would
let a change overwrite whatever version is there, which is what If-Match is here to prevent."""

from __future__ import annotations

import re
from collections.abc import Awaitable

import asyncpg

from marketplace.errors import FieldProblem, InvalidInput, NotFound, PreconditionFailed, PreconditionRequired

_TAG = r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*'
ENTITY_TAG = re.compile(_TAG)
TAG_LIST = re.compile(rf"{_TAG}(?:,{_TAG})*")
OUR_TAG = re.compile(r"v(\d{1,9})")
ETAG_PATTERN = r'^[ \t]*(W/)?"[\x21\x23-\x7E]*"[ \t]*(,[ \t]*(W/)?"[\x21\x23-\x7E]*"[ \t]*)*$'
"""What the OpenAPI document says If-Match looks like: one or more entity-tags (RFC 9110 8.8.3), comma-separated."""


def etag(version: int) -> str:
    return f'"v{version}"'


UNQUOTED = re.compile(r"[ \t]*(W/)?(v?[0-9]{1,9})[ \t]*")
"""An ETag sent without its quotes (`v2`, `2`): the commonest malformed If-Match."""


def _field(message: str) -> list[FieldProblem]:
    return [FieldProblem(field="If-Match", problem=message)]


def require_if_match(if_match: str | None) -> None:
    """A change needs If-Match (428 without it), well-formed (400): checked before any work is done."""
    if if_match is None:
        said = 'this change needs If-Match: the ETag from your GET, in quotes, e.g. If-Match: "v3"'
        raise PreconditionRequired(said, problems=_field('required: the ETag from your GET, in quotes, e.g. "v3"'))
    versions(if_match)


def versions(if_match: str) -> set[int]:
    """The versions the header's strong entity-tags name (weak and foreign tags name none)."""
    if if_match.strip() == "*":
        raise InvalidInput.field(
            "If-Match",
            "'*' is not accepted: send the ETag from the GET, so a change never overwrites a version you have not seen",
        )
    if TAG_LIST.fullmatch(if_match) is None:
        bare = UNQUOTED.fullmatch(if_match)
        example = etag(int(bare.group(2).lstrip("v"))) if bare else '"v3"'
        raise InvalidInput.field("If-Match", f"must be the ETag in quotes, as the GET gave it, e.g. {example}")
    found: set[int] = set()
    for m in ENTITY_TAG.finditer(if_match):  # a tag may hold a comma, so the list is read tag by tag
        ours = OUR_TAG.fullmatch(m.group(2))
        if m.group(1) is None and ours is not None:
            found.add(int(ours.group(1)))
    return found


async def locked(row: Awaitable[asyncpg.Record | None], what: str, if_match: str | None) -> asyncpg.Record:
    """The record `row` locks (FOR UPDATE, inside the caller's transaction), once If-Match names its version:
    404 when there is none, 412 when the version moved on."""
    found = await row
    if found is None:
        raise NotFound(f"{what} not found")
    check_if_match(if_match, found["version"])
    return found


def check_if_match(if_match: str | None, current: int) -> None:
    """If-Match must name `current` (412 carrying the current one otherwise)."""
    require_if_match(if_match)
    assert if_match is not None
    sent = versions(if_match)
    if current in sent:
        return
    weak = any(m.group(1) and m.group(2) == f"v{current}" for m in ENTITY_TAG.finditer(if_match))
    if weak:  # the right version, but a weak tag (W/"v3"), which never matches a change
        said = f"a weak ETag (W/...) never matches a change: send the ETag exactly as the GET gave it, {etag(current)}"
    elif not sent:  # no tag of ours at all
        said = (
            f"{if_match.strip()} is not an ETag this API gives: send the ETag from your GET, in quotes; "
            f"the current one is {etag(current)}"
        )
    elif not any(1 <= v < current for v in sent):  # a version never issued (v0, or one beyond the current)
        said = (
            f"there is no version {if_match.strip()}: the current version is {etag(current)}; "
            "send the ETag the GET gave"
        )
    else:
        said = (
            f"this was changed since you read it: you sent {if_match.strip()}, the current version is {etag(current)}; "
            "GET it again, reapply your change and send its ETag"
        )
    raise PreconditionFailed(said, current_version=current, problems=_field(said))
