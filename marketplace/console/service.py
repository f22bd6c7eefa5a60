"""The console's use cases: sessions, shortlists, comparisons, and turning a form into the API's own change.

Every page acts through the other rooms' services, with the permission checks their routes make (`admit`), as the
caller the session's API key names; nothing here reads or writes another room's tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from marketplace import audit, messages
from marketplace.accounts import service as accounts
from marketplace.accounts.auth import STAFF, admit
from marketplace.console import queries
from marketplace.console.models import Change, Column, Comparison, Session, ShortlistEntry
from marketplace.context import Context
from marketplace.db import Connection, Pool
from marketplace.errors import InvalidInput, NotFound
from marketplace.exercises import service as exercises
from marketplace.exercises.models import MatchRun
from marketplace.providers import service as providers
from marketplace.providers.models import Provider
from marketplace.types import Actor, Caller

SESSION_IDLE = dt.timedelta(hours=8)
"""A session unused this long is over (signed out)."""
MAX_COMPARED = 4


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


# --- sessions -----------------------------------------------------------------------------------------


async def sign_in(ctx: Context, pool: Pool, actor: Actor, key: str) -> tuple[str, Session]:
    """A new session for the account an API key names (Unauthorized for a key that is not one). The session keeps
    the key's id, never the key. Returns the session id (for the cookie) and the session."""
    caller = await accounts.authenticate(pool, ctx.secret, f"Bearer {key.strip()}")
    session_id, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    assert caller.key_id is not None
    async with pool.acquire() as conn, conn.transaction():
        await queries.delete_idle_sessions(conn, SESSION_IDLE)
        await queries.insert_session(conn, _hash(session_id), caller.key_id, csrf_token)
        await audit.record(
            conn, msgspec.structs.replace(actor, caller=caller), status=201, detail="signed in to the console"
        )
    return session_id, Session(caller=caller, csrf_token=csrf_token)


async def session_of(conn: Connection | Pool, session_id: str | None) -> Session | None:
    """The live session this id names (None: none, expired, or its key revoked since)."""
    if not session_id or len(session_id) > 100:
        return None
    row = await queries.live_session(conn, _hash(session_id), SESSION_IDLE)
    if row is None:
        return None
    caller = await accounts.caller_of_key(conn, row["key_id"])
    if caller is None:
        await queries.delete_session(conn, _hash(session_id))
        return None
    return Session(caller=caller, csrf_token=row["csrf_token"])


