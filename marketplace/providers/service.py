"""Providers: searching the directory, reading profiles, joining, and keeping a profile current.

Every change to a profile goes through `change` (or `mark`, for the fields the marketplace holds): the row
locked, If-Match checked against its version, every rule checked, then the new version, one history row per
changed field and an audit row, all in one transaction."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, get_args

import msgspec
from msgspec import UNSET

from marketplace import audit
from marketplace.accounts import service as accounts
from marketplace.accounts.models import ProviderKeyRequest
from marketplace.concurrency import check_if_match, locked, require_if_match
from marketplace.context import Context
from marketplace.db import Connection
from marketplace.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound, Unprocessable
from marketplace.providers import queries
from marketplace.providers.index import Filters, Hits, SearchIndex
from marketplace.providers.live_index import LiveIndex
from marketplace.providers.models import (
    PUBLIC_STATUSES,
    SEARCH_GENDERS,
    STATUSES,
    Complexity,
    DeliveryMode,
    Edit,
    EvidenceTarget,
    FacetCount,
    Facets,
    HistoryPage,
    MarketplaceAction,
    NewProvider,
    Provider,
    ProviderProfile,
    Registration,
    SearchQuery,
    SearchResult,
    SeedProvider,
    Service,
    ServiceCapacityPatch,
    ServiceIn,
    ServicePatch,
    as_held,
    changed_fields,
    founding_problems,
    in_stored_order,
    normalised,
    normalised_service,
    profile_of,
    profile_problems,
    service_as_held,
    service_in_stored_order,
    service_of,
    service_problems,
)
from marketplace.taxonomy.checks import check_code, check_codes
from marketplace.taxonomy.models import Taxonomy
from marketplace.types import Actor, Caller, merge, project

COMPLEXITY_LEVELS = {c: c for c in get_args(Complexity)}
DELIVERY_MODES = {d: d for d in get_args(DeliveryMode)}
GENDERS = {g: g for g in SEARCH_GENDERS}


def visible_statuses(caller: Caller) -> tuple[str, ...]:
    """Staff see every profile; others see published ones (and a provider its own)."""
    return STATUSES if caller.is_staff else PUBLIC_STATUSES


# --- reading ----------------------------------------------------------------------------------------


def check_query(ctx: Context, query: SearchQuery) -> None:
    """Refuse a search whose codes are not the taxonomy's (400 naming each, with a suggestion) or that asks to rank
    by relevance without words (422): before anything is spent on it (an export's budget)."""
    tax = ctx.taxonomy
    problems = [
        *check_codes("pathway", query.pathway, tax.codes("pathways"), "pathway"),
        *check_codes("area", query.area, tax.codes("areas"), "area"),
        *check_codes("cohort", query.cohort, tax.codes("cohorts"), "cohort"),
        *check_codes("sector", query.sector, tax.codes("sectors"), "sector"),
        *check_codes("legal_form", query.legal_form, tax.codes("legal_forms"), "legal form"),
        *check_codes("accreditation", query.accreditation, tax.codes("accreditations"), "accreditation"),
        *check_codes("complexity", query.complexity, COMPLEXITY_LEVELS, "complexity level"),
        *check_codes("delivery_mode", query.delivery_mode, DELIVERY_MODES, "delivery mode"),
        *check_codes("gender", [] if query.gender is None else [query.gender], GENDERS, "gender"),
    ]
    if problems:
        raise InvalidInput.from_problems(problems)
    if query.sort == "relevance" and not (query.q and query.q.strip()):  # nothing to rank by without a word
        raise Unprocessable.field("sort", "relevance ranks by the words of q: give q, or sort by name")


async def search(ctx: Context, conn: Connection, live: LiveIndex, query: SearchQuery) -> SearchResult:
    check_query(ctx, query)
    filters = project(query, Filters)
    text_given = bool(query.q and query.q.strip())
    interpreted: list[list[str]] | None = None

    def run(index: SearchIndex) -> Hits:
        nonlocal interpreted
        offset, limit = (query.page - 1) * query.per_page, query.per_page
        if text_given:  # expanded, typos corrected, ranked (a word nothing resembles: nothing matches)
            hits, interpreted = index.query(
                filters,
                query.q or "",
                by_relevance=query.sort != "name",
                offset=offset,
                limit=limit,
                facets=query.facets,
            )
            return hits
        return index.search(filters, offset=offset, limit=limit, facets=query.facets)

    hits, items = await live.page(conn, run, ctx.clock.now())
    return SearchResult(
        total=hits.total,
        page=query.page,
        per_page=query.per_page,
        pages=math.ceil(hits.total / query.per_page),
        items=items,
        facets=_facets(ctx.taxonomy, hits.facets) if hits.facets is not None else None,
        interpreted_query=interpreted,
    )


def similar_names(live: LiveIndex, texts: list[str], areas: list[str], limit: int) -> list[int]:
    """The ids of the published providers whose names are most like one of `texts`, best first, from this
    process's search index as it is now (`index.SearchIndex.similar_names`; `live.catch_up` brings it up to
    date); `areas`: only providers with an active service covering one of these (hierarchy-aware)."""
    return live.index.similar_names(texts, areas, limit=limit)


def names_holding(live: LiveIndex, text: str, offset: int, limit: int) -> list[int]:
    """The ids of the published providers whose name holds `text` (case and accents aside), those starting
    with it first, then in name order, from this process's search index as it is now."""
    return live.index.names_holding(text, offset=offset, limit=limit)


def _facets(tax: Taxonomy, counts: dict[str, dict[str, int]]) -> Facets:
    def listed(kind: str, facet: str) -> list[FacetCount]:
        return [FacetCount(code=c, name=n, count=counts.get(facet, {}).get(c, 0)) for c, n in tax.codes(kind).items()]

    return Facets(
        pathway=listed("pathways", "pathway"), area=listed("areas", "area"), sector=listed("sectors", "sector")
    )


async def profile_json(ctx: Context, conn: Connection, caller: Caller, provider_id: int) -> tuple[bytes, int]:
    """The profile as JSON and its version, as `caller` may see it (404 otherwise)."""
    got = await queries.fetch_provider_json(
        conn, provider_id, now=ctx.clock.now(), statuses=visible_statuses(caller), own=caller.provider_id
    )
    if got is None:
        raise NotFound(f"provider {provider_id} not found")
    return got


async def _current(ctx: Context, conn: Connection, provider_id: int) -> Provider:
    provider = await queries.fetch_provider(conn, provider_id, now=ctx.clock.now(), statuses=STATUSES)
    if provider is None:
        raise NotFound(f"provider {provider_id} not found")
    return provider


async def history(
    ctx: Context, conn: Connection, caller: Caller, provider_id: int, *, page: int, per_page: int
) -> HistoryPage:
    """Every change to a profile, newest first (the profile must be visible to the caller)."""
    await profile_json(ctx, conn, caller, provider_id)
    total, items = await queries.history_page(conn, provider_id, limit=per_page, offset=(page - 1) * per_page)
    return HistoryPage(total=total, page=page, per_page=per_page, items=items)


# --- changing ---------------------------------------------------------------------------------------


async def change(
    ctx: Context, conn: Connection, actor: Actor, provider_id: int, if_match: str | None, edit: Edit
) -> Provider:
    """The one way a profile changes (see the module's docstring). A change that changes nothing writes nothing."""
    require_if_match(if_match)
    async with conn.transaction():
        row = await locked(queries.lock_provider(conn, provider_id), f"provider {provider_id}", if_match)
        refuse_if_archived(actor, provider_id, row["status"])
        current = await _current(ctx, conn, provider_id)
        before, after, problems = _edited(ctx, current, edit)
        if problems:
            raise Unprocessable.from_problems(problems)
        after = as_held(in_stored_order(after, ctx.taxonomy), before)  # a set in another order is the set held
        changes = changed_fields(before, after)
        if not changes:
            return current
        if (
            row["verified_at"] is not None
            and any(f == "identifiers" for f, _, _ in changes)
            and actor.caller.role != "admin"
        ):
            raise Forbidden(
                "identifiers: verified by the marketplace; ask an admin to change them",
                problems=[
                    FieldProblem(field="identifiers", problem="verified identifiers cannot be changed by the provider")
                ],
                caller=actor.caller,
                provider_id=provider_id,
            )
        await _check_unclaimed(conn, actor.caller, after, provider_id, name=after.name != before.name)
        version = await queries.update_provider_row(conn, provider_id, after, ctx.clock.now())
        parts = {
            queries.PART_OF_FIELD[f.split("[")[0]] for f, _, _ in changes if f.split("[")[0] in queries.PART_OF_FIELD
        }
        await queries.write_parts(conn, provider_id, after, only=parts)
        changes += lapsed_changes(await queries.lapse_verifications(conn, provider_id))
        await queries.refresh_search(conn, [provider_id])
        await queries.insert_history(
            conn, provider_id=provider_id, version=version, action="update", changes=changes, actor=actor
        )
        await audit.record(
            conn, actor, status=200, provider_id=provider_id, detail="changed " + ", ".join(f for f, _, _ in changes)
        )
        return await _current(ctx, conn, provider_id)


def _edited(ctx: Context, current: Provider, edit: Edit) -> tuple[ProviderProfile, ProviderProfile, list[FieldProblem]]:
    """The profile before and after `edit`, and what the rules refuse of it."""
    before = profile_of(current)
    after = normalised(edit(before))
    today = ctx.clock.today()
    problems = profile_problems(after, ctx.taxonomy, today=today)
    if after.founded_year != before.founded_year:  # its services' years must still fit
        problems += founding_problems(current.services, after.founded_year, today.year)
    return before, after, problems


async def change_problems(ctx: Context, conn: Connection, provider_id: int, edit: Edit) -> list[FieldProblem]:
    """What `change` would refuse of `edit` made to the profile as it now stands, by its rules (every problem at
    once; its version and the names others claim aside), changing nothing: a form shows them with those its own
    boxes have (marketplace.console). The caller's permission to change it is the caller's to have checked."""
    return _edited(ctx, await _current(ctx, conn, provider_id), edit)[2]


HELD_STATUS = {"publish": "published", "archive": "archived"}


async def mark(
    ctx: Context,
    conn: Connection,
    actor: Actor,
    provider_id: int,
    action: MarketplaceAction,
    *,
    if_match: str | None = None,
) -> Provider:
    """confirm, publish, archive or verify: a field the marketplace holds changes, with history and audit.
    These do not change the profile's version (its content is as it was), so need no If-Match; one sent must name
    the current version (412 otherwise), as on any change."""
    now = ctx.clock.now()
    before: object
    after: object
    async with conn.transaction():
        locked = await queries.lock_provider(conn, provider_id)
        if locked is None:
            raise NotFound(f"provider {provider_id} not found")
        if if_match is not None:
            check_if_match(if_match, locked["version"])
        if action == "confirm":
            refuse_if_archived(actor, provider_id, locked["status"])
            field, before, after = "last_confirmed_at", locked["last_confirmed_at"], now
            await queries.set_confirmed(conn, provider_id, now)
            await queries.refresh_search(conn, [provider_id])  # the services' confirmation dates are in the document
        elif action == "verify":
            field, before, after = "verified_at", locked["verified_at"], now
            await queries.set_verified(conn, provider_id, now)
        else:
            field, before, status = "status", locked["status"], HELD_STATUS[action]
            if before == status:  # already so: nothing to do, nothing to record
                return await _current(ctx, conn, provider_id)
            if before == "archived":  # back in the directory: its name may have been taken meanwhile
                advice = f"rename it (PATCH /providers/{provider_id}) before publishing it again"
                await _check_name(conn, actor.caller, locked["name"], provider_id, advice)
            await queries.set_status(conn, provider_id, status)
            after = status
        await queries.insert_history(
            conn,
            provider_id=provider_id,
            version=locked["version"],
            action=action,
            changes=[(field, before, after)],
            actor=actor,
        )
        await audit.record(conn, actor, status=200, provider_id=provider_id, detail=action)
        return await _current(ctx, conn, provider_id)


async def register(ctx: Context, conn: Connection, actor: Actor, profile: NewProvider, client: str) -> Registration:
    """Join the marketplace: a pending profile (invisible to anonymous search until an admin publishes it) and a
    provider key bound to it, returned once. At most `registration_limit` per client per window."""
    now = ctx.clock.now()
    profile = normalised(profile)
    problems = profile_problems(profile, ctx.taxonomy, today=ctx.clock.today())
    if problems:
        raise Unprocessable.from_problems(problems)
    profile = in_stored_order(profile, ctx.taxonomy)  # what its first history entry records is what is stored
    async with conn.transaction():
        await accounts.admit_registration(conn, ctx.settings, client)
        await _check_unclaimed(conn, actor.caller, profile, None, name=True)
        provider_id, _ = await queries.insert_provider(conn, profile, status="pending", at=now, last_confirmed_at=now)
        key = await accounts.make_key(
            conn,
            ctx.secret,
            ProviderKeyRequest(name=f"registration: {profile.name}"[:200], provider_id=provider_id),
            created_by=None,
        )
        await _record_creation(conn, actor, provider_id, profile, f"registered; provider key {key.api_key.id}")
        provider = await _current(ctx, conn, provider_id)
    return Registration(provider=provider, api_key=key)


async def create_pending(
    ctx: Context,
    conn: Connection,
    actor: Actor,
    profile: NewProvider,
    note: str,
    *,
    status: int,
    last_confirmed_at: dt.datetime | None = None,
    services_last_confirmed_at: Sequence[dt.datetime | None] = (),
) -> int:
    """A new pending profile (unpublished) made for the provider rather than by it (an import), inside the caller's
    transaction, with its history and audit rows (`status`: what the request answers); its id. Unconfirmed (nobody
    has confirmed it here) unless the source says when its provider last did: `last_confirmed_at`, and each
    service's in `services_last_confirmed_at` (in the profile's order; None or absent: unconfirmed). Every rule is
    checked (422); an org-id registered to another provider is a conflict (409)."""
    profile = normalised(profile)
    problems = profile_problems(profile, ctx.taxonomy, today=ctx.clock.today())
    if problems:
        raise Unprocessable.from_problems(problems)
    profile = in_stored_order(profile, ctx.taxonomy)
    await _check_unclaimed(
        conn, actor.caller, profile, None, name=False
    )  # an import's admin has judged likely duplicates
    provider_id, _ = await queries.insert_provider(
        conn,
        profile,
        status="pending",
        at=ctx.clock.now(),
        provider_confirmed_at=last_confirmed_at,
        services_confirmed_at=services_last_confirmed_at,
    )
    await _record_creation(conn, actor, provider_id, profile, note, status)
    return provider_id


async def _check_unclaimed(
    conn: Connection, caller: Caller, profile: ProviderProfile, provider_id: int | None, *, name: bool
) -> None:
    """An identifier registered to another provider is a conflict (409 naming the field); with `name`, so is a name
    another provider (not archived) holds, compared as `provider_name_key` folds names (case, spacing, invisible
    characters, compatibility forms): a provider cannot register as, or rename itself to, a name the directory shows
    for another organisation. Claims to one name are serialised to the end of the caller's transaction."""
    taken = await queries.identifiers_taken(conn, profile.identifiers, provider_id)
    if taken:
        raise Conflict(
            f"identifiers: {taken[0]} is already registered to another provider",
            problems=[FieldProblem(field="identifiers", problem=f"{taken[0]} is already registered")],
        )
    if name:
        await _check_name(conn, caller, profile.name, provider_id)


async def _check_name(
    conn: Connection,
    caller: Caller,
    name: str,
    provider_id: int | None,
    advice: str = "add the place or the legal form as registered; if it is your organisation, ask an admin",
) -> None:
    """A name another provider (not archived) holds is a conflict (409 naming `name`), as `_check_unclaimed` says.
    The message names the provider's name as stored when the caller may see its profile; a pending one's is not
    repeated to a caller who may not (it would show an unpublished organisation's exact name)."""
    await queries.lock_name(conn, name)
    taken = await queries.name_taken(conn, name, provider_id)
    if taken is not None:
        held, status = taken
        who = (
            f"another provider in the directory is called {held!r}"
            if status in visible_statuses(caller)
            else "a provider not yet published in the directory already has this name"
        )
        problem = f"{who}: a name must tell organisations apart ({advice})"
        raise Conflict(f"name: {problem}", problems=[FieldProblem(field="name", problem=problem)])


async def _record_creation(
    conn: Connection, actor: Actor, provider_id: int, profile: NewProvider, detail: str, status: int = 201
) -> None:
    """A new profile's first history entry (the whole profile, version 1) and its audit row (`detail`; `status`: what
    the request answers)."""
    await queries.insert_history(
        conn,
        provider_id=provider_id,
        version=1,
        action="create",
        changes=[("profile", None, msgspec.to_builtins(profile))],
        actor=actor,
    )
    await audit.record(conn, actor, status=status, provider_id=provider_id, detail=detail)


async def load_samples(conn: Connection, samples: list[SeedProvider], *, at: dt.datetime) -> int:
    """The demo providers, made at `at`, into an empty directory (inside the caller's transaction); how many were
    loaded."""
    if await queries.count_all(conn) > 0:
        return 0
    ids = []
    for p in samples:
        confirmed = dt.datetime.combine(p.last_confirmed_on, dt.time(9), tzinfo=dt.UTC) if p.last_confirmed_on else None
        pid, service_ids = await queries.insert_provider(
            conn, p, status=p.status, at=at, is_sample=True, last_confirmed_at=confirmed, refresh=False
        )
        ids.append(pid)
        profile = msgspec.to_builtins(project(p, NewProvider))
        await queries.insert_history(
            conn, provider_id=pid, version=1, action="create", changes=[("profile", None, profile)], actor=None
        )
        if p.verifications:
            await seed_verifications(conn, pid, service_ids, p, confirmed or dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC))
    await queries.refresh_search(conn, ids)
    return len(ids)


