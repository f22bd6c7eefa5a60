"""SQL for exercises, needs, candidates for matching, and stored runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

import matching
from marketplace.exercises.models import (
    Exercise,
    ExerciseIn,
    MatchRun,
    MatchRunBody,
    Need,
    NeedIn,
    PartnershipRun,
    PartnershipRunBody,
    ProviderFacts,
)

EXERCISE_SQL = """
select json_build_object(
    'id', x.id, 'title', x.title, 'commissioning_body', x.commissioning_body, 'description', x.description,
    'status', x.status, 'opens_on', x.opens_on, 'closes_on', x.closes_on, 'default_weights', x.default_weights,
    'is_sample', x.is_sample, 'version', x.version, 'created_at', x.created_at, 'updated_at', x.updated_at,
    'needs', '[]'::json)::text
from exercise x where x.id = $1
"""

NEED_JSON = """
json_build_object(
    'id', n.id, 'exercise_id', n.exercise_id, 'title', n.title, 'pathway', n.pathway_code,
    'areas', coalesce((select json_agg(a.area_code order by a.area_code) from need_area a where a.need_id = n.id), '[]'),
    'annual_volume', n.annual_volume, 'annual_budget', n.annual_budget,
    'cohorts', coalesce((select json_agg(c.cohort_code order by c.cohort_code) from need_cohort c where c.need_id = n.id), '[]'),
    'contract_years', n.contract_years::float8,
    'required_accreditations', coalesce((select json_agg(r.accreditation_code order by r.accreditation_code)
                                         from need_accreditation r where r.need_id = n.id), '[]'),
    'min_years_experience', n.min_years_experience, 'local_priorities', n.local_priorities,
    'sector_preference', n.sector_preference, 'weight_overrides', n.weight_overrides,
    'version', n.version, 'created_at', n.created_at, 'updated_at', n.updated_at)
