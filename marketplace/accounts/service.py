"""Accounts: who a key belongs to, making and revoking keys, the audit log, and registration limits."""

from __future__ import annotations

import datetime as dt
import hmac
import os
import re
import secrets
from pathlib import Path

from marketplace import audit
from marketplace.accounts import queries
from marketplace.accounts.models import (
    KEY_RE,
    NUMBERED,
    ApiKey,
    ChangePage,
    KeyRequest,
    NewApiKey,
    ProviderKeyRequest,
    key_hash,
    key_hint,
    new_key,
)
from marketplace.clock import LOCAL_ZONE
from marketplace.context import Context
from marketplace.db import Connection, Pool
from marketplace.errors import InvalidInput, NotFound, TooManyRequests, Unauthorized, Unprocessable
from marketplace.settings import Settings
from marketplace.types import ANONYMOUS, Actor, Caller


def load_secret(settings: Settings) -> bytes:
    """MARKETPLACE_SECRET, or a secret generated once into the data directory (mode 0600)."""
    if settings.secret:
        return settings.secret.encode()
    path = Path(settings.data_dir) / "secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


async def authenticate(pool: Pool, secret: bytes, authorization: str | None) -> Caller:
    """The caller an `Authorization: Bearer <key>` header names (anonymous without one)."""
    if authorization is None:
        return ANONYMOUS
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
    if not KEY_RE.match(key):
        raise Unauthorized("malformed API key: keys look like prv_ followed by 43 characters", reason="malformed")
    digest = key_hash(secret, key)
    row = await queries.key_by_hash(pool, digest)
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
        raise Unauthorized("unknown API key", reason="unknown")
    caller = Caller(role=row["role"], key_id=row["id"], provider_id=row["provider_id"], name=row["name"])
    if row["revoked_at"] is not None:
        raise Unauthorized("this API key has been revoked", reason="revoked", caller=caller)
    return caller


async def caller_of_key(conn: Connection | Pool, key_id: int) -> Caller | None:
    """The caller a key acts as, by the key's id (a console session keeps the id, never the key): None when the key
    is unknown or revoked, so that revoking a key ends the sessions signed in with it."""
    row = await queries.key_by_id(conn, key_id)
    if row is None or row["revoked_at"] is not None:
        return None
    return Caller(role=row["role"], key_id=row["id"], provider_id=row["provider_id"], name=row["name"])


async def make_key(conn: Connection, secret: bytes, request: KeyRequest, *, created_by: int | None) -> NewApiKey:
    """Make a key, store only its HMAC, and return the key itself (the one time it is seen). Inside the
    caller's transaction; the caller records the audit row."""
    provider_id = request.provider_id if isinstance(request, ProviderKeyRequest) else None
    if provider_id is not None and not await queries.provider_exists(conn, provider_id):  # the body's field: 422
        raise Unprocessable.field("provider_id", f"no provider has id {provider_id}")
    role = type(request).__struct_config__.tag
    assert isinstance(role, str)
    key = new_key()
    api_key = await queries.insert_key(
        conn,
        name=request.name,
        role=role,
        provider_id=provider_id,
        digest=key_hash(secret, key),
        hint=key_hint(key),
        created_by=created_by,
    )
    return NewApiKey(key=key, api_key=api_key)


async def create_key(ctx: Context, conn: Connection, actor: Actor, request: KeyRequest) -> NewApiKey:
    async with conn.transaction():
        made = await make_key(conn, ctx.secret, request, created_by=actor.caller.key_id)
        await audit.record(
            conn,
            actor,
            status=201,
            provider_id=made.api_key.provider_id,
            detail=f"created {made.api_key.role} key {made.api_key.id}",
        )
    return made


async def list_keys(conn: Connection) -> list[ApiKey]:
    return await queries.list_keys(conn)


async def revoke_key(conn: Connection, actor: Actor, key_id: int, *, at: dt.datetime) -> tuple[ApiKey, bool]:
    """Revoke a key `at` (the app's clock): it takes effect at once (every request looks its key up). The key, and
    whether this revoked it: a key already revoked is left as it is, and nothing is recorded (each revocation of a
    revoked key was audited as a fresh one)."""
    async with conn.transaction():
        key = await queries.lock_key(conn, key_id)
        if key is None:
            raise NotFound(f"API key {key_id} not found")
        if key.revoked_at is not None:
            return key, False
        # recorded before the key is revoked: a key revoking itself is still valid when its write is recorded
        # (audit.record checks the acting key)
        await audit.record(conn, actor, status=200, provider_id=key.provider_id, detail=f"revoked key {key_id}")
        key = await queries.revoke_key(conn, key_id, at)
    return key, True


