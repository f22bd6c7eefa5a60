"""SQL for provider profiles: writing the parts of a profile, reading it back, and searching."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import asyncpg
import msgspec
from rapidfuzz.distance import OSA

from marketplace.providers.models import Provider, ProviderProfile, ProviderSummary


async def count_all(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("select count(*) from provider")


async def refresh_search(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute("select refresh_provider_search($1::bigint[])", list(ids))


def _own_columns(p: ProviderProfile) -> tuple:
    """The provider row's own columns, in the order insert_provider and update_provider_row write them."""
    return (
        p.name.strip(), p.legal_form, p.description, p.website, p.founded_year, p.contact.name, p.contact.email,
        p.contact.phone, p.resources.volunteers, p.resources.match_funding_per_year, p.resources.other_funding_sources,
        p.resources.partner_organisations, p.capacity.service_users_per_year, p.finances.annual_income,
        p.finances.reserves_months,
    )


async def insert_provider(
    conn: asyncpg.Connection,
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
        *_own_columns(p),
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


async def write_parts(conn: asyncpg.Connection, provider_id: int, p: ProviderProfile, only: set[str] | None = None) -> None:
    """Replace the child rows of a profile (all parts, or only those named: keys of PART_TABLES)."""
    parts = set(PART_TABLES) if only is None else only
    for part in sorted(parts):
        await conn.execute(f"delete from {PART_TABLES[part]} where provider_id = $1", provider_id)  # noqa: S608 - fixed names
    if "identifiers" in parts:
        await conn.executemany(
            "insert into provider_identifier (identifier, provider_id) values ($1, $2)",
            [(i, provider_id) for i in p.identifiers],
        )
    if "expertise" in parts:
        await _write_expertise(conn, provider_id, p)
    if "coverage" in parts:
        await conn.executemany(
            "insert into provider_coverage (provider_id, area_code) values ($1, $2)", [(provider_id, a) for a in p.coverage]
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


async def _write_expertise(conn: asyncpg.Connection, provider_id: int, p: ProviderProfile) -> None:
    await conn.executemany(
        """insert into provider_expertise (provider_id, pathway_code, years_experience, description, outcomes_evidence, position)
           values ($1, $2, $3, $4, $5, $6)""",
        [(provider_id, e.pathway, e.years_experience, e.description, e.outcomes_evidence, n) for n, e in enumerate(p.expertise)],
    )
    await conn.executemany(
        "insert into provider_expertise_cohort (provider_id, pathway_code, cohort_code) values ($1, $2, $3)",
        [(provider_id, e.pathway, c) for e in p.expertise for c in dict.fromkeys(e.cohorts)],
    )


# One round trip: the profile assembled as JSON by PostgreSQL, decoded straight into Provider.
PROFILE_SQL = """
select json_build_object(
    'id', p.id, 'name', p.name, 'legal_form', p.legal_form, 'sector', p.sector,
    'identifiers', coalesce((select json_agg(i.identifier order by i.identifier)
                             from provider_identifier i where i.provider_id = p.id), '[]'),
    'description', p.description, 'website', p.website, 'founded_year', p.founded_year,
    'contact', json_build_object('name', p.contact_name, 'email', p.contact_email, 'phone', p.contact_phone),
    'expertise', coalesce((select json_agg(json_build_object(
                    'pathway', e.pathway_code,
                    'cohorts', (select coalesce(json_agg(ec.cohort_code order by c.sort_order), '[]')
                                from provider_expertise_cohort ec join cohort c on c.code = ec.cohort_code
                                where ec.provider_id = e.provider_id and ec.pathway_code = e.pathway_code),
                    'years_experience', e.years_experience, 'description', e.description,
                    'outcomes_evidence', e.outcomes_evidence) order by e.position, e.pathway_code)
                   from provider_expertise e where e.provider_id = p.id), '[]'),
    'coverage', coalesce((select json_agg(c.area_code order by c.area_code)
                          from provider_coverage c where c.provider_id = p.id), '[]'),
    'resources', json_build_object(
        'volunteers', p.volunteers,
        'premises', coalesce((select json_agg(json_build_object('area', pm.area_code, 'description', pm.description) order by pm.id)
                              from provider_premises pm where pm.provider_id = p.id), '[]'),
        'match_funding_per_year', p.match_funding_per_year,
        'other_funding_sources', p.other_funding_sources,
        'partner_organisations', p.partner_organisations),
    'capacity', json_build_object('service_users_per_year', p.capacity_per_year),
    'finances', json_build_object('annual_income', p.annual_income, 'reserves_months', p.reserves_months::float8),
    'accreditations', p.accreditation_codes,
    'social_value', coalesce((select json_agg(s.commitment_code order by s.commitment_code)
                              from provider_social_value s where s.provider_id = p.id), '[]'),
    'status', p.status, 'is_sample', p.is_sample, 'verified_at', p.verified_at,
    'stale', coalesce(p.last_confirmed_at, p.created_at) < $2::timestamptz - interval '12 months',
    'version', p.version, 'created_at', p.created_at, 'updated_at', p.updated_at,
    'last_confirmed_at', p.last_confirmed_at
)::text
from provider p where p.id = $1 and (p.status = any($3::text[]) or p.id = $4)
"""

_profile_decoder = msgspec.json.Decoder(Provider)


async def fetch_provider(
    conn: asyncpg.Connection, provider_id: int, *, now: dt.datetime, statuses: Sequence[str], own: int | None = None
) -> Provider | None:
    """The profile if its status is one of `statuses` (any status when it is the caller's own, `own`)."""
    doc = await conn.fetchval(PROFILE_SQL, provider_id, now, list(statuses), own)
    return None if doc is None else _profile_decoder.decode(doc)


# --- search -------------------------------------------------------------------------------------

EXPAND_SQL = """
select t.ord, t.tok, s.word, s.word = t.tok as exact, s.sim
from unnest(regexp_split_to_array(fold($1), '[^a-z0-9]+')) with ordinality as t(tok, ord)
left join lateral (
    select st.word, similarity(st.word, t.tok) as sim from search_term st
    where st.word = t.tok or st.word % t.tok or (length(t.tok) >= 4 and st.word like t.tok || '%')
    order by st.word = t.tok desc, st.word like t.tok || '%' desc, similarity(st.word, t.tok) desc, st.word
    limit 8
) s on true
where length(t.tok) >= 2
order by t.ord
"""


async def expand_query(conn: asyncpg.Connection, q: str) -> list[tuple[str, list[str]]]:
    """Each query word with the vocabulary words it stands for: itself and its completions when it
    is a known word, else the closest spellings (trigram similarity)."""
    q = CONTROL_CHARS.sub(" ", q)  # PostgreSQL text cannot hold NUL; no control character means anything here
    groups: dict[int, tuple[str, list[tuple[str, float]], bool]] = {}
    for r in await conn.fetch(EXPAND_SQL, q):
        tok, words, has_exact = groups.get(r["ord"], (r["tok"], [], False))
        if r["word"] is not None:
            words.append((r["word"], r["sim"]))
        groups[r["ord"]] = (tok, words, has_exact or bool(r["exact"]))
    out: list[tuple[str, list[str]]] = []
    for tok, words, has_exact in groups.values():
        if has_exact:  # a real word: keep it and its completions, drop mere look-alikes
            kept = [w for w, _ in words if w.startswith(tok)]
        else:  # a misspelling: trigrams found candidates; the fewest edits (a swap is one) decides
            kept = closest_spellings(tok, [w for w, _ in words])
        out.append((tok, kept[:5]))
    return out


def closest_spellings(token: str, candidates: list[str]) -> list[str]:
    """The candidates fewest edits away from token, if that is few enough for its length."""
    allowed = 1 if len(token) <= 4 else 2 if len(token) <= 8 else 3
    scored = [(OSA.distance(token, w), w) for w in candidates]
    best = min((d for d, _ in scored), default=allowed + 1)
    return [w for d, w in scored if d == best] if best <= allowed else []


CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def to_tsquery_text(expanded: list[tuple[str, list[str]]]) -> str | None:
    """AND across query words, OR across each word's spellings. Vocabulary words are [a-z0-9] only."""
    if not expanded or any(not words for _, words in expanded):
        return None
    return " & ".join("(" + " | ".join(words) + ")" for _, words in expanded)


class Where(msgspec.Struct):
    sql: str
    args: list


def build_where(
    *,
    statuses: Sequence[str],
    pathway: Sequence[str] = (),
    area: Sequence[str] = (),
    cohort: Sequence[str] = (),
    sector: Sequence[str] = (),
    legal_form: Sequence[str] = (),
    accreditation: Sequence[str] = (),
    min_capacity: int | None = None,
    tsquery: str | None = None,
) -> Where:
    """Conditions for the filters given, each a fixed fragment with a $n parameter.

    Within one filter the values are alternatives (any of these pathways), except accreditations,
    which are all required; different filters all apply.
    """
    parts: list[str] = []
    args: list = []

    def add(fragment: str, value: object) -> None:
        args.append(value)
        parts.append(fragment.replace("$?", f"${len(args)}"))

    add("p.status = any($?::text[])", list(statuses))
    if pathway:
        add("p.pathway_codes && $?::text[]", list(pathway))
    if area:
        add("p.area_match_codes && $?::text[]", list(area))
    if cohort:
        add("p.cohort_codes && $?::text[]", list(cohort))
    if sector:
        add("p.sector = any($?::text[])", list(sector))
    if legal_form:
        add("p.legal_form = any($?::text[])", list(legal_form))
    if accreditation:
        add("p.accreditation_codes @> $?::text[]", list(accreditation))
    if min_capacity is not None:
        add("p.capacity_per_year >= $?", min_capacity)
    if tsquery is not None:
        add("p.search_doc @@ to_tsquery('simple', $?)", tsquery)
    return Where(" and ".join(parts), args)


async def search_page(
    conn: asyncpg.Connection, where: Where, *, tsquery: str | None, limit: int, offset: int
) -> tuple[int, list[ProviderSummary]]:
    n = len(where.args)
    if tsquery is not None:
        relevance = f"ts_rank_cd(p.search_doc, to_tsquery('simple', ${n + 1}))::float8"
        order = "relevance desc, p.name, p.id"
        args = [*where.args, tsquery]
    else:
        relevance, order, args = "null::float8", "p.name, p.id", list(where.args)
    sql = f"""
        select p.id, p.name, p.legal_form, p.sector, p.status, p.pathway_codes, p.cohort_codes,
               p.accreditation_codes, p.capacity_per_year, p.is_sample,
               (select coalesce(array_agg(c.area_code order by c.area_code), '{{}}')
                  from provider_coverage c where c.provider_id = p.id) as coverage,
               coalesce(p.last_confirmed_at, p.created_at) < now() - interval '12 months' as stale,
               {relevance} as relevance, count(*) over () as total
        from provider p
        where {where.sql}
        order by {order}
        limit ${len(args) + 1} offset ${len(args) + 2}
    """  # noqa: S608 - fixed fragments; every value is a $n parameter
    rows = await conn.fetch(sql, *args, limit, offset)
    total = rows[0]["total"] if rows else 0
    if not rows and offset > 0:
        total = await conn.fetchval(f"select count(*) from provider p where {where.sql}", *where.args)  # noqa: S608
    items = [
        ProviderSummary(
            id=r["id"],
            name=r["name"],
            legal_form=r["legal_form"],
            sector=r["sector"],
            status=r["status"],
            pathways=list(r["pathway_codes"]),
            coverage=list(r["coverage"]),
            cohorts=list(r["cohort_codes"]),
            accreditations=list(r["accreditation_codes"]),
            capacity=r["capacity_per_year"],
            is_sample=r["is_sample"],
            stale=r["stale"],
            relevance=None if r["relevance"] is None else round(r["relevance"], 6),
        )
        for r in rows
    ]
    return total, items


async def facet_counts(conn: asyncpg.Connection, where: Where) -> dict[str, dict[str, int]]:
    sql = f"""
        with m as materialized (
            select p.pathway_codes, p.area_match_codes, p.sector from provider p where {where.sql}
        )
        select 'pathway' as facet, c as code, count(*)::int as n from m, unnest(m.pathway_codes) c group by c
        union all
        select 'area', c, count(*)::int from m, unnest(m.area_match_codes) c group by c
        union all
        select 'sector', m.sector, count(*)::int from m group by m.sector
    """  # noqa: S608
    out: dict[str, dict[str, int]] = {"pathway": {}, "area": {}, "sector": {}}
    for r in await conn.fetch(sql, *where.args):
        out[r["facet"]][r["code"]] = r["n"]
    return out


# --- changes ------------------------------------------------------------------------------------

PART_OF_FIELD = {
    "identifiers": "identifiers",
    "expertise": "expertise",
    "coverage": "coverage",
    "resources.premises": "premises",
    "accreditations": "accreditations",
    "social_value": "social_value",
}


async def lock_provider(conn: asyncpg.Connection, provider_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select id, version, status, verified_at, last_confirmed_at from provider where id = $1 for update", provider_id
    )


async def update_provider_row(conn: asyncpg.Connection, provider_id: int, p: ProviderProfile) -> int:
    """Write the provider's own columns and bump its version; returns the new version."""
    return await conn.fetchval(
        """
        update provider set name = $2, legal_form = $3, description = $4, website = $5, founded_year = $6,
            contact_name = $7, contact_email = $8, contact_phone = $9, volunteers = $10, match_funding_per_year = $11,
            other_funding_sources = $12, partner_organisations = $13, capacity_per_year = $14, annual_income = $15,
            reserves_months = $16, version = version + 1, updated_at = greatest(now(), created_at)
        where id = $1 returning version
        """,
        provider_id,
        *_own_columns(p),
    )


async def set_status(conn: asyncpg.Connection, provider_id: int, status: str) -> None:
    await conn.execute("update provider set status = $2 where id = $1", provider_id, status)


async def set_verified(conn: asyncpg.Connection, provider_id: int) -> dt.datetime:
    return await conn.fetchval("update provider set verified_at = now() where id = $1 returning verified_at", provider_id)


async def set_confirmed(conn: asyncpg.Connection, provider_id: int) -> dt.datetime:
    return await conn.fetchval("update provider set last_confirmed_at = now() where id = $1 returning last_confirmed_at", provider_id)


async def identifiers_taken(conn: asyncpg.Connection, identifiers: Sequence[str], provider_id: int | None) -> list[str]:
    rows = await conn.fetch(
        "select identifier from provider_identifier where identifier = any($1::text[]) and provider_id is distinct from $2",
        list(identifiers), provider_id,
    )
    return [r["identifier"] for r in rows]