# --- services -----------------------------------------------------------------------------------------


async def list_services(ctx: Context, conn: Connection, caller: Caller, provider_id: int) -> list[Service]:
    """A visible provider's services, active and inactive."""
    await profile_json(ctx, conn, caller, provider_id)
    return await queries.fetch_services(conn, provider_id)


async def get_service(ctx: Context, conn: Connection, caller: Caller, provider_id: int, service_id: int) -> Service:
    await profile_json(ctx, conn, caller, provider_id)
    return await _service(conn, provider_id, service_id)


async def _service(conn: Connection, provider_id: int, service_id: int) -> Service:
    found = await queries.fetch_service(conn, provider_id, service_id)
    if found is None:
        raise NotFound(f"service {service_id} of provider {provider_id} not found")
    return found


def _check_service(ctx: Context, service: ServiceIn, founded_year: int | None) -> None:
    problems = service_problems(service, ctx.taxonomy, founded_year=founded_year, today=ctx.clock.today())
    if problems:
        raise Unprocessable.from_problems(problems)


def refuse_if_archived(actor: Actor, provider_id: int, status: str) -> None:
    """An archived provider is out of the directory: its own key changes nothing of it, nor answers market engagement
    (409), until an admin publishes it again. Staff may still correct it (e.g. rename it before publishing it)."""
    if status == "archived" and actor.caller.role == "provider":
        raise Conflict(
            f"provider {provider_id} is archived (out of the directory): its key cannot change its profile or "
            "services, respond to market engagement or ask clarification questions until an admin publishes it again"
        )