async def audit_log(
    conn: Connection,
    *,
    key_id: int | None = None,
    provider_id: int | None = None,
    outcome: audit.Outcome | None = None,
    since: str | None = None,
    until: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> audit.AuditPage:
    """The audit log, newest first; `since` (inclusive) and `until` (exclusive) are RFC 3339 times."""
    start, end = _period(since, until)
    where = audit.AuditFilter(key_id=key_id, provider_id=provider_id, outcome=outcome, since=start, until=end)
    return await audit.page(conn, where, page=page, per_page=per_page)


async def change_history(
    conn: Connection,
    *,
    table: str | None = None,
    record_id: str | None = None,
    key_id: int | None = None,
    since: str | None = None,
    until: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> ChangePage:
    """The change history, newest first: of one record (`table` and `record_id`: its own row and its parts), of one
    table's records, of one key's changes, between two times (`since` inclusive, `until` exclusive, as the audit
    log's)."""
    if record_id is not None:  # rules across the two (422, as every such rule): the id's form is the table's
        if table is None:
            raise Unprocessable.field("record_id", "give table too: ids are per table, e.g. table=need&record_id=7")
        if table in NUMBERED and not re.fullmatch(r"[0-9]{1,15}", record_id):
            raise Unprocessable.field("record_id", f"{table} ids are whole numbers, e.g. 7; not {record_id!r}")
    start, end = _period(since, until)
    total, items = await queries.change_page(
        conn, (table, record_id, key_id, start, end), limit=per_page, offset=(page - 1) * per_page
    )
    return ChangePage(total=total, page=page, per_page=per_page, items=items)


def _period(since: str | None, until: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The audit log's and the change history's `since` (inclusive) and `until` (exclusive), read (`_instant`);
    until must come after since."""
    start, end = _instant("since", since), _instant("until", until)
    if start is not None and end is not None and end <= start:
        # a rule across the two (422, as every such rule), not a malformed value
        raise Unprocessable.field("until", f"must be later than since ({since}): until is exclusive, since inclusive")
    return start, end


_INSTANT_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?")
INSTANT_WORDS = "a time written YYYY-MM-DDThh:mm:ssZ (or with its offset, +01:00), or a date, YYYY-MM-DD"


def _instant(field: str, value: str | None) -> dt.datetime | None:
    """An audit or history filter's time: RFC 3339 with its zone, or a date (the start of that day in the UK, where the
    commissioners work: since=2026-11-30 is from the first moment of 30 November)."""
    if value is None:
        return None
    if not _INSTANT_SHAPE.fullmatch(value):
        raise InvalidInput.field(field, f"must be {INSTANT_WORDS}, e.g. 2026-11-22T09:00:00Z; got {value!r}")
    try:
        at = dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        problem = f"{value!r} is no date and time in the calendar: check the day, month and hour"
        raise InvalidInput.field(field, problem) from None
    if len(value) == 10:  # a date: the start of that day in the UK
        at = at.replace(tzinfo=LOCAL_ZONE)
    if at.tzinfo is None:
        raise InvalidInput.field(field, "give a time zone, e.g. 2026-11-22T09:00:00Z (or a date, 2026-11-22)")
    try:  # a time at the edge of the calendar whose zone moves it out of it (0001-01-01T00:01:00+00:11)
        return at.astimezone(dt.UTC)
    except OverflowError:
        raise Unprocessable.field(field, "must be a time between 0001-01-01 and 9999-12-31 in UTC") from None


async def admit_registration(conn: Connection, settings: Settings, client: str) -> None:
    """Count a registration from `client`, refusing it past the per-client limit (inside the caller's
    transaction, so a refused registration leaves no trace but its refusal)."""
    window = settings.registration_window
    await queries.lock_registrations(conn, client)
    if await queries.count_recent_registrations(conn, client, window) >= settings.registration_limit:
        raise TooManyRequests(
            f"at most {settings.registration_limit} registrations per client per "
            f"{int(window.total_seconds() // 60)} minutes",
            retry_after=int(window.total_seconds()),
        )
    await queries.record_registration(conn, client)
