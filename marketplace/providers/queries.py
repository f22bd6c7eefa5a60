"""SQL for provider profiles: writing the parts of a profile, reading it back, the search index's rows,
and the profile history."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from marketplace.changes import WRITTEN_SINCE_1
from marketplace.db import Connection, one
from marketplace.providers.index import IndexRow
from marketplace.providers.models import (
    HistoryEntry,
    NewProvider,
    Provider,
    ProviderProfile,
    ProviderSummary,
    Service,
    ServiceIn,
)
from marketplace.types import Actor, nfc


async def count_all(conn: Connection) -> int:
    n: int = await conn.fetchval("select count(*) from provider")
    return n


async def refresh_search(conn: Connection, ids: Sequence[int]) -> None:
    await conn.execute("select refresh_provider_search($1::bigint[])", list(ids))


def own_columns(p: ProviderProfile) -> tuple[Any, ...]:
    """The provider row's own columns, in the order insert_provider and update_provider_row write them."""
    return (
        nfc(p.name),
        p.legal_form,
        p.description,
        p.website,
        p.founded_year,
        p.contact.name,
        p.contact.email,
        p.contact.phone,
        p.resources.volunteers,
        p.resources.match_funding_per_year,
        p.resources.other_funding_sources,
        p.resources.partner_organisations,
        p.finances.annual_income,
        p.finances.reserves_months,
        p.finances.accounts_year_end,
        p.finances.accounts_scrutiny,
    )


INSERT_PROVIDER_SQL = """
insert into provider (name, legal_form, description, website, founded_year,
    contact_name, contact_email, contact_phone, volunteers, match_funding_per_year,
    other_funding_sources, partner_organisations, annual_income, reserves_months, accounts_year_end,
    accounts_scrutiny, status, is_sample, last_confirmed_at, created_at, updated_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20)
returning id
"""


async def insert_provider(
    conn: Connection,
    p: NewProvider,
    *,
    status: str,
    at: dt.datetime,
    is_sample: bool = False,
    last_confirmed_at: dt.datetime | None = None,
    refresh: bool = True,
    provider_confirmed_at: dt.datetime | None = None,
    services_confirmed_at: Sequence[dt.datetime | None] = (),
) -> tuple[int, list[int]]:
    """A new provider and its services, made at `at`: (its id, its services' ids). Last confirmed at
    `last_confirmed_at`, provider and services alike, unless said otherwise for each: the provider at
    `provider_confirmed_at`, its services at `services_confirmed_at` (in order; None there, or a service beyond it:
    `last_confirmed_at`)."""
    provider_id: int = await conn.fetchval(
        INSERT_PROVIDER_SQL, *own_columns(p), status, is_sample, provider_confirmed_at or last_confirmed_at, at
    )
    await write_parts(conn, provider_id, p)
    service_ids = [
        await insert_service(
            conn,
            provider_id,
            x,
            at=at,
            position=n,
            last_confirmed_at=(services_confirmed_at[n] if n < len(services_confirmed_at) else None)
            or last_confirmed_at,
        )
        for n, x in enumerate(p.services)
    ]
    if refresh:
        await refresh_search(conn, [provider_id])
    return provider_id, service_ids


PART_TABLES = {
    "identifiers": ("provider_identifier", ("identifier",)),
    "premises": ("provider_premises", ("area_code", "description")),
    "accreditations": ("provider_accreditation", ("accreditation_code",)),
    "social_value": ("provider_social_value", ("commitment_code",)),
}
"""A profile's parts kept in rows of their own: part -> (table, its columns after provider_id)."""


def _part_rows(provider_id: int, p: ProviderProfile, part: str) -> list[tuple[Any, ...]]:
    """A part's rows, in the order of its table's columns."""
    match part:
        case "identifiers":
            return [(provider_id, i) for i in p.identifiers]
        case "premises":
            return [(provider_id, pm.area, pm.description) for pm in p.resources.premises]
        case "accreditations":
            return [(provider_id, a) for a in p.accreditations]
        case _:
            return [(provider_id, s) for s in p.social_value]


async def write_parts(conn: Connection, provider_id: int, p: ProviderProfile, only: set[str] | None = None) -> None:
    """Replace the child rows of a profile (all parts, or only those named: keys of PART_TABLES)."""
    for part in sorted(set(PART_TABLES) if only is None else only):
        table, columns = PART_TABLES[part]
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 2))
        await conn.execute(f"delete from {table} where provider_id = $1", provider_id)
        await conn.executemany(
            f"insert into {table} (provider_id, {', '.join(columns)}) values ({marks})",
            _part_rows(provider_id, p, part),
        )