async def is_named(conn: Connection, provider_id: int, name: str) -> bool:
    """Whether `name` is the provider's own name, whatever its case, spacing or invisible characters."""
    return await queries.is_named(conn, provider_id, name)


async def published_named(conn: Connection, name: str) -> tuple[int, str] | None:
    """The published provider named `name` (whatever its case, spacing, accents or invisible characters), as (id,
    name); None when none is."""
    row = await queries.published_named(conn, name)
    return None if row is None else (row["id"], row["name"])


async def refuse_if_archived_now(conn: Connection, actor: Actor, provider_id: int) -> None:
    """`refuse_if_archived` as the provider's status is now (404 when there is no such provider)."""
    status = await queries.provider_status(conn, provider_id)
    if status is None:
        raise NotFound(f"provider {provider_id} not found")
    refuse_if_archived(actor, provider_id, status)


async def _locked_provider(ctx: Context, conn: Connection, actor: Actor, provider_id: int) -> Provider:
    row = await queries.lock_provider(conn, provider_id)
    if row is None:
        raise NotFound(f"provider {provider_id} not found")
    refuse_if_archived(actor, provider_id, row["status"])
    return await _current(ctx, conn, provider_id)


async def _locked_service(
    ctx: Context, conn: Connection, actor: Actor, provider_id: int, service_id: int, if_match: str | None
) -> tuple[Provider, Service]:
    """The provider, then its service, locked in the caller's transaction and read as they are: 404 for either,
    412 when `if_match` does not name the service's version."""
    provider = await _locked_provider(ctx, conn, actor, provider_id)
    await locked(
        queries.lock_service(conn, provider_id, service_id), f"service {service_id} of provider {provider_id}", if_match
    )
    return provider, await _service(conn, provider_id, service_id)