"""

_exercise = msgspec.json.Decoder(Exercise)
_need = msgspec.json.Decoder(Need)
_needs = msgspec.json.Decoder(list[Need])
_candidates = msgspec.json.Decoder(list[matching.Candidate])


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def fetch_exercise(conn: asyncpg.Connection, exercise_id: int, *, with_needs: bool = True) -> Exercise | None:
    doc = await conn.fetchval(EXERCISE_SQL, exercise_id)
    if doc is None:
        return None
    exercise = _exercise.decode(doc)
    if with_needs:
        exercise.needs = await fetch_needs(conn, exercise_id)
    return exercise


async def list_exercises(conn: asyncpg.Connection, *, limit: int, offset: int) -> tuple[int, list[Exercise]]:
    total = await conn.fetchval("select count(*) from exercise")
    ids = [r["id"] for r in await conn.fetch("select id from exercise order by id desc limit $1 offset $2", limit, offset)]
    return total, [e for i in ids if (e := await fetch_exercise(conn, i, with_needs=False)) is not None]


async def insert_exercise(conn: asyncpg.Connection, x: ExerciseIn, *, created_by: int | None, is_sample: bool = False) -> int:
    return await conn.fetchval(
        """insert into exercise (title, commissioning_body, description, status, opens_on, closes_on, default_weights,
                                 is_sample, created_by)
           values ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9) returning id""",
        x.title.strip(), x.commissioning_body.strip(), x.description, x.status, x.opens_on, x.closes_on,
        _json(x.default_weights), is_sample, created_by,
    )


async def lock_exercise(conn: asyncpg.Connection, exercise_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("select id, version from exercise where id = $1 for update", exercise_id)


async def update_exercise(conn: asyncpg.Connection, exercise_id: int, x: ExerciseIn) -> None:
    await conn.execute(
        """update exercise set title = $2, commissioning_body = $3, description = $4, status = $5, opens_on = $6,
               closes_on = $7, default_weights = $8::text::jsonb, version = version + 1, updated_at = now()
           where id = $1""",
        exercise_id, x.title.strip(), x.commissioning_body.strip(), x.description, x.status, x.opens_on, x.closes_on,
        _json(x.default_weights),
    )


async def fetch_needs(conn: asyncpg.Connection, exercise_id: int) -> list[Need]:
    doc = await conn.fetchval(
        f"select coalesce(json_agg({NEED_JSON} order by n.position, n.id), '[]')::text from need n where n.exercise_id = $1",
        exercise_id,
    )
    return _needs.decode(doc)


async def fetch_need(conn: asyncpg.Connection, need_id: int) -> Need | None:
    doc = await conn.fetchval(f"select {NEED_JSON}::text from need n where n.id = $1", need_id)
    return None if doc is None else _need.decode(doc)


async def lock_need(conn: asyncpg.Connection, need_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("select id, exercise_id, version from need where id = $1 for update", need_id)


async def insert_need(conn: asyncpg.Connection, exercise_id: int, n: NeedIn) -> int:
    need_id = await conn.fetchval(
        """insert into need (exercise_id, title, pathway_code, annual_volume, annual_budget, contract_years,
                             min_years_experience, local_priorities, sector_preference, weight_overrides, position)
           values ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9::text::jsonb, $10::text::jsonb,
                   (select count(*) from need where exercise_id = $1)) returning id""",
        exercise_id, n.title.strip(), n.pathway, n.annual_volume, n.annual_budget, n.contract_years,
        n.min_years_experience, _json(n.local_priorities), _json(n.sector_preference),
        None if n.weight_overrides is None else _json(n.weight_overrides),
    )
    await _write_need_parts(conn, need_id, n)
    return need_id


async def update_need(conn: asyncpg.Connection, need_id: int, n: NeedIn) -> None:
    await conn.execute(
        """update need set title = $2, pathway_code = $3, annual_volume = $4, annual_budget = $5, contract_years = $6,
               min_years_experience = $7, local_priorities = $8::text::jsonb, sector_preference = $9::text::jsonb,
               weight_overrides = $10::text::jsonb, version = version + 1, updated_at = now()
           where id = $1""",
        need_id, n.title.strip(), n.pathway, n.annual_volume, n.annual_budget, n.contract_years, n.min_years_experience,
        _json(n.local_priorities), _json(n.sector_preference), None if n.weight_overrides is None else _json(n.weight_overrides),
    )
    for table in ("need_cohort", "need_area", "need_accreditation"):
        await conn.execute(f"delete from {table} where need_id = $1", need_id)  # noqa: S608 - fixed names
    await _write_need_parts(conn, need_id, n)


async def _write_need_parts(conn: asyncpg.Connection, need_id: int, n: NeedIn) -> None:
    await conn.executemany("insert into need_cohort (need_id, cohort_code) values ($1, $2)",
                           [(need_id, c) for c in dict.fromkeys(n.cohorts)])
    await conn.executemany("insert into need_area (need_id, area_code) values ($1, $2)",
                           [(need_id, a) for a in dict.fromkeys(n.areas)])
    await conn.executemany("insert into need_accreditation (need_id, accreditation_code) values ($1, $2)",
                           [(need_id, a) for a in dict.fromkeys(n.required_accreditations)])


async def delete_need(conn: asyncpg.Connection, need_id: int) -> bool:
    """Needs with stored runs are evidence and stay; returns False for those."""
    if await conn.fetchval("select exists(select 1 from match_run where need_id = $1)", need_id):
        return False
    await conn.execute("delete from need where id = $1", need_id)
    return True


# --- candidates ---------------------------------------------------------------------------------

# Published providers that offer the pathway somewhere related to the need's areas (an area of the need,
# one above it, or one below it), as the matching core's Candidate, in one round trip.
CANDIDATE_DOC = """json_build_object(
    'provider_id', p.id, 'name', p.name, 'sector', p.sector, 'legal_form', p.legal_form,
    'founded_year', p.founded_year,
    'expertise', coalesce((select json_agg(json_build_object(
            'pathway', e.pathway_code,
            'cohorts', coalesce((select json_agg(ec.cohort_code order by ec.cohort_code) from provider_expertise_cohort ec
                                 where ec.provider_id = e.provider_id and ec.pathway_code = e.pathway_code), '[]'),
            'years_experience', e.years_experience, 'description', e.description,
            'outcomes_evidence', e.outcomes_evidence) order by e.position)
        from provider_expertise e where e.provider_id = p.id), '[]'),
    'coverage', coalesce((select json_agg(c.area_code order by c.area_code) from provider_coverage c where c.provider_id = p.id), '[]'),
    'capacity', p.capacity_per_year, 'annual_income', p.annual_income, 'reserves_months', p.reserves_months::float8,
    'accreditations', p.accreditation_codes, 'volunteers', p.volunteers,
    'premises_areas', coalesce((select json_agg(pm.area_code order by pm.id) from provider_premises pm where pm.provider_id = p.id), '[]'),
    'match_funding_per_year', p.match_funding_per_year, 'funding_sources', p.other_funding_sources,
    'partner_organisations', p.partner_organisations,
    'social_value', coalesce((select json_agg(s.commitment_code order by s.commitment_code) from provider_social_value s where s.provider_id = p.id), '[]'),
    'resources_text', concat_ws('. ', nullif(p.description, ''),
                                (select string_agg(pm.description, '. ' order by pm.id) from provider_premises pm where pm.provider_id = p.id),
                                nullif(array_to_string(p.partner_organisations, ', '), '')),
    'last_confirmed', coalesce(p.last_confirmed_at, p.created_at)::date)"""

CANDIDATES_SQL = f"""
select coalesce(json_agg({CANDIDATE_DOC} order by p.id), '[]')::text
from provider p
where p.status = 'published' and p.pathway_codes @> array[$1::text] and p.area_match_codes && $2::text[]
"""

PREFILTER_COUNTS_SQL = """
select count(*) as directory,
       count(*) filter (where not p.pathway_codes @> array[$1::text]) as pathway_not_offered,
       count(*) filter (where not p.area_match_codes && $2::text[]) as no_area_coverage
