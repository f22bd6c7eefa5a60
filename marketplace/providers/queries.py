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
from marketplace.providers.models import HistoryEntry, Provider, ProviderProfile, ProviderSummary
from marketplace.types import Actor


async def count_all(conn: Connection) -> int:
    n: int = await conn.fetchval("select count(*) from provider")
    return n


async def refresh_search(conn: Connection, ids: Sequence[int]) -> None:
    await conn.execute("select refresh_provider_search($1::bigint[])", list(ids))


def own_columns(p: ProviderProfile) -> tuple[Any, ...]:
    """The provider row's own columns, in the order insert_provider and update_provider_row write them."""
    return (
        p.name.strip(),
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
        p.capacity.service_users_per_year,
        p.finances.annual_income,
        p.finances.reserves_months,
    )


async def insert_provider(
    conn: Connection,
    p: ProviderProfile,
    *,
    status: str,
    is_sample: bool = False,
    last_confirmed_at: dt.datetime | None = None,
    refresh: bool = True,
) -> int:
    provider_id: int = await conn.fetchval(
        """
        insert into provider (name, legal_form, description, website, founded_year,
            contact_name, contact_email, contact_phone, volunteers, match_funding_per_year,
            other_funding_sources, partner_organisations, capacity_per_year, annual_income,
            reserves_months, status, is_sample, last_confirmed_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
        returning id
        """,
        *own_columns(p),
        status,
        is_sample,
        last_confirmed_at,
    )
    await write_parts(conn, provider_id, p)
    if refresh:
        await refresh_search(conn, [provider_id])
    return provider_id


PART_TABLES = {
    "identifiers": "provider_identifier",
    "expertise": "provider_expertise",
    "coverage": "provider_coverage",
    "premises": "provider_premises",
    "accreditations": "provider_accreditation",
    "social_value": "provider_social_value",
}


async def write_parts(conn: Connection, provider_id: int, p: ProviderProfile, only: set[str] | None = None) -> None:
    """Replace the child rows of a profile (all parts, or only those named: keys of PART_TABLES)."""
    parts = set(PART_TABLES) if only is None else only
    for part in sorted(parts):
        await conn.execute(f"delete from {PART_TABLES[part]} where provider_id = $1", provider_id)
    if "identifiers" in parts:
        await conn.executemany(
            "insert into provider_identifier (identifier, provider_id) values ($1, $2)",
            [(i, provider_id) for i in p.identifiers],
        )
    if "expertise" in parts:
        await _write_expertise(conn, provider_id, p)
    if "coverage" in parts:
        await conn.executemany(
            "insert into provider_coverage (provider_id, area_code) values ($1, $2)",
            [(provider_id, a) for a in p.coverage],
        )
    if "premises" in parts:
        await conn.executemany(
            "insert into provider_premises (provider_id, area_code, description) values ($1, $2, $3)",
            [(provider_id, pm.area, pm.description) for pm in p.resources.premises],
        )
    if "accreditations" in parts:
        await conn.executemany(
            "insert into provider_accreditation (provider_id, accreditation_code) values ($1, $2)",
            [(provider_id, a) for a in p.accreditations],
        )
    if "social_value" in parts:
        await conn.executemany(
            "insert into provider_social_value (provider_id, commitment_code) values ($1, $2)",
            [(provider_id, s) for s in p.social_value],
        )


async def _write_expertise(conn: Connection, provider_id: int, p: ProviderProfile) -> None:
    await conn.executemany(
        """insert into provider_expertise (provider_id, pathway_code, years_experience, description,
                                           outcomes_evidence, position)
           values ($1, $2, $3, $4, $5, $6)""",
        [
            (provider_id, e.pathway, e.years_experience, e.description, e.outcomes_evidence, n)
            for n, e in enumerate(p.expertise)
        ],
    )
    await conn.executemany(
        "insert into provider_expertise_cohort (provider_id, pathway_code, cohort_code) values ($1, $2, $3)",
        [(provider_id, e.pathway, c) for e in p.expertise for c in dict.fromkeys(e.cohorts)],
    )


_profile_decoder = msgspec.json.Decoder(Provider)


class _Live(msgspec.Struct):
    """The fields of a profile read from the row's own columns, added to the stored document."""

    status: str
    is_sample: bool
    verified_at: dt.datetime | None
    stale: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    last_confirmed_at: dt.datetime | None


_live = msgspec.json.Encoder()

# One index lookup: the stored document (schema/0006_profile_doc.sql) and the row's own live fields.
PROFILE_ROW_SQL = """
select p.profile_doc::text as doc, p.status, p.is_sample, p.verified_at,
       coalesce(p.last_confirmed_at, p.created_at) < $2::timestamptz - interval '12 months' as stale,
       p.version, p.created_at, p.updated_at, p.last_confirmed_at
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
    live = _live.encode(
        _Live(
            status=r["status"],
            is_sample=r["is_sample"],
            verified_at=r["verified_at"],
            stale=r["stale"],
            version=r["version"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            last_confirmed_at=r["last_confirmed_at"],
        )
    )
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

INDEX_COLUMNS = """
    p.id, p.name, p.status, p.sector, p.legal_form, p.capacity_per_year,
    p.pathway_codes, p.cohort_codes, p.area_match_codes, p.accreditation_codes,
    array_to_string(tsvector_to_array(ts_filter(p.search_doc, '{a}')), ' '),
    array_to_string(tsvector_to_array(ts_filter(p.search_doc, '{b}')), ' '),
    array_to_string(tsvector_to_array(ts_filter(p.search_doc, '{c}')), ' ')