# --- services -----------------------------------------------------------------------------------


def service_columns(x: ServiceIn) -> tuple[Any, ...]:
    """The service row's own columns, in the order insert_service and update_service write them ($2 to $16)."""
    e, c = x.eligibility, x.capacity
    cost_amount, cost_unit = (x.cost.amount, x.cost.unit) if x.cost is not None else (None, None)
    return (
        x.pathway,
        nfc(x.name),
        x.description,
        x.status,
        e.min_age,
        e.max_age,
        e.gender,
        c.service_users_per_year,
        c.places_available,
        c.places_as_of,
        list(x.delivery_modes),
        list(x.complexity_levels),
        cost_amount,
        cost_unit,
        x.years_delivering,
    )


INSERT_SERVICE_SQL = """
insert into service (provider_id, pathway_code, name, description, status, min_age, max_age, gender,
    capacity_per_year, places_available, places_as_of, delivery_modes, complexity_levels, cost_amount, cost_unit,
    years_delivering, position, last_confirmed_at, created_at, updated_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        coalesce($17, (select count(*) from service where provider_id = $1)), $18, $19, $19)
returning id
"""
UPDATE_SERVICE_SQL = """
update service set pathway_code = $2, name = $3, description = $4, status = $5, min_age = $6, max_age = $7,
    gender = $8, capacity_per_year = $9, places_available = $10, places_as_of = $11, delivery_modes = $12,
    complexity_levels = $13, cost_amount = $14, cost_unit = $15, years_delivering = $16, last_confirmed_at = $17,
    version = version + 1, updated_at = greatest($17, created_at)
where id = $1 returning version
"""


async def insert_service(
    conn: Connection,
    provider_id: int,
    x: ServiceIn,
    *,
    at: dt.datetime,
    position: int | None = None,
    last_confirmed_at: dt.datetime | None = None,
) -> int:
    """A new service, made at `at` (the caller refreshes the provider's search columns)."""
    service_id: int = await conn.fetchval(
        INSERT_SERVICE_SQL, provider_id, *service_columns(x), position, last_confirmed_at, at
    )
    await write_service_parts(conn, service_id, x)
    return service_id


async def update_service(conn: Connection, service_id: int, x: ServiceIn, *, confirmed_at: dt.datetime) -> int:
    """Rewrite a service at `confirmed_at` (an edit confirms it); its new version."""
    version: int = await conn.fetchval(UPDATE_SERVICE_SQL, service_id, *service_columns(x), confirmed_at)
    for table in ("service_area", "service_cohort", "service_accreditation", "service_outcome"):
        await conn.execute(f"delete from {table} where service_id = $1", service_id)
    await write_service_parts(conn, service_id, x)
    return version


async def write_service_parts(conn: Connection, service_id: int, x: ServiceIn) -> None:
    await conn.executemany(
        "insert into service_area (service_id, area_code) values ($1, $2)",
        [(service_id, a) for a in dict.fromkeys(x.areas)],
    )
    await conn.executemany(
        "insert into service_cohort (service_id, cohort_code) values ($1, $2)",
        [(service_id, c) for c in dict.fromkeys(x.cohorts)],
    )
    await conn.executemany(
        "insert into service_accreditation (service_id, accreditation_code) values ($1, $2)",
        [(service_id, a) for a in dict.fromkeys(x.accreditations)],
    )
    await conn.executemany(
        """insert into service_outcome (service_id, position, outcome, measure, value, period, people, source,
                                        reference, note, desired_outcomes)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        [
            (
                service_id,
                n,
                o.outcome,
                o.measure,
                o.value,
                o.period,
                o.people,
                o.source,
                o.reference,
                o.note,
                list(dict.fromkeys(o.desired_outcomes)),
            )
            for n, o in enumerate(x.outcomes)
        ],
    )


async def delete_service(conn: Connection, service_id: int) -> None:
    await conn.execute("delete from service where id = $1", service_id)


async def lock_service(conn: Connection, provider_id: int, service_id: int) -> asyncpg.Record | None:
    """The service row, locked, if it is the provider's."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "select id, version from service where id = $1 and provider_id = $2 for update", service_id, provider_id
    )
    return row


