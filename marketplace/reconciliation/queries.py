"""SQL for the reconciliation service: published providers only. Names are looked up in this process's search
index (marketplace.providers.service.similar_names, names_holding); the rows found are read here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from marketplace.changes import WRITTEN_SINCE_1
from marketplace.db import Connection

_CANDIDATE = """p.id, p.name, p.legal_form,
    coalesce((select array_agg(i.identifier order by i.identifier) from provider_identifier i
              where i.provider_id = p.id), '{}') as identifiers"""


@dataclass(frozen=True, slots=True)
class CandidateRow:
    id: int
    name: str
    legal_form: str
    identifiers: list[str]


def _rows(records: Sequence[asyncpg.Record]) -> list[CandidateRow]:
    return [CandidateRow(r["id"], r["name"], r["legal_form"], list(r["identifiers"])) for r in records]


async def by_identifiers(conn: Connection, identifiers: list[str]) -> list[CandidateRow]:
    """The published providers holding any of these org-ids."""
    records = await conn.fetch(
        f"""select {_CANDIDATE} from provider p
            where p.status = 'published'
              and p.id in (select provider_id from provider_identifier where identifier = any($1::text[]))
            order by p.id""",
        identifiers,
    )
    return _rows(records)


async def changed_since(conn: Connection, snapshot: str) -> bool:
    """Whether any provider was written since `snapshot` (a search index's), as this transaction sees it."""
    changed: bool = await conn.fetchval(f"select exists(select 1 from provider p where {WRITTEN_SINCE_1})", snapshot)
    return changed


async def by_ids(conn: Connection, ids: list[int]) -> dict[int, CandidateRow]:
    """The published providers among `ids`."""
    records = await conn.fetch(
        f"select {_CANDIDATE} from provider p where p.status = 'published' and p.id = any($1::bigint[])", ids
    )
    return {row.id: row for row in _rows(records)}


@dataclass(frozen=True, slots=True)
class PreviewRow:
    id: int
    name: str
    legal_form: str
    description: str
    website: str | None
    identifiers: list[str]
    pathways: list[str]
    areas: list[str]


async def preview(conn: Connection, provider_id: int) -> PreviewRow | None:
    """What the preview shows of a published provider: its active services' pathways and areas together."""
    r = await conn.fetchrow(
        f"""select {_CANDIDATE}, p.description, p.website,
                coalesce((select array_agg(distinct s.pathway_code order by s.pathway_code) from service s
                          where s.provider_id = p.id and s.status = 'active'), '{{}}') as pathways,
                coalesce((select array_agg(distinct a.area_code order by a.area_code)
                          from service s join service_area a on a.service_id = s.id
                          where s.provider_id = p.id and s.status = 'active'), '{{}}') as areas
            from provider p where p.id = $1 and p.status = 'published'""",
        provider_id,
    )
    if r is None:
        return None
    return PreviewRow(
        r["id"],
        r["name"],
        r["legal_form"],
        r["description"],
        r["website"],
        list(r["identifiers"]),
        list(r["pathways"]),
        list(r["areas"]),
    )