from provider p where p.status = 'published'
"""


async def fetch_candidates(conn: asyncpg.Connection, pathway: str, areas: Sequence[str]) -> list[matching.Candidate]:
    return _candidates.decode(await conn.fetchval(CANDIDATES_SQL, pathway, list(areas)))


async def prefilter_counts(conn: asyncpg.Connection, pathway: str, areas: Sequence[str]) -> asyncpg.Record:
    return await conn.fetchrow(PREFILTER_COUNTS_SQL, pathway, list(areas))


# --- stored runs ----------------------------------------------------------------------------------

async def insert_match_run(conn: asyncpg.Connection, *, need_id: int, exercise_id: int, created_by: int | None,
                           algorithm_version: str, candidate_count: int, document: bytes) -> asyncpg.Record:
    return await conn.fetchrow(
        """insert into match_run (need_id, exercise_id, created_by, algorithm_version, candidate_count, document)
           values ($1, $2, $3, $4, $5, $6::text::jsonb) returning id, created_at""",
        need_id, exercise_id, created_by, algorithm_version, candidate_count, document.decode(),
    )


async def fetch_match_run(conn: asyncpg.Connection, run_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select id, need_id, exercise_id, created_at, created_by, document::text as document from match_run where id = $1",
        run_id,
    )


async def list_match_runs(conn: asyncpg.Connection, need_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """select id, need_id, exercise_id, created_at, algorithm_version, candidate_count
           from match_run where need_id = $1 order by id desc""", need_id)


async def latest_match_runs_full(conn: asyncpg.Connection, exercise_id: int) -> list[asyncpg.Record]:
    """The newest run of each need of an exercise (for reports), as stored."""
    return await conn.fetch(
        """select distinct on (r.need_id) r.id, r.need_id, r.exercise_id, r.created_at, r.created_by,
                  r.document::text as document
           from match_run r where r.exercise_id = $1 order by r.need_id, r.id desc""", exercise_id)


async def insert_partnership_run(conn: asyncpg.Connection, *, exercise_id: int, created_by: int | None,
                                 algorithm_version: str, match_run_ids: list[int], document: bytes) -> asyncpg.Record:
    return await conn.fetchrow(
        """insert into partnership_run (exercise_id, created_by, algorithm_version, match_run_ids, document)
           values ($1, $2, $3, $4, $5::text::jsonb) returning id, created_at""",
        exercise_id, created_by, algorithm_version, match_run_ids, document.decode(),
    )


async def fetch_partnership_run(conn: asyncpg.Connection, run_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """select id, exercise_id, created_at, created_by, match_run_ids, document::text as document
           from partnership_run where id = $1""", run_id)


# --- runs: the SQL pre-filter, the pure core, the stored document ----------------------------------

METHOD = (
    "Published providers offering the need's pathway in, above or below its areas were assessed by the matching "
    "core; the rest are counted as excluded for not offering the pathway or not covering an area. Assessed providers "
    "failing a hard requirement (required accreditations, minimum years of experience) are excluded with reasons; "
    "the others are scored 0-1 on each criterion and ranked by the weighted total (weights normalised to sum to 1)."
)


def area_tree(taxonomy: Any) -> matching.AreaTree:
    return matching.AreaTree({a.code: a.parent for a in taxonomy.areas}, names={a.code: a.name for a in taxonomy.areas})


def core_need(need: Need, weights: matching.Weights) -> matching.Need:
    overrides = None
    if need.weight_overrides is not None:
        overrides = matching.Weights.from_mapping(need.weight_overrides.given(), base=weights).as_dict()
    return matching.Need(
        id=need.id,
        pathway=need.pathway,
        areas=tuple(need.areas),
        annual_volume=need.annual_volume,
        annual_budget=need.annual_budget,
        cohorts=tuple(need.cohorts),
        contract_years=need.contract_years,
        required_accreditations=tuple(need.required_accreditations),
        min_years_experience=need.min_years_experience,
        local_priorities=tuple(matching.Priority(p.text, p.weight) for p in need.local_priorities),
        sector_preference=msgspec.structs.asdict(need.sector_preference),
        weight_overrides=overrides,
    )


async def run_match(conn: asyncpg.Connection, need: Need, weights: matching.Weights, *, taxonomy: Any, as_of: Any,
                    created_by: int | None, store_limit: int, excluded_limit: int) -> MatchRun:
    """Rank the current directory for a need and store the run (inside the caller's transaction)."""
    counts = await prefilter_counts(conn, need.pathway, need.areas)
    candidates = await fetch_candidates(conn, need.pathway, need.areas)
    ranking = matching.rank(core_need(need, weights), candidates, weights, areas=area_tree(taxonomy), as_of=as_of,
                            limit=store_limit, excluded_limit=excluded_limit)
    by_id = {c.provider_id: c for c in candidates}
    facts = [
        ProviderFacts(
            provider_id=c.provider_id, name=c.name, sector=c.sector, legal_form=c.legal_form, capacity=c.capacity,
            annual_income=c.annual_income, match_funding_per_year=c.match_funding_per_year, volunteers=c.volunteers,
            premises_areas=list(c.premises_areas), last_confirmed=c.last_confirmed,
        )
        for c in (by_id[s.provider_id] for s in ranking.scored)
    ]
    by_reason = dict(ranking.excluded_by_reason)
    for reason in ("pathway_not_offered", "no_area_coverage"):
        by_reason[reason] = by_reason.get(reason, 0) + counts[reason]
    body = MatchRunBody(
        algorithm_version=ranking.algorithm_version,
        as_of=as_of,
        need=need,
        weights=ranking.weights.as_dict(),
        directory_size=counts["directory"],
        candidate_count=ranking.candidate_count,
        eligible_count=ranking.eligible_count,
        excluded_count=counts["directory"] - ranking.eligible_count,
        excluded_by_reason={k: v for k, v in sorted(by_reason.items()) if v},
        ranking=list(ranking.scored),
        excluded=list(ranking.excluded),
        method=METHOD,
        providers=facts,
    )
    row = await insert_match_run(conn, need_id=need.id, exercise_id=need.exercise_id, created_by=created_by,
                                 algorithm_version=ranking.algorithm_version, candidate_count=ranking.candidate_count,
                                 document=msgspec.json.encode(body))
    return MatchRun(**msgspec.structs.asdict(body), id=row["id"], need_id=need.id, exercise_id=need.exercise_id,
                    created_at=row["created_at"], created_by=created_by)


_run_body = msgspec.json.Decoder(MatchRunBody)
_partnership_body = msgspec.json.Decoder(PartnershipRunBody)


def match_run_of(row: asyncpg.Record) -> MatchRun:
    body = _run_body.decode(row["document"])
    return MatchRun(**msgspec.structs.asdict(body), id=row["id"], need_id=row["need_id"], exercise_id=row["exercise_id"],
                    created_at=row["created_at"], created_by=row["created_by"])


def partnership_run_of(row: asyncpg.Record) -> PartnershipRun:
    body = _partnership_body.decode(row["document"])
    return PartnershipRun(**msgspec.structs.asdict(body), id=row["id"], exercise_id=row["exercise_id"],
                          created_at=row["created_at"], created_by=row["created_by"])


async def run_partnerships(conn: asyncpg.Connection, exercise: Exercise, weights: matching.Weights, *, taxonomy: Any,
                           as_of: Any, created_by: int | None, store_limit: int, excluded_limit: int) -> PartnershipRun:
    """Match every need afresh (each run stored), then propose lead + partner combinations from those runs."""
    runs = [await run_match(conn, need, weights, taxonomy=taxonomy, as_of=as_of, created_by=created_by,
                            store_limit=store_limit, excluded_limit=excluded_limit) for need in exercise.needs]
    return await store_partnerships(conn, exercise, runs, weights, taxonomy=taxonomy, as_of=as_of, created_by=created_by)


async def store_partnerships(conn: asyncpg.Connection, exercise: Exercise, runs: list[MatchRun], weights: matching.Weights,
                             *, taxonomy: Any, as_of: Any, created_by: int | None) -> PartnershipRun:
    """Propose lead + partner combinations from a stored run of each need, and store the proposal."""
    offers = [
        matching.Offer(provider_id=s.provider_id, name=s.name, need_id=run.need_id, score=s.total, areas=s.covered_areas)
        for run in runs for s in run.ranking
    ]
    plan = matching.propose_partnerships([core_need(n, weights) for n in exercise.needs], offers,
                                         areas=area_tree(taxonomy), max_options=3)
    body = PartnershipRunBody(algorithm_version=matching.ALGORITHM_VERSION, as_of=as_of,
                              match_run_ids=[r.id for r in runs], plan=plan)
    row = await insert_partnership_run(conn, exercise_id=exercise.id, created_by=created_by,
                                       algorithm_version=matching.ALGORITHM_VERSION,
                                       match_run_ids=body.match_run_ids, document=msgspec.json.encode(body))
    return PartnershipRun(**msgspec.structs.asdict(body), id=row["id"], exercise_id=exercise.id,
                          created_at=row["created_at"], created_by=created_by)