_service_decoder = msgspec.json.Decoder(Service)
_services_decoder = msgspec.json.Decoder(list[Service])


async def fetch_service(conn: Connection, provider_id: int, service_id: int) -> Service | None:
    doc = await conn.fetchval(
        "select service_doc(s)::text from service s where s.id = $1 and s.provider_id = $2", service_id, provider_id
    )
    return None if doc is None else _service_decoder.decode(doc)


async def fetch_services(conn: Connection, provider_id: int) -> list[Service]:
    doc = await conn.fetchval(
        """select coalesce(json_agg(service_doc(s) order by s.position, s.id), '[]')::text
           from service s where s.provider_id = $1""",
        provider_id,
    )
    return _services_decoder.decode(doc)


async def confirm_services(conn: Connection, provider_id: int, at: dt.datetime) -> None:
    await conn.execute("update service set last_confirmed_at = $2 where provider_id = $1", provider_id, at)


async def bump_version(conn: Connection, provider_id: int, at: dt.datetime) -> int:
    """The profile's content changed at `at` through one of its services: a new version (and ETag) of the profile."""
    version: int = await conn.fetchval(
        "update provider set version = version + 1, updated_at = greatest($2, created_at) where id = $1 "
        "returning version",
        provider_id,
        at,
    )
    return version


_profile_decoder = msgspec.json.Decoder(Provider)


class _Live(msgspec.Struct):
    """The fields of a profile read from the row's own columns (PROFILE_ROW_SQL's, by name), added to the stored
    document."""

    status: str
    is_sample: bool
    verified_at: dt.datetime | None
    stale: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    last_confirmed_at: dt.datetime | None
    to_confirm: list[str]


_live = msgspec.json.Encoder()

# One index lookup: the stored document (schema/0006_profile_doc.sql) and the row's own live fields.
PROFILE_ROW_SQL = """
select p.profile_doc::text as doc, p.status, p.is_sample, p.verified_at,
       coalesce(p.last_confirmed_at, p.created_at) < $2::timestamptz - interval '12 months' as stale,
       p.version, p.created_at, p.updated_at, p.last_confirmed_at, p.to_confirm
from provider p where p.id = $1 and (p.status = any($3::text[]) or p.id = $4)
"""


async def fetch_provider_json(
    conn: Connection, provider_id: int, *, now: dt.datetime, statuses: Sequence[str], own: int | None = None
) -> tuple[bytes, int] | None:
    """The profile as JSON (a Provider) and its version, if its status is one of `statuses` (any status when
    it is the caller's own, `own`): the stored document with the live fields added, never decoded."""
    r = await conn.fetchrow(PROFILE_ROW_SQL, provider_id, now, list(statuses), own)
    if r is None:
        return None
    doc: str = (
        r["doc"]
        if r["doc"] is not None
        else await conn.fetchval(  # written without refresh_provider_search
            "select provider_profile_doc($1)::text", provider_id
        )
    )
    live = _live.encode(_Live(**{f: r[f] for f in _Live.__struct_fields__}))
    body = doc.encode()
    return body[: body.rindex(b"}")] + b"," + live[1:], r["version"]


async def fetch_provider(
    conn: Connection, provider_id: int, *, now: dt.datetime, statuses: Sequence[str], own: int | None = None
) -> Provider | None:
    """The profile if its status is one of `statuses` (any status when it is the caller's own, `own`)."""
    got = await fetch_provider_json(conn, provider_id, now=now, statuses=statuses, own=own)
    return None if got is None else _profile_decoder.decode(got[0])


# --- search -------------------------------------------------------------------------------------
# The rows each process's search index is built from (marketplace.providers.live_index keeps it exact).

# A provider as the search index holds it (index.IndexRow), as one JSON array: the organisation's fields, the
# words of its search document by weight class, and its active services (index.ServiceRow).
INDEX_ROW = """json_build_array(
    p.id, p.name, p.status, p.sector, p.legal_form,
    array(select pa.accreditation_code from provider_accreditation pa where pa.provider_id = p.id
          order by pa.accreditation_code),
    json_build_array(array_to_string(tsvector_to_array(ts_filter(p.search_doc, '{a}')), ' '),
                     array_to_string(tsvector_to_array(ts_filter(p.search_doc, '{b}')), ' '),
                     array_to_string(tsvector_to_array(ts_filter(p.search_doc, '{c}')), ' ')),
    coalesce((select json_agg(json_build_array(
                  s.id, s.pathway_code, s.cohort_codes, s.area_match_codes, s.accreditation_codes, s.capacity_per_year,
                  s.min_age, s.max_age, s.gender, s.complexity_levels, s.delivery_modes, s.cost_amount::float8)
              order by s.id)
              from service s where s.provider_id = p.id and s.status = 'active'), '[]'))"""