async def add_service(
    ctx: Context, conn: Connection, actor: Actor, provider_id: int, data: ServiceIn, if_match: str | None = None
) -> Service:
    """A new service of the provider's (confirmed as of now, as the provider describes it). If-Match is not needed
    (nothing is overwritten), but one sent is a precondition as on every change: it must name the profile's
    version, which a new service moves on (412 otherwise)."""
    data = normalised_service(data)
    now = ctx.clock.now()
    async with conn.transaction():
        provider = await _locked_provider(ctx, conn, actor, provider_id)
        if if_match is not None:
            check_if_match(if_match, provider.version)
        _check_service(ctx, data, provider.founded_year)
        data = service_in_stored_order(data, ctx.taxonomy)  # what the history records is what is stored
        service_id = await queries.insert_service(conn, provider_id, data, at=now, last_confirmed_at=now)
        await _record_service_change(
            conn, actor, provider_id, now, "create", [(f"services[{service_id}]", None, msgspec.to_builtins(data))]
        )
        return await _service(conn, provider_id, service_id)


async def change_service(
    ctx: Context,
    conn: Connection,
    actor: Actor,
    provider_id: int,
    service_id: int,
    if_match: str | None,
    patch: ServicePatch,
) -> Service:
    """The one way a service changes: If-Match against the service's version, every rule checked, a history row
    per changed field (`services[12].capacity.places_available`), in one transaction. An edit confirms the service, and
    the history says so (`services[12].last_confirmed_at`, as a provider's confirmation is recorded)."""
    require_if_match(if_match)
    async with conn.transaction():
        provider, current = await _locked_service(ctx, conn, actor, provider_id, service_id, if_match)
        before = service_of(current)
        after = normalised_service(merge(before, patch))
        if recount := _recount_problems(patch, before, after):
            raise Unprocessable.from_problems(recount)
        _check_service(ctx, after, provider.founded_year)
        after = service_as_held(service_in_stored_order(after, ctx.taxonomy), before)  # a set reordered: as held
        changes = changed_fields(before, after, prefix=f"services[{service_id}].")
        if not changes:
            return current
        now = ctx.clock.now()
        await queries.update_service(conn, service_id, after, confirmed_at=now)
        confirmed = (f"services[{service_id}].last_confirmed_at", current.last_confirmed_at, now)
        changes = [confirmed, *changes]  # recorded first, so listed (newest first) after what the edit changed
        changes += lapsed_changes(await queries.lapse_verifications(conn, provider_id))
        await _record_service_change(conn, actor, provider_id, now, "update", changes)
        return await _service(conn, provider_id, service_id)