def csrf_ok(session: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(session.csrf_token.encode(), given.encode())


async def sign_out(conn: Connection, actor: Actor, session_id: str) -> None:
    async with conn.transaction():
        if await queries.delete_session(conn, _hash(session_id)):
            await audit.record(conn, actor, status=200, detail="signed out of the console")


# --- providers as the caller sees them ------------------------------------------------------------------


async def provider(ctx: Context, conn: Connection, caller: Caller, provider_id: int) -> Provider:
    """The profile as `caller` may see it (404 otherwise), as GET /providers/{id} gives it."""
    body, _ = await providers.profile_json(ctx, conn, caller, provider_id)
    return msgspec.json.decode(body, type=Provider)


async def changes_since(
    ctx: Context, conn: Connection, caller: Caller, provider_id: int, version: int, prefix: str = ""
) -> list[Change]:
    """What was changed in a profile after `version` (the version a form was opened at), oldest first; with
    `prefix` (`services[12].`), only those fields."""
    found: list[Change] = []
    page = await providers.history(ctx, conn, caller, provider_id, page=1, per_page=100)
    for entry in page.items:
        if entry.version <= version or not entry.field_name.startswith(prefix):
            continue
        if entry.last_action_type not in ("update", "create", "delete"):
            continue
        field = entry.field_name.removeprefix(prefix) if prefix else entry.field_name
        found.append(
            Change(
                field or entry.field_name,
                entry.previous_value,
                entry.replacement_value,
                entry.last_action_date,
                entry.updated_by_role,
            )
        )
    return found[::-1]


# --- shortlists -------------------------------------------------------------------------------------------


async def shortlist(ctx: Context, conn: Connection, caller: Caller, need_id: int) -> list[ShortlistEntry]:
    admit(caller, STAFF)
    await exercises.get_need(conn, need_id)
    entries = []
    for row in await queries.shortlist(conn, need_id):
        try:
            name = (await provider(ctx, conn, caller, row["provider_id"])).name
        except NotFound:
            name = f"provider {row['provider_id']}"
        entries.append(ShortlistEntry(provider_id=row["provider_id"], name=name, added_at=row["added_at"]))
    return entries


async def add_to_shortlist(ctx: Context, conn: Connection, actor: Actor, need_id: int, provider_id: int) -> str:
    """Add a provider to a need's shortlist (staff only; once). Returns the provider's name."""
    admit(actor.caller, STAFF)
    async with conn.transaction():
        need = await exercises.get_need(conn, need_id)
        name = (await provider(ctx, conn, actor.caller, provider_id)).name
        if await queries.add_to_shortlist(conn, need.id, provider_id, actor.caller.key_id):
            await audit.record(
                conn, actor, status=201, provider_id=provider_id, detail=f"shortlisted for need {need_id}"
            )
    return name


async def remove_from_shortlist(conn: Connection, actor: Actor, need_id: int, provider_id: int) -> None:
    admit(actor.caller, STAFF)
    async with conn.transaction():
        await exercises.get_need(conn, need_id)
        if not await queries.remove_from_shortlist(conn, need_id, provider_id):
            raise NotFound(f"provider {provider_id} is not on need {need_id}'s shortlist")
        await audit.record(
            conn, actor, status=200, provider_id=provider_id, detail=f"removed from need {need_id}'s shortlist"
        )


# --- comparison -----------------------------------------------------------------------------------------


def compare(run: MatchRun, provider_ids: list[int]) -> Comparison:
    """Up to four providers side by side as one match run scored them: a row per criterion."""
    chosen = list(dict.fromkeys(provider_ids))
    if not chosen:
        raise InvalidInput.field("provider", "choose at least one provider to compare")
    if len(chosen) > MAX_COMPARED:
        raise InvalidInput.field("provider", f"choose at most {MAX_COMPARED} providers to compare, not {len(chosen)}")
    ranked = {c.provider_id: c for c in run.ranking}
    excluded = {e.provider_id: e for e in run.excluded}
    criteria = [s.criterion for s in run.ranking[0].criteria] if run.ranking else list(run.weights)
    columns = []
    for pid in chosen:
        if (c := ranked.get(pid)) is not None:
            columns.append(
                Column(
                    provider_id=pid,
                    name=c.name,
                    rank=c.rank,
                    total=c.total,
                    capacity=c.capacity,
                    strengths=c.strengths,
                    weaknesses=c.weaknesses,
                    scores={s.criterion: s for s in c.criteria},
                )
            )
        elif (e := excluded.get(pid)) is not None:
            columns.append(Column(provider_id=pid, name=e.name, excluded=tuple(r.message for r in e.reasons)))
        else:
            columns.append(Column(provider_id=pid, name=f"provider {pid}", in_run=False))
    return Comparison(run_id=run.id, criteria=criteria, columns=columns)


async def newest_run(conn: Connection, need_id: int, *, limit: int = 500) -> MatchRun | None:
    runs = await exercises.list_match_runs(conn, need_id)
    if not runs:
        return None
    return await exercises.get_match_run(conn, runs[0].id, limit=limit)


# --- forms --------------------------------------------------------------------------------------------------

T = TypeVar("T", bound=msgspec.Struct)
_AT = re.compile(r"^(.*) - at `\$\.?(.*)`$")


def decode_form(data: dict[str, Any], into: type[T]) -> T:
    """A change built from a form, checked exactly as the API checks a JSON body (its types' constraints), with the
    problems named by the API's field paths (`contact.email`, `areas[1]`) in the API's own plain words."""
    try:
        return msgspec.convert(data, into, strict=False)
    except msgspec.ValidationError as exc:
        said, field = str(exc), "body"
        if (m := _AT.match(said)) is not None:
            said, field = m.group(1), m.group(2) or "body"
        found = messages.problem(field, said, value=messages.value_at(data, field), declared=into)
        raise InvalidInput(f"{field}: {found.problem}", problems=[found]) from None


def optional(form: Mapping[str, str], name: str) -> str | None:
    """A text box's value, or None when left empty (a field the form may clear)."""
    value = form.get(name, "").strip()
    return value or None


def codes(text: str) -> list[str]:
    """Codes typed into one box, separated by commas or spaces."""
    return [c for c in re.split(r"[\s,]+", text.strip()) if c]


def profile_form_patch(form: Mapping[str, str]) -> dict[str, Any]:
    """The profile form's fields as a PATCH /providers/{id} body."""
    patch: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "website": optional(form, "website"),
        "founded_year": optional(form, "founded_year"),
        "contact": {
            "name": optional(form, "contact.name"),
            "email": optional(form, "contact.email"),
            "phone": optional(form, "contact.phone"),
        },
    }
    if (volunteers := optional(form, "resources.volunteers")) is not None:
        patch["resources"] = {"volunteers": volunteers}
    return patch


def service_form_patch(form: Mapping[str, str]) -> dict[str, Any]:
    """The service form's fields as a PATCH /providers/{id}/services/{sid} body."""
    return {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "status": form.get("status", "active"),
        "areas": codes(form.get("areas", "")),
        "capacity": {
            "service_users_per_year": optional(form, "capacity.service_users_per_year"),
            "places_available": optional(form, "capacity.places_available"),
            "places_as_of": optional(form, "capacity.places_as_of"),
        },
    }