INDEX_BATCH_SQL = f"""
select coalesce(json_agg({INDEX_ROW} order by p.id), '[]')::text
from (select * from provider where id > $1 order by id limit $2) p
"""
INDEX_CHANGED_SQL = f"""
select pg_current_snapshot()::text as snapshot,
       (select coalesce(json_agg({INDEX_ROW} order by p.id), '[]')::text
        from provider p where {WRITTEN_SINCE_1}) as rows
"""

# The page's rows, and whether anything changed since the index's snapshot, in one round trip. Each provider comes
# with all its active services; the index says which of them matched.
PAGE_SQL = f"""
select exists(select 1 from provider p where {WRITTEN_SINCE_1}) as changed,
       coalesce((select json_agg(json_build_object(
            'id', p.id, 'name', p.name, 'legal_form', p.legal_form, 'sector', p.sector, 'status', p.status,
            'pathways', p.pathway_codes,
            'coverage', (select coalesce(array_agg(distinct a order by a), '{{}}')
                         from service s, unnest(s.area_codes) a where s.provider_id = p.id and s.status = 'active'),
            'cohorts', p.cohort_codes, 'accreditations', p.accreditation_codes,
            'is_sample', p.is_sample,
            'stale', coalesce(p.last_confirmed_at, p.created_at) < $3::timestamptz - interval '12 months',
            'matched_services', (select coalesce(json_agg(json_build_object(
                    'id', s.id, 'name', s.name, 'pathway', s.pathway_code, 'areas', s.area_codes,
                    'service_users_per_year', s.capacity_per_year,
                    'cost', case when s.cost_amount is null then null
                                 else json_build_object('amount', s.cost_amount::float8, 'unit', s.cost_unit) end)
                  order by s.position, s.id), '[]')
                 from service s where s.provider_id = p.id and s.status = 'active')))
        from provider p where p.id = any($2::bigint[])), '[]')::text as items
"""

_summaries = msgspec.json.Decoder(list[ProviderSummary])
_index_rows = msgspec.json.Decoder(list[IndexRow])


async def index_rows(conn: Connection, *, after: int, batch: int) -> list[IndexRow]:
    """The next `batch` providers by id after `after`, as the search index holds them."""
    return _index_rows.decode(await conn.fetchval(INDEX_BATCH_SQL, after, batch))


async def index_rows_changed(conn: Connection, snapshot: str) -> tuple[str, list[IndexRow]]:
    """(a newer snapshot, the providers written since `snapshot` and visible in it), under one snapshot."""
    row = await one(conn, INDEX_CHANGED_SQL, snapshot)
    return row["snapshot"], _index_rows.decode(row["rows"])


async def page_rows(
    conn: Connection, snapshot: str, ids: list[int], now: dt.datetime
) -> tuple[bool, list[ProviderSummary]]:
    """(whether any provider was written since `snapshot`, the summaries of `ids` in any order, each with all its
    active services as `matched_services`: the caller keeps those that matched)."""
    row = await one(conn, PAGE_SQL, snapshot, ids, now)
    return row["changed"], _summaries.decode(row["items"])


# --- changes ------------------------------------------------------------------------------------

PART_OF_FIELD = {
    "identifiers": "identifiers",
    "resources.premises": "premises",
    "accreditations": "accreditations",
    "social_value": "social_value",
}


async def lock_provider(conn: Connection, provider_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select id, version, status, verified_at, last_confirmed_at, name from provider where id = $1 for update",
        provider_id,
    )


async def is_named(conn: Connection, provider_id: int, name: str) -> bool:
    """Whether `name` folds (`provider_name_key`) to the provider's own name."""
    found: bool | None = await conn.fetchval(
        "select provider_name_key(name) = provider_name_key($2) from provider where id = $1", provider_id, name
    )
    return bool(found)


