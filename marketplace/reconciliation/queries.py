"""SQL for the reconciliation service: published providers only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from marketplace.db import Connection

SIMILARITY_FLOOR = 0.3
"""pg_trgm similarity a folded name needs with one of the query's texts to be a candidate at all."""

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


async def by_name(conn: Connection, texts: list[str], areas: list[str] | None, limit: int) -> list[CandidateRow]:
    """Published providers whose folded name is trigram-similar to one of `texts` (one to four), most similar
    first; `areas`: only those covering one of these areas (hierarchy-aware). Runs inside a transaction (the
    similarity floor is set for it alone)."""
    t = (texts + texts[:1] * 4)[:4]
    await conn.execute(f"set local pg_trgm.similarity_threshold = {SIMILARITY_FLOOR}")
    records = await conn.fetch(
        f"""select {_CANDIDATE} from provider p
            where p.status = 'published'
              and (fold(p.name) % $1 or fold(p.name) % $2 or fold(p.name) % $3 or fold(p.name) % $4)
              and ($5::text[] is null or p.area_match_codes && $5::text[])
            order by greatest(similarity(fold(p.name), $1), similarity(fold(p.name), $2),
                              similarity(fold(p.name), $3), similarity(fold(p.name), $4)) desc, p.id
            limit $6""",
        *t,
        areas,
        limit,
    )
    return _rows(records)


async def by_prefix(conn: Connection, text: str, limit: int, offset: int) -> list[CandidateRow]:
    """Published providers whose folded name holds `text` (folded), those starting with it first, then by name."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    records = await conn.fetch(
        f"""select {_CANDIDATE} from provider p
            where p.status = 'published' and fold(p.name) like '%' || fold($1) || '%'
            order by fold(p.name) like fold($1) || '%' desc, fold(p.name), p.id
            limit $2 offset $3""",
        escaped,
        limit,
        offset,
    )
    return _rows(records)


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