def _recount_problems(patch: ServicePatch, before: ServiceIn, after: ServiceIn) -> list[FieldProblem]:
    """Places counted anew are dated anew: a change to `places_available` that leaves `places_as_of` out would keep
    the date of the count before, showing a new count as an old one (422 naming `capacity.places_as_of`)."""
    given = patch.capacity
    if (
        isinstance(given, ServiceCapacityPatch)
        and given.places_as_of is UNSET
        and after.capacity.places_available is not None
        and after.capacity.places_available != before.capacity.places_available
    ):
        return [
            FieldProblem(
                field="capacity.places_as_of",
                problem="give the date these places were counted with them: without it the new count would "
                f"keep the date of the one before ({before.capacity.places_as_of})",
            )
        ]
    return []


async def change_service_problems(
    ctx: Context, conn: Connection, provider_id: int, service_id: int, patch: ServicePatch
) -> list[FieldProblem]:
    """What `change_service` would refuse of `patch` made to the service as it now stands, by its rules (every
    problem at once; its version aside), changing nothing: a form shows them with those its own boxes have
    (marketplace.console). The caller's permission to change it is the caller's to have checked."""
    provider = await _current(ctx, conn, provider_id)
    before = service_of(await _service(conn, provider_id, service_id))
    after = normalised_service(merge(before, patch))
    found = _recount_problems(patch, before, after)
    return found + service_problems(after, ctx.taxonomy, founded_year=provider.founded_year, today=ctx.clock.today())