async def published_named(conn: Connection, name: str) -> asyncpg.Record | None:
    """The published provider (id, name) whose name `name` folds to (`provider_name_key`), the lowest id if several."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "select id, name from provider where provider_name_key(name) = provider_name_key($1) and status = 'published'"
        " order by id limit 1",
        name,
    )
    return row


async def provider_status(conn: Connection, provider_id: int) -> str | None:
    status: str | None = await conn.fetchval("select status from provider where id = $1", provider_id)
    return status


async def update_provider_row(conn: Connection, provider_id: int, p: ProviderProfile, at: dt.datetime) -> int:
    """Write the provider's own columns at `at` and bump its version; returns the new version."""
    version: int = await conn.fetchval(
        """
        update provider set name = $2, legal_form = $3, description = $4, website = $5, founded_year = $6,
            contact_name = $7, contact_email = $8, contact_phone = $9, volunteers = $10, match_funding_per_year = $11,
            other_funding_sources = $12, partner_organisations = $13, annual_income = $14, reserves_months = $15,
            accounts_year_end = $16, accounts_scrutiny = $17, version = version + 1,
            updated_at = greatest($18, created_at)
        where id = $1 returning version
        """,
        provider_id,
        *own_columns(p),
        at,
    )
    return version


async def set_status(conn: Connection, provider_id: int, status: str) -> None:
    await conn.execute("update provider set status = $2 where id = $1", provider_id, status)


async def set_verified(conn: Connection, provider_id: int, at: dt.datetime) -> None:
    await conn.execute("update provider set verified_at = $2 where id = $1", provider_id, at)


async def set_confirmed(conn: Connection, provider_id: int, at: dt.datetime) -> None:
    """Confirmed as of `at`: the profile, and every one of its services; nothing is left to confirm."""
    await conn.execute("update provider set last_confirmed_at = $2, to_confirm = '{}' where id = $1", provider_id, at)
    await confirm_services(conn, provider_id, at)


async def identifiers_taken(conn: Connection, identifiers: Sequence[str], provider_id: int | None) -> list[str]:
    rows = await conn.fetch(
        "select identifier from provider_identifier "
        "where identifier = any($1::text[]) and provider_id is distinct from $2",
        list(identifiers),
        provider_id,
    )
    return [r["identifier"] for r in rows]