"""
INDEX_BATCH_SQL = f"select {INDEX_COLUMNS} from provider p where p.id > $1 order by p.id limit $2"
INDEX_CHANGED_SQL = f"""
select s.snapshot, r.* from (select pg_current_snapshot()::text as snapshot) s
left join lateral (select {INDEX_COLUMNS} from provider p where {WRITTEN_SINCE_1}) r on true
"""

# The page's rows, and whether anything changed since the index's snapshot, in one round trip.
PAGE_SQL = f"""
select exists(select 1 from provider p where {WRITTEN_SINCE_1}) as changed,
       coalesce((select json_agg(json_build_object(
            'id', p.id, 'name', p.name, 'legal_form', p.legal_form, 'sector', p.sector, 'status', p.status,
            'pathways', p.pathway_codes,
            'coverage', (select coalesce(array_agg(c.area_code order by c.area_code), '{{}}')
                         from provider_coverage c where c.provider_id = p.id),
            'cohorts', p.cohort_codes, 'accreditations', p.accreditation_codes,
            'capacity', p.capacity_per_year, 'is_sample', p.is_sample,
            'stale', coalesce(p.last_confirmed_at, p.created_at) < $3::timestamptz - interval '12 months'))
        from provider p where p.id = any($2::bigint[])), '[]')::text as items
"""

_summaries = msgspec.json.Decoder(list[ProviderSummary])


def _index_row(r: asyncpg.Record, at: int = 0) -> IndexRow:
    """IndexRow from INDEX_COLUMNS starting at column `at`."""
    c = [r[at + k] for k in range(13)]
    return IndexRow(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], (c[10], c[11], c[12]))


async def index_rows(conn: Connection, *, after: int, batch: int) -> list[IndexRow]:
    """The next `batch` providers by id after `after`, as the search index holds them."""
    return [_index_row(r) for r in await conn.fetch(INDEX_BATCH_SQL, after, batch)]


async def index_rows_changed(conn: Connection, snapshot: str) -> tuple[str, list[IndexRow]]:
    """(a newer snapshot, the providers written since `snapshot` and visible in it), under one snapshot."""
    rows = await conn.fetch(INDEX_CHANGED_SQL, snapshot)
    return rows[0]["snapshot"], [_index_row(r, 1) for r in rows if r["id"] is not None]


async def page_rows(
    conn: Connection, snapshot: str, ids: list[int], now: dt.datetime
) -> tuple[bool, list[ProviderSummary]]:
    """(whether any provider was written since `snapshot`, the summaries of `ids` in any order)."""
    row = await one(conn, PAGE_SQL, snapshot, ids, now)
    return row["changed"], _summaries.decode(row["items"])


# --- changes ------------------------------------------------------------------------------------

PART_OF_FIELD = {
    "identifiers": "identifiers",
    "expertise": "expertise",
    "coverage": "coverage",
    "resources.premises": "premises",
    "accreditations": "accreditations",
    "social_value": "social_value",
}


async def lock_provider(conn: Connection, provider_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select id, version, status, verified_at, last_confirmed_at from provider where id = $1 for update", provider_id
    )


async def update_provider_row(conn: Connection, provider_id: int, p: ProviderProfile) -> int:
    """Write the provider's own columns and bump its version; returns the new version."""
    version: int = await conn.fetchval(
        """
        update provider set name = $2, legal_form = $3, description = $4, website = $5, founded_year = $6,
            contact_name = $7, contact_email = $8, contact_phone = $9, volunteers = $10, match_funding_per_year = $11,
            other_funding_sources = $12, partner_organisations = $13, capacity_per_year = $14, annual_income = $15,
            reserves_months = $16, version = version + 1, updated_at = greatest(now(), created_at)
        where id = $1 returning version
        """,
        provider_id,
        *own_columns(p),
    )
    return version


async def set_status(conn: Connection, provider_id: int, status: str) -> None:
    await conn.execute("update provider set status = $2 where id = $1", provider_id, status)


async def set_verified(conn: Connection, provider_id: int, at: dt.datetime) -> None:
    await conn.execute("update provider set verified_at = $2 where id = $1", provider_id, at)


async def set_confirmed(conn: Connection, provider_id: int, at: dt.datetime) -> None:
    await conn.execute("update provider set last_confirmed_at = $2 where id = $1", provider_id, at)


async def identifiers_taken(conn: Connection, identifiers: Sequence[str], provider_id: int | None) -> list[str]:
    rows = await conn.fetch(
        "select identifier from provider_identifier "
        "where identifier = any($1::text[]) and provider_id is distinct from $2",
        list(identifiers),
        provider_id,
    )
    return [r["identifier"] for r in rows]


# --- history ------------------------------------------------------------------------------------


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


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