async def remove_service(
    ctx: Context, conn: Connection, actor: Actor, provider_id: int, service_id: int, if_match: str | None
) -> None:
    """Gone from the profile; its last state stays in the history (stored match runs keep what they saw)."""
    require_if_match(if_match)
    async with conn.transaction():
        _, current = await _locked_service(ctx, conn, actor, provider_id, service_id, if_match)
        await queries.delete_service(conn, service_id)
        await _record_service_change(
            conn,
            actor,
            provider_id,
            ctx.clock.now(),
            "delete",
            [(f"services[{service_id}]", msgspec.to_builtins(current), None)],
        )


async def _record_service_change(
    conn: Connection,
    actor: Actor,
    provider_id: int,
    at: dt.datetime,
    action: str,
    changes: list[tuple[str, object, object]],
) -> None:
    """A service changed at `at`: the profile's version moves on, its search columns and document are rebuilt, and
    the change goes into the history and the audit log."""
    version = await queries.bump_version(conn, provider_id, at)
    await queries.refresh_search(conn, [provider_id])
    await queries.insert_history(
        conn, provider_id=provider_id, version=version, action=action, changes=changes, actor=actor
    )
    await audit.record(
        conn,
        actor,
        status=201 if action == "create" else 204 if action == "delete" else 200,
        provider_id=provider_id,
        detail=f"{action}d " + ", ".join(f for f, _, _ in changes)
        if action != "update"
        else "changed " + ", ".join(f for f, _, _ in changes),
    )