async def lock_name(conn: Connection, name: str) -> None:
    """Serialise, to the end of the caller's transaction, claims to names that fold to `name`'s key (two
    registrations of one name at once: the second waits, then finds the first's)."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('provider_name:' || provider_name_key($1), 0))", name
    )


async def name_taken(conn: Connection, name: str, provider_id: int | None) -> tuple[str, str] | None:
    """The name and status of another provider, not archived, whose name folds to the same key as `name`; None if
    none."""
    row = await conn.fetchrow(
        "select name, status from provider where provider_name_key(name) = provider_name_key($1) "
        "and id is distinct from $2 and status <> 'archived' order by id limit 1",
        name,
        provider_id,
    )
    return None if row is None else (row["name"], row["status"])


# --- history ------------------------------------------------------------------------------------


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=_as_the_api_writes)


def _as_the_api_writes(value: Any) -> Any:
    """A value JSON has no type for: a time as the API's responses write it (`2026-11-30T16:06:52.655583Z`), else
    its text (a decimal's digits, a date's ISO form)."""
    if isinstance(value, dt.datetime):
        return msgspec.json.decode(msgspec.json.encode(value))
    return str(value)


async def insert_history(
    conn: Connection,
    *,
    provider_id: int,
    version: int,
    action: str,
    changes: Sequence[tuple[str, Any, Any]],
    actor: Actor | None,
) -> None:
    """One row per changed field; `actor` None for the seed loader (recorded as the system)."""
    caller = actor.caller if actor else None
    await conn.executemany(
        """insert into profile_history (resource_id, version, last_action_type, field_name, previous_value,
                                        replacement_value, updated_by, updated_by_role, request_id)
           values ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7, $8, $9)""",
        [
            (
                provider_id,
                version,
                action,
                field,
                _json(before),
                _json(after),
                caller.key_id if caller else None,
                caller.role if caller else "system",
                actor.request_id if actor else None,
            )
            for field, before, after in changes
        ],
    )


async def history_page(
    conn: Connection, provider_id: int, *, limit: int, offset: int
) -> tuple[int, list[HistoryEntry]]:
    total: int = await conn.fetchval("select count(*) from profile_history where resource_id = $1", provider_id)
    rows = await conn.fetch(
        """select id, resource_id, resource_type, version, last_action_date, last_action_type, field_name,
                  previous_value::text as previous_value, replacement_value::text as replacement_value,
                  updated_by, updated_by_role, request_id
           from profile_history where resource_id = $1 order by id desc limit $2 offset $3""",
        provider_id,
        limit,
        offset,
    )
    return total, [
        HistoryEntry(
            **{
                **dict(r),
                "previous_value": _load(r["previous_value"]),
                "replacement_value": _load(r["replacement_value"]),
            }
        )
        for r in rows
    ]


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# --- verified evidence (schema/0014_evidence.sql) --------------------------------------------------------

VERIFICATION_FIELDS = (
    "id, service_id, accreditation_code, outcome_fingerprint, seen, verified_at, verified_by, verified_by_role"
)


async def holds_accreditation(conn: Connection, provider_id: int, service_id: int | None, code: str) -> bool:
    """Whether the organisation (service_id None) or its service holds accreditation `code`."""
    if service_id is None:
        sql = "select exists(select from provider_accreditation where provider_id = $1 and accreditation_code = $2)"
        found: bool = await conn.fetchval(sql, provider_id, code)
        return found
    sql = """select exists(select from service_accreditation a join service s on s.id = a.service_id
                           where s.provider_id = $1 and a.service_id = $3 and a.accreditation_code = $2)"""
    found = await conn.fetchval(sql, provider_id, code, service_id)
    return found


async def outcome_record(conn: Connection, service_id: int, index: int) -> asyncpg.Record | None:
    """The service's outcomes record at `index` (its position in the service's list): its fingerprint and its
    content as the API shows it."""
    return await conn.fetchrow(
        """select outcome_fingerprint(o) as fingerprint,
                  json_build_object('outcome', o.outcome, 'measure', o.measure, 'period', o.period,
                                    'value', o.value::float8, 'people', o.people, 'source', o.source,
                                    'reference', o.reference, 'note', o.note,
                                    'desired_outcomes', to_json(o.desired_outcomes))::text as record
           from service_outcome o where o.service_id = $1
           order by o.position, o.id offset $2 limit 1""",
        service_id,
        index,
    )


async def find_verification(
    conn: Connection, provider_id: int, service_id: int | None, code: str | None, fingerprint: str | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""select {VERIFICATION_FIELDS} from evidence_verification
            where provider_id = $1 and service_id is not distinct from $2
              and accreditation_code is not distinct from $3 and outcome_fingerprint is not distinct from $4""",
        provider_id,
        service_id,
        code,
        fingerprint,
    )


async def insert_verification(
    conn: Connection,
    provider_id: int,
    service_id: int | None,
    code: str | None,
    fingerprint: str | None,
    *,
    seen: str,
    at: dt.datetime,
    actor: Actor,
) -> None:
    await conn.execute(
        """insert into evidence_verification (provider_id, service_id, accreditation_code, outcome_fingerprint, seen,
                                              verified_at, verified_by, verified_by_role)
           values ($1, $2, $3, $4, $5, $6, $7, $8)""",
        provider_id,
        service_id,
        code,
        fingerprint,
        seen,
        at,
        actor.caller.key_id,
        actor.caller.role,
    )


async def delete_verification(conn: Connection, verification_id: int) -> None:
    await conn.execute("delete from evidence_verification where id = $1", verification_id)


LAPSE_SQL = f"""
delete from evidence_verification v
where v.provider_id = $1 and not case
    when v.outcome_fingerprint is not null then exists(
        select from service_outcome o
        where o.service_id = v.service_id and outcome_fingerprint(o) = v.outcome_fingerprint)
    when v.service_id is not null then exists(
        select from service_accreditation a
        where a.service_id = v.service_id and a.accreditation_code = v.accreditation_code)
    else exists(
        select from provider_accreditation pa
        where pa.provider_id = v.provider_id and pa.accreditation_code = v.accreditation_code)
    end
returning {VERIFICATION_FIELDS}
"""


async def lapse_verifications(conn: Connection, provider_id: int) -> list[asyncpg.Record]:
    """Remove the provider's verifications whose accreditation or outcomes record is no longer there as it was
    verified (removed, or edited by the provider); the removed ones."""
    return list(await conn.fetch(LAPSE_SQL, provider_id))
