"""SQL for the Open Referral read API: published providers and their active services only."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import asyncpg

from marketplace.db import Connection

PROVIDER_COLUMNS = """p.id as provider_id, p.uuid as org_uuid, p.name as org_name, p.description as org_description,
    p.website, p.contact_name, p.contact_email, p.contact_phone, p.legal_form, p.founded_year,
    p.other_funding_sources,
    coalesce((select array_agg(i.identifier order by i.identifier) from provider_identifier i
              where i.provider_id = p.id), '{}') as identifiers"""

SERVICE_COLUMNS = """s.id, s.uuid, s.name, s.description, s.status, s.min_age, s.max_age, s.gender, s.cost_amount,
    s.cost_unit, s.last_confirmed_at, greatest(s.updated_at, p.updated_at) as modified, s.pathway_code,
    s.accreditation_codes,
    coalesce((select array_agg(c.cohort_code order by c.cohort_code) from service_cohort c
              where c.service_id = s.id), '{}') as cohorts,
    coalesce((select array_agg(a.area_code order by a.area_code) from service_area a
              where a.service_id = s.id), '{}') as areas"""

VISIBLE = "p.status = 'published' and s.status = 'active'"


@dataclass(slots=True)
class ServiceFilter:
    """What GET /hsds/services narrows by; every part must hold."""

    words: list[str] = field(default_factory=list)
    organization: uuid.UUID | None = None
    pathway: str | None = None
    cohort: str | None = None
    modified_after: dt.datetime | None = None

    def where(self) -> tuple[str, list[object]]:
        parts, args = [VISIBLE], list[object]()

        def arg(value: object) -> str:
            args.append(value)
            return f"${len(args)}"

        # each word, accents and case folded, somewhere in the names or descriptions
        parts.extend(
            f"strpos(fold(s.name || ' ' || s.description || ' ' || p.name), fold({arg(word)})) > 0"
            for word in self.words
        )
        if self.organization is not None:
            parts.append(f"p.uuid = {arg(self.organization)}")
        if self.pathway is not None:
            parts.append(f"s.pathway_code = {arg(self.pathway)}")
        if self.cohort is not None:
            parts.append(
                "exists (select from service_cohort c"
                f" where c.service_id = s.id and c.cohort_code = {arg(self.cohort)})"
            )
        if self.modified_after is not None:
            parts.append(f"greatest(s.updated_at, p.updated_at) >= {arg(self.modified_after)}")
        return " and ".join(parts), args


async def count_services(conn: Connection, f: ServiceFilter) -> int:
    where, args = f.where()
    n: int = await conn.fetchval(
        f"select count(*) from service s join provider p on p.id = s.provider_id where {where}", *args
    )
    return n


async def services(conn: Connection, f: ServiceFilter, limit: int, offset: int) -> list[asyncpg.Record]:
    where, args = f.where()
    sql = f"""select {SERVICE_COLUMNS}, {PROVIDER_COLUMNS}
              from service s join provider p on p.id = s.provider_id
              where {where} order by s.id limit ${len(args) + 1} offset ${len(args) + 2}"""
    return list(await conn.fetch(sql, *args, limit, offset))


async def service(conn: Connection, service_uuid: uuid.UUID) -> asyncpg.Record | None:
    sql = f"""select {SERVICE_COLUMNS}, {PROVIDER_COLUMNS}
              from service s join provider p on p.id = s.provider_id
              where {VISIBLE} and s.uuid = $1"""
    row: asyncpg.Record | None = await conn.fetchrow(sql, service_uuid)
    return row


async def services_of(conn: Connection, provider_id: int) -> list[asyncpg.Record]:
    sql = f"""select {SERVICE_COLUMNS}, {PROVIDER_COLUMNS}
              from service s join provider p on p.id = s.provider_id
              where {VISIBLE} and p.id = $1 order by s.position, s.id"""
    return list(await conn.fetch(sql, provider_id))


def _org_where(words: list[str]) -> tuple[str, list[object]]:
    parts = ["p.status = 'published'"]
    for i, _ in enumerate(words, start=1):
        parts.append(f"strpos(fold(p.name || ' ' || p.description), fold(${i})) > 0")
    return " and ".join(parts), list(words)


async def count_organizations(conn: Connection, words: list[str]) -> int:
    where, args = _org_where(words)
    n: int = await conn.fetchval(f"select count(*) from provider p where {where}", *args)
    return n


async def organizations(conn: Connection, words: list[str], limit: int, offset: int) -> list[asyncpg.Record]:
    where, args = _org_where(words)
    sql = f"""select {PROVIDER_COLUMNS} from provider p
              where {where} order by p.id limit ${len(args) + 1} offset ${len(args) + 2}"""
    return list(await conn.fetch(sql, *args, limit, offset))


async def organization(conn: Connection, org_uuid: uuid.UUID) -> asyncpg.Record | None:
    sql = f"select {PROVIDER_COLUMNS} from provider p where p.status = 'published' and p.uuid = $1"
    row: asyncpg.Record | None = await conn.fetchrow(sql, org_uuid)
    return row


# --- export (GET /providers/export): the search's hits, whatever their status (the search decided who may see) ----

EXPORT_PROVIDER_COLUMNS = f"""{PROVIDER_COLUMNS}, p.status as provider_status, p.sector, p.is_sample,
    p.last_confirmed_at as provider_confirmed_at, p.volunteers, p.match_funding_per_year, p.partner_organisations,
    p.annual_income, p.reserves_months::float8 as reserves_months, p.accounts_year_end, p.accounts_scrutiny,
    coalesce((select array_agg(pm.area_code order by pm.id) from provider_premises pm
              where pm.provider_id = p.id), '{{}}') as premises_areas,
    coalesce((select array_agg(pm.description order by pm.id) from provider_premises pm
              where pm.provider_id = p.id), '{{}}') as premises_descriptions,
    coalesce((select array_agg(pa.accreditation_code order by pa.accreditation_code) from provider_accreditation pa
              where pa.provider_id = p.id), '{{}}') as org_accreditations,
    coalesce((select array_agg(sv.commitment_code order by sv.commitment_code) from provider_social_value sv
              where sv.provider_id = p.id), '{{}}') as social_value"""
"""The provider's columns of the flat sheet: everything of its profile (the order of its lists as the profile
document reads them back, schema/0023)."""

EXPORT_SERVICE_COLUMNS = f"""{SERVICE_COLUMNS}, s.provider_id as service_provider_id, s.capacity_per_year,
    s.places_available, s.places_as_of, s.delivery_modes, s.complexity_levels, s.years_delivering,
    (select coalesce(json_agg(json_build_object(
            'outcome', o.outcome, 'measure', o.measure, 'period', o.period, 'value', o.value::float8,
            'people', o.people, 'source', o.source, 'reference', o.reference, 'note', o.note,
            'desired_outcomes', to_json(o.desired_outcomes)) order by o.position, o.id), '[]')
     from service_outcome o where o.service_id = s.id) as outcomes"""


async def export_providers(conn: Connection, provider_ids: list[int]) -> list[asyncpg.Record]:
    sql = f"select {EXPORT_PROVIDER_COLUMNS} from provider p where p.id = any($1::bigint[])"
    return list(await conn.fetch(sql, provider_ids))


async def export_services(conn: Connection, service_ids: list[int]) -> list[asyncpg.Record]:
    sql = f"""select {EXPORT_SERVICE_COLUMNS}, {PROVIDER_COLUMNS}
              from service s join provider p on p.id = s.provider_id
              where s.id = any($1::bigint[]) order by s.provider_id, s.position, s.id"""
    return list(await conn.fetch(sql, service_ids))