# --- verified evidence ----------------------------------------------------------------------------------


def _verification_value(row: Any, record: Any = None) -> dict[str, Any]:
    """A verification as the profile history records it."""
    out = {
        "seen": row["seen"],
        "verified_at": row["verified_at"].isoformat(),
        "verified_by": row["verified_by"],
        "verified_by_role": row["verified_by_role"],
    }
    return out if record is None else {**out, "record": record}


def lapsed_changes(rows: list[Any]) -> list[tuple[str, object, object]]:
    """History entries for verifications a provider's edit ended (the thing verified changed or went)."""
    out: list[tuple[str, object, object]] = []
    for r in rows:
        where = f"services[{r['service_id']}]." if r["service_id"] is not None else ""
        what = f"accreditations[{r['accreditation_code']}]" if r["accreditation_code"] is not None else "outcomes"
        value = _verification_value(r)
        if r["outcome_fingerprint"] is not None:
            value["fingerprint"] = r["outcome_fingerprint"]
        out.append((f"{where}{what}.verification", value, None))
    return out


def _check_target(ctx: Context, target: EvidenceTarget) -> None:
    """An accreditation named in the path that is not one of the taxonomy's names nothing there is (404), told as a
    code field is: the form its codes take and a did-you-mean, naming `code`."""
    if target.accreditation is not None:
        allowed = ctx.taxonomy.codes("accreditations")
        if (found := check_code("code", target.accreditation, allowed, "accreditation")) is not None:
            raise NotFound(f"code: {found.problem}", problems=[found])


async def _evidence(conn: Connection, provider_id: int, target: EvidenceTarget) -> tuple[str | None, object]:
    """(the outcomes record's fingerprint, what it says) for an outcomes record; (None, None) for an
    accreditation. 404 when the provider, its service or the thing to verify is not there."""
    if target.service_id is not None and await queries.lock_service(conn, provider_id, target.service_id) is None:
        raise NotFound(f"service {target.service_id} of provider {provider_id} not found")
    if target.accreditation is not None:
        if not await queries.holds_accreditation(conn, provider_id, target.service_id, target.accreditation):
            holder = f"service {target.service_id}" if target.service_id is not None else f"provider {provider_id}"
            raise NotFound(f"{holder} does not hold accreditation {target.accreditation!r}")
        return None, None
    assert target.service_id is not None and target.outcome is not None
    row = await queries.outcome_record(conn, target.service_id, target.outcome)
    if row is None:
        raise NotFound(f"service {target.service_id} has no outcomes record {target.outcome} (they count from 0)")
    return row["fingerprint"], msgspec.json.decode(row["record"])


async def verify_evidence(
    ctx: Context,
    conn: Connection,
    actor: Actor,
    provider_id: int,
    if_match: str | None,
    target: EvidenceTarget,
    seen: str,
) -> Provider:
    """An admin has seen the evidence for an accreditation or an outcomes record: it counts as verified (in full,
    in matching) until the provider changes it. Who, when (the server's clock) and what was seen go into the
    profile history and the audit log; the profile's version moves on. Verifying again replaces what was seen."""
    _check_target(ctx, target)
    require_if_match(if_match)
    if not seen.strip():
        raise Unprocessable.from_problems([FieldProblem(field="seen", problem="say what evidence was seen")])
    now = ctx.clock.now()
    async with conn.transaction():
        await locked(queries.lock_provider(conn, provider_id), f"provider {provider_id}", if_match)
        fingerprint, record = await _evidence(conn, provider_id, target)
        change = await _verify(conn, actor, provider_id, target, fingerprint, record, seen=seen.strip(), at=now)
        await _record_evidence_change(
            conn, actor, provider_id, now, "verify_evidence", change, f"verified {target.field}"
        )
        return await _current(ctx, conn, provider_id)


async def _verify(
    conn: Connection,
    actor: Actor,
    provider_id: int,
    target: EvidenceTarget,
    fingerprint: str | None,
    record: object,
    *,
    seen: str,
    at: dt.datetime,
) -> tuple[str, object, object]:
    """Store the verification (replacing one of the same thing); the history entry for it."""
    before = await queries.find_verification(conn, provider_id, target.service_id, target.accreditation, fingerprint)
    if before is not None:
        await queries.delete_verification(conn, before["id"])
    await queries.insert_verification(
        conn, provider_id, target.service_id, target.accreditation, fingerprint, seen=seen, at=at, actor=actor
    )
    after: dict[str, object] = {
        "seen": seen,
        "verified_at": at.isoformat(),
        "verified_by": actor.caller.key_id,
        "verified_by_role": actor.caller.role,
    }
    if record is not None:
        after["record"] = record
    return (f"{target.field}.verification", None if before is None else _verification_value(before), after)


SEED_ADMIN = Actor(caller=Caller(role="admin", name="seed"), request_id="", method="SEED", path="seed")
"""The seed verifies demo evidence as an admin would (no key: the seed runs as the operator)."""


async def seed_verifications(
    conn: Connection, provider_id: int, service_ids: list[int], sample: SeedProvider, at: dt.datetime
) -> None:
    """A demo provider's verifications, as the verification endpoints make them (in its first version)."""
    for v in sample.verifications:
        sid = service_ids[v.service] if v.service is not None else None
        target = EvidenceTarget(service_id=sid, accreditation=v.accreditation, outcome=v.outcome)
        fingerprint, record = await _evidence(conn, provider_id, target)
        change = await _verify(conn, SEED_ADMIN, provider_id, target, fingerprint, record, seen=v.seen, at=at)
        await queries.insert_history(
            conn, provider_id=provider_id, version=1, action="verify_evidence", changes=[change], actor=SEED_ADMIN
        )


async def withdraw_verification(
    ctx: Context, conn: Connection, actor: Actor, provider_id: int, if_match: str | None, target: EvidenceTarget
) -> Provider:
    """The accreditation or outcomes record is self-declared again (404 when it is not verified)."""
    _check_target(ctx, target)
    require_if_match(if_match)
    async with conn.transaction():
        await locked(queries.lock_provider(conn, provider_id), f"provider {provider_id}", if_match)
        fingerprint, _record = await _evidence(conn, provider_id, target)
        before = await queries.find_verification(
            conn, provider_id, target.service_id, target.accreditation, fingerprint
        )
        if before is None:
            raise NotFound(f"{target.field} of provider {provider_id} is not verified")
        await queries.delete_verification(conn, before["id"])
        change = (f"{target.field}.verification", _verification_value(before), None)
        await _record_evidence_change(
            conn,
            actor,
            provider_id,
            ctx.clock.now(),
            "withdraw_verification",
            change,
            f"withdrew the verification of {target.field}",
        )
        return await _current(ctx, conn, provider_id)


async def _record_evidence_change(
    conn: Connection,
    actor: Actor,
    provider_id: int,
    at: dt.datetime,
    action: str,
    change: tuple[str, object, object],
    detail: str,
) -> None:
    version = await queries.bump_version(conn, provider_id, at)
    await queries.refresh_search(conn, [provider_id])
    await queries.insert_history(
        conn, provider_id=provider_id, version=version, action=action, changes=[change], actor=actor
    )
    await audit.record(conn, actor, status=200, provider_id=provider_id, detail=detail)
