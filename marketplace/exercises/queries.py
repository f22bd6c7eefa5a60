"""SQL for exercises, needs, candidates for matching, and stored runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import asyncpg
import msgspec
import zstandard

from marketplace.changes import written_since
from marketplace.db import Connection, one
from marketplace.exercises.models import (
    Exercise,
    ExerciseIn,
    MatchRun,
    MatchRunBody,
    Need,
    NeedIn,
    PartnershipRun,
    PartnershipRunBody,
    ReportRun,
    RunStored,
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
    'areas', coalesce((select json_agg(a.area_code order by a.area_code)
                       from need_area a where a.need_id = n.id), '[]'),
    'annual_volume', n.annual_volume, 'annual_budget', n.annual_budget,
    'cohorts', coalesce((select json_agg(c.cohort_code order by c.cohort_code)
                         from need_cohort c where c.need_id = n.id), '[]'),
    'contract_years', n.contract_years::float8,
    'required_accreditations', coalesce((select json_agg(r.accreditation_code order by r.accreditation_code)
                                         from need_accreditation r where r.need_id = n.id), '[]'),
    'min_years_experience', n.min_years_experience, 'local_priorities', n.local_priorities,
    'sector_preference', n.sector_preference, 'weight_overrides', n.weight_overrides,
    'eligibility', n.eligibility, 'desired_outcomes', to_json(n.desired_outcomes),
    'version', n.version, 'created_at', n.created_at, 'updated_at', n.updated_at,
    'area_volumes', (select json_object_agg(v.area_code, v.volume order by v.area_code)
                     from need_area_volume v where v.need_id = n.id))
"""

_exercise = msgspec.json.Decoder(Exercise)
_need = msgspec.json.Decoder(Need)
_needs = msgspec.json.Decoder(list[Need])


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def fetch_exercise(conn: Connection, exercise_id: int, *, with_needs: bool = True) -> Exercise | None:
    doc = await conn.fetchval(EXERCISE_SQL, exercise_id)
    if doc is None:
        return None
    exercise = _exercise.decode(doc)
    if with_needs:
        exercise.needs = await fetch_needs(conn, exercise_id)
    return exercise


async def any_exercise(conn: Connection) -> bool:
    found: bool = await conn.fetchval("select exists(select 1 from exercise)")
    return found


async def list_exercises(conn: Connection, *, limit: int, offset: int) -> tuple[int, list[Exercise]]:
    total = await conn.fetchval("select count(*) from exercise")
    ids = [
        r["id"] for r in await conn.fetch("select id from exercise order by id desc limit $1 offset $2", limit, offset)
    ]
    return total, [e for i in ids if (e := await fetch_exercise(conn, i, with_needs=False)) is not None]


def exercise_columns(x: ExerciseIn) -> tuple[Any, ...]:
    """The exercise row's own columns, in the order insert_exercise ($1 to $7) and update_exercise ($2 to $8) write
    them: two exercises with equal columns write the same row."""
    return (
        x.title.strip(),
        x.commissioning_body.strip(),
        x.description,
        x.status,
        x.opens_on,
        x.closes_on,
        _json(x.default_weights),
    )


async def insert_exercise(
    conn: Connection, x: ExerciseIn, *, created_by: int | None, at: dt.datetime, is_sample: bool = False
) -> int:
    """A new exercise, made `at` (the app's clock)."""
    exercise_id: int = await conn.fetchval(
        """insert into exercise (title, commissioning_body, description, status, opens_on, closes_on, default_weights,
                                 is_sample, created_by, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9, $10, $10) returning id""",
        *exercise_columns(x),
        is_sample,
        created_by,
        at,
    )
    return exercise_id


async def lock_exercise(conn: Connection, exercise_id: int, *, key: bool = True) -> asyncpg.Record | None:
    """Lock the exercise for update (`key=False`: FOR NO KEY UPDATE, which rows referring to it do not wait for)."""
    strength = "update" if key else "no key update"
    return await conn.fetchrow(f"select id, version from exercise where id = $1 for {strength}", exercise_id)


async def update_exercise(
    conn: Connection, exercise_id: int, x: ExerciseIn, *, at: dt.datetime, notice_revised: bool = False
) -> None:
    """The exercise's columns as `x` says, changed `at` (the app's clock); `notice_revised`: what its published
    notice shows changed too (its `notice_revised_at` becomes `at`)."""
    await conn.execute(
        """update exercise set title = $2, commissioning_body = $3, description = $4, status = $5, opens_on = $6,
               closes_on = $7, default_weights = $8::text::jsonb, version = version + 1, updated_at = $9,
               notice_revised_at = case when $10 then $9 else notice_revised_at end
           where id = $1""",
        exercise_id,
        *exercise_columns(x),
        at,
        notice_revised,
    )


async def notice_revised_at(conn: Connection, exercise_id: int) -> dt.datetime | None:
    """When what the exercise's published notice shows last changed after publishing, if it has."""
    revised: dt.datetime | None = await conn.fetchval(
        "select notice_revised_at from exercise where id = $1", exercise_id
    )
    return revised


async def fetch_needs(conn: Connection, exercise_id: int) -> list[Need]:
    doc = await conn.fetchval(
        f"select coalesce(json_agg({NEED_JSON} order by n.position, n.id), '[]')::text "
        "from need n where n.exercise_id = $1",
        exercise_id,
    )
    return _needs.decode(doc)


async def fetch_need(conn: Connection, need_id: int) -> Need | None:
    doc = await conn.fetchval(f"select {NEED_JSON}::text from need n where n.id = $1", need_id)
    return None if doc is None else _need.decode(doc)


async def published_on(conn: Connection, exercise_id: int) -> dt.datetime | None:
    """When the exercise was published for market engagement (its public notice), if it was."""
    published: dt.datetime | None = await conn.fetchval(
        "select published_at from engagement where exercise_id = $1", exercise_id
    )
    return published


async def lock_need(conn: Connection, need_id: int) -> asyncpg.Record | None:
    """Lock the need for a change, after its exercise for share: publishing locks the exercise for update before it
    reads the needs its notice shows, so a need changed, or removed, while its exercise is published either commits
    first (and is in the notice) or waits and is then told the exercise is published. The exercise first, as
    everything that locks both does (no deadlock)."""
    exercise_id = await conn.fetchval("select exercise_id from need where id = $1", need_id)
    if exercise_id is None:
        return None
    await conn.execute("select from exercise where id = $1 for share", exercise_id)
    return await conn.fetchrow("select id, exercise_id, version from need where id = $1 for update", need_id)


def _need_columns(n: NeedIn) -> tuple[Any, ...]:
    """The need row's own columns, in the order insert_need and update_need write them ($2 to $12)."""
    overrides = None if n.weight_overrides is None else _json(n.weight_overrides)
    return (
        n.title.strip(),
        n.pathway,
        n.annual_volume,
        n.annual_budget,
        n.contract_years,
        n.min_years_experience,
        _json(n.local_priorities),
        _json(n.sector_preference),
        overrides,
        _json(n.eligibility),
        list(dict.fromkeys(n.desired_outcomes)),
    )


def need_as_written(n: NeedIn) -> tuple[Any, ...]:
    """What the need's row and its parts would hold (the parts are read back in code order): two that are equal
    write the same."""
    return (
        *_need_columns(n),
        *(sorted(set(codes)) for codes in (n.cohorts, n.areas, n.required_accreditations)),
        sorted(n.area_volumes.items()) if n.area_volumes is not None else None,
    )


async def count_needs(conn: Connection, exercise_id: int) -> int:
    n: int = await conn.fetchval("select count(*) from need where exercise_id = $1", exercise_id)
    return n


async def insert_need(conn: Connection, exercise_id: int, n: NeedIn, *, at: dt.datetime) -> int:
    """A new need of the exercise, made `at` (the app's clock)."""
    need_id: int = await conn.fetchval(
        """insert into need (exercise_id, title, pathway_code, annual_volume, annual_budget, contract_years,
                             min_years_experience, local_priorities, sector_preference, weight_overrides,
                             eligibility, desired_outcomes, position, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9::text::jsonb, $10::text::jsonb, $11::text::jsonb,
                   $12, (select count(*) from need where exercise_id = $1), $13, $13) returning id""",
        exercise_id,
        *_need_columns(n),
        at,
    )
    await _write_need_parts(conn, need_id, n)
    return need_id


async def update_need(conn: Connection, need_id: int, n: NeedIn, *, at: dt.datetime) -> None:
    """The need as `n` says, changed `at` (the app's clock)."""
    await conn.execute(
        """update need set title = $2, pathway_code = $3, annual_volume = $4, annual_budget = $5, contract_years = $6,
               min_years_experience = $7, local_priorities = $8::text::jsonb, sector_preference = $9::text::jsonb,
               weight_overrides = $10::text::jsonb, eligibility = $11::text::jsonb, desired_outcomes = $12,
               version = version + 1, updated_at = $13
           where id = $1""",
        need_id,
        *_need_columns(n),
        at,
    )
    await _write_need_parts(conn, need_id, n)


async def _write_need_parts(conn: Connection, need_id: int, n: NeedIn) -> None:
    """The need's cohorts, areas, accreditations and area volumes as `n` says: those it no longer has removed, those
    it had not added (a volume changed, changed), the others left as they are (so the change history records what
    changed, not every part rewritten)."""
    for table, column, codes in (
        ("need_cohort", "cohort_code", n.cohorts),
        ("need_area", "area_code", n.areas),
        ("need_accreditation", "accreditation_code", n.required_accreditations),
    ):
        await conn.execute(
            f"""with gone as (delete from {table} where need_id = $1 and {column} <> all($2::text[]))
                insert into {table} (need_id, {column}) select $1, c from unnest($2::text[]) c
                on conflict do nothing""",
            need_id,
            list(dict.fromkeys(codes)),
        )
    volumes = n.area_volumes or {}
    await conn.execute(
        """with gone as (delete from need_area_volume where need_id = $1 and area_code <> all($2::text[]))
           insert into need_area_volume (need_id, area_code, volume)
           select $1, a, v from unnest($2::text[], $3::int[]) as t(a, v)
           on conflict (need_id, area_code) do update set volume = excluded.volume
           where need_area_volume.volume <> excluded.volume""",
        need_id,
        list(volumes),
        list(volumes.values()),
    )


async def appraisals_naming_need(conn: Connection, need_id: int) -> list[int]:
    """The options appraisals (decided or not) one of whose options names the need in its `need_ids`."""
    return [
        r["id"]
        for r in await conn.fetch(
            """select distinct a.id from appraisal a cross join lateral jsonb_array_elements(a.options) o
               where o -> 'need_ids' @> jsonb_build_array($1::bigint) order by a.id""",
            need_id,
        )
    ]


async def delete_need(conn: Connection, need_id: int) -> bool:
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
    'services', coalesce((select json_agg(json_build_object(
            'service_id', s.id, 'name', s.name, 'pathway', s.pathway_code, 'cohorts', s.cohort_codes,
            'areas', s.area_codes, 'capacity', s.capacity_per_year,
            'min_age', s.min_age, 'max_age', s.max_age, 'gender', s.gender,
            'years_experience', s.years_delivering, 'description', s.description,
            'outcomes', coalesce((select json_agg(json_build_object(
                    'outcome', o.outcome, 'measure', o.measure, 'value', o.value::float8, 'period', o.period,
                    'people', o.people, 'source', o.source, 'note', o.note,
                    'desired_outcomes', o.desired_outcomes,
                    'verified', exists(select from evidence_verification v
                                       where v.service_id = s.id
                                         and v.outcome_fingerprint = outcome_fingerprint(o)))
                    order by o.position, o.id)
                from service_outcome o where o.service_id = s.id), '[]'),
            'accreditations', s.accreditation_codes,
            'verified_accreditations', coalesce((select json_agg(v.accreditation_code order by v.accreditation_code)
                                                 from evidence_verification v
                                                 where v.service_id = s.id
                                                   and v.accreditation_code = any(s.accreditation_codes)), '[]'),
            'delivery_modes', s.delivery_modes,
            'complexity_levels', s.complexity_levels, 'cost_amount', s.cost_amount::float8, 'cost_unit', s.cost_unit)
            order by s.position, s.id)
        from service s where s.provider_id = p.id and s.status = 'active'), '[]'),
    'annual_income', p.annual_income, 'reserves_months', p.reserves_months::float8,
    'accreditations', coalesce((select json_agg(pa.accreditation_code order by pa.accreditation_code)
                                from provider_accreditation pa where pa.provider_id = p.id), '[]'),
    'verified_accreditations', coalesce((select json_agg(v.accreditation_code order by v.accreditation_code)
                                         from evidence_verification v
                                         join provider_accreditation pa
                                           on pa.provider_id = p.id and pa.accreditation_code = v.accreditation_code
                                         where v.provider_id = p.id and v.service_id is null), '[]'),
    'volunteers', p.volunteers,
    'premises_areas', coalesce((select json_agg(pm.area_code order by pm.id)
                                from provider_premises pm where pm.provider_id = p.id), '[]'),
    'match_funding_per_year', p.match_funding_per_year, 'funding_sources', p.other_funding_sources,
    'partner_organisations', p.partner_organisations,
    'social_value', coalesce((select json_agg(sv.commitment_code order by sv.commitment_code)
                              from provider_social_value sv where sv.provider_id = p.id), '[]'),
    'resources_text', concat_ws('. ', nullif(p.description, ''),
                                (select string_agg(pm.description, '. ' order by pm.id)
                                 from provider_premises pm where pm.provider_id = p.id),
                                nullif(array_to_string(p.partner_organisations, ', '), '')),
    'last_confirmed', coalesce(p.last_confirmed_at, p.created_at)::date)"""
"""A published provider as the matching core's Candidate: the organisation and its active services."""

# Published providers with ids in ($1, $2], as the core's Candidate (loading a process's matching pool).
CHUNK_SQL = f"""
select coalesce(json_agg({CANDIDATE_DOC} order by p.id), '[]')::text
from provider p where p.status = 'published' and p.id > $1 and p.id <= $2
"""
ID_RANGE_SQL = (
    "select coalesce(min(id), 0) - 1 as lo, coalesce(max(id), 0) as hi from provider where status = 'published'"
)
# The published ones among the providers $1 (the others are unpublished or gone).
BY_IDS_SQL = f"""
select coalesce(json_agg({CANDIDATE_DOC} order by p.id), '[]')::text
from provider p where p.status = 'published' and p.id = any($1::bigint[])
"""


async def published_id_range(conn: Connection) -> tuple[int, int]:
    """(one below the lowest, the highest) id of a published provider."""
    row = await one(conn, ID_RANGE_SQL)
    return row["lo"], row["hi"]


async def candidates_between(conn: Connection, lo: int, hi: int) -> str:
    """Published providers with ids in (lo, hi], as a JSON array of the core's Candidate."""
    doc: str = await conn.fetchval(CHUNK_SQL, lo, hi)
    return doc


# Of the providers $2: the published ones as the core's Candidate, each with the transaction that last wrote it
# (changed_xid), except those kept already as last written by the transaction given (ids $3, transactions $4);
# which of those kept still are, published; and which of $2 were written since the snapshot $1. One statement, so
# all are read under one snapshot.
DETAILS_SQL = f"""
select (select coalesce(json_agg(json_build_object('xid', p.changed_xid::text, 'candidate', {CANDIDATE_DOC})
                                 order by p.id), '[]')::text
        from provider p
        where p.status = 'published' and p.id = any($2::bigint[])
          and not exists (select from unnest($3::bigint[], $4::text[]) k(id, xid)
                          where k.id = p.id and k.xid = p.changed_xid::text)) as doc,
       array(select p.id from provider p join unnest($3::bigint[], $4::text[]) k(id, xid) on k.id = p.id
             where p.status = 'published' and p.changed_xid::text = k.xid) as kept,
       array(select p.id from provider p
             where p.id = any($2::bigint[]) and {written_since("$1", by_id=True)}) as changed
"""


class Details(NamedTuple):
    doc: str
    """The published ones among the providers asked for, not kept as they are now: a JSON array of
    `{"xid": the transaction that last wrote it, "candidate": the core's Candidate}`."""
    kept: list[int]
    """Those kept that are as they were kept (the same last writing transaction), and published."""
    changed: list[int]
    """Those asked for that were written since the snapshot given."""


async def details_since(
    conn: Connection, ids: Sequence[int], snapshot: str, kept: Mapping[int, str] | None = None
) -> Details:
    """The providers `ids` as `Details`, read under one snapshot; `kept`: provider id -> the transaction that last
    wrote it (its changed_xid) when its details were read, for those the caller holds already."""
    held = kept or {}
    row = await one(conn, DETAILS_SQL, snapshot, list(ids), list(held), list(held.values()))
    return Details(row["doc"], list(row["kept"]), list(row["changed"]))


async def candidates_by_id(conn: Connection, ids: Sequence[int]) -> str:
    """The published ones among `ids`, as a JSON array of the core's Candidate."""
    doc: str = await conn.fetchval(BY_IDS_SQL, list(ids)) if ids else "[]"
    return doc


# --- stored runs ----------------------------------------------------------------------------------


INSERT_MATCH_RUN_SQL = """
insert into match_run (need_id, exercise_id, created_by, algorithm_version, candidate_count, document_zstd,
                       inputs_digest, directory_snapshot, created_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id, created_at"""


async def insert_match_run(
    conn: Connection,
    *,
    need_id: int,
    exercise_id: int,
    created_by: int | None,
    algorithm_version: str,
    candidate_count: int,
    compressed: bytes,
    inputs_digest: str,
    directory_snapshot: str,
    at: dt.datetime,
) -> asyncpg.Record:
    """Store a run, its document as `compress_document` made it, made at `at` (the app's clock, as its as-of date)."""
    args = (need_id, exercise_id, created_by, algorithm_version, candidate_count, compressed)
    return await one(conn, INSERT_MATCH_RUN_SQL, *args, inputs_digest, directory_snapshot, at)


# The newest run of need $1 made from the same inputs ($2), if no provider was written since its directory snapshot.
REUSABLE_MATCH_RUN_SQL = f"""
select r.id, r.need_id, r.exercise_id, r.created_at, r.created_by, r.document, r.document_zstd
from (select * from match_run where need_id = $1 and inputs_digest = $2 order by id desc limit 1) r
where not exists (select 1 from provider p where {written_since("r.directory_snapshot")})"""


async def reusable_match_run(conn: Connection, need_id: int, inputs_digest: str) -> asyncpg.Record | None:
    return await conn.fetchrow(REUSABLE_MATCH_RUN_SQL, need_id, inputs_digest)


async def fetch_match_run(conn: Connection, run_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select id, need_id, exercise_id, created_at, created_by, document, document_zstd from match_run where id = $1",
        run_id,
    )


async def list_match_runs(conn: Connection, need_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """select id, need_id, exercise_id, created_at, algorithm_version, candidate_count
           from match_run where need_id = $1 order by id desc""",
        need_id,
    )


# The newest run of one need older than a run id (match_run_need: need_id, id desc), its document as bytes
# (`stored_document`): what a report decodes (msgspec reads bytes faster than text, and asyncpg then makes no Python
# string of it).
RUN_DOCUMENT_BEFORE_SQL = """
select id, need_id, exercise_id, created_at, created_by, convert_to(document, 'UTF8') as document, document_zstd
from match_run where need_id = $1 and id < $2 order by id desc limit 1"""
NEWEST = 2**63 - 1
"""Above every run id (`run_document_before`: the newest run)."""


async def run_document_before(conn: Connection, need_id: int, before: int = NEWEST) -> asyncpg.Record | None:
    """The newest stored run of the need with an id below `before`, its document as bytes (for `report_run_of`);
    None when it has none."""
    return await conn.fetchrow(RUN_DOCUMENT_BEFORE_SQL, need_id, before)


INSERT_PARTNERSHIP_RUN_SQL = """
insert into partnership_run (exercise_id, created_by, algorithm_version, match_run_ids, document, inputs_digest)
values ($1, $2, $3, $4, $5, $6) returning id, created_at"""


async def insert_partnership_run(
    conn: Connection,
    *,
    exercise_id: int,
    created_by: int | None,
    algorithm_version: str,
    match_run_ids: list[int],
    document: bytes,
    inputs_digest: str,
) -> asyncpg.Record:
    args = (exercise_id, created_by, algorithm_version, match_run_ids, document.decode(), inputs_digest)
    return await one(conn, INSERT_PARTNERSHIP_RUN_SQL, *args)


async def reusable_partnership_run(conn: Connection, exercise_id: int, inputs_digest: str) -> asyncpg.Record | None:
    """The newest partnership run of the exercise made from the same match runs (their ids in the digest)."""
    return await conn.fetchrow(
        """select id, exercise_id, created_at, created_by, match_run_ids, document::text as document
           from partnership_run where exercise_id = $1 and inputs_digest = $2 order by id desc limit 1""",
        exercise_id,
        inputs_digest,
    )


async def fetch_partnership_run(conn: Connection, run_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """select id, exercise_id, created_at, created_by, match_run_ids, document::text as document
           from partnership_run where id = $1""",
        run_id,
    )


_run_body = msgspec.json.Decoder(MatchRunBody)
_partnership_body = msgspec.json.Decoder(PartnershipRunBody)


def run_json(document: bytes, stored: RunStored) -> bytes:
    """A run as `MatchRun` encodes (its body's fields, then what storing it added), from the body's own JSON:
    the stored document is not decoded and encoded again (tests: the same bytes as encoding the `MatchRun`)."""
    return document[:-1] + b"," + msgspec.json.encode(stored)[1:]


DOCUMENT_LEVEL = 1
"""Zstandard level of stored match-run documents (schema/0022_run_documents_zstd.sql): measured at 200,000 providers,
a broad need's 416,033-byte document becomes 41,153 bytes in 0.45 ms and comes back in 0.16 ms (higher levels gain a
few per cent for several times the time)."""


def compress_document(document: bytes) -> bytes:
    """A run's document as it is stored (`document_zstd`): one Zstandard frame holding its size."""
    return zstandard.compress(document, DOCUMENT_LEVEL)


def stored_document(row: asyncpg.Record) -> bytes:
    """A stored run's document, the bytes the API encoded: decompressed, or (a run stored before
    schema/0022_run_documents_zstd.sql) its text as UTF-8."""
    compressed = row["document_zstd"]
    if compressed is not None:
        return zstandard.decompress(compressed)
    document = row["document"]
    return document.encode() if isinstance(document, str) else document


def _run_stored(row: asyncpg.Record) -> RunStored:
    return RunStored(row["id"], row["need_id"], row["exercise_id"], row["created_at"], row["created_by"])


S = TypeVar("S", bound=msgspec.Struct)


def _stored(kind: type[S], body: msgspec.Struct, row: asyncpg.Record, columns: tuple[str, ...]) -> S:
    """A stored run as returned: its decoded `body` with the row's own `columns` (its id, who made it, when)."""
    return kind(**msgspec.structs.asdict(body), **{c: row[c] for c in columns})


def match_run_of(row: asyncpg.Record) -> MatchRun:
    """A stored run's row as returned."""
    return _match_run(row, stored_document(row))


def match_run_and_json_of(row: asyncpg.Record) -> tuple[MatchRun, bytes]:
    """`match_run_of` a stored run's row, and its JSON as `run_json` makes it: the document decompressed once."""
    document = stored_document(row)
    return _match_run(row, document), run_json(document, _run_stored(row))


def _match_run(row: asyncpg.Record, document: bytes) -> MatchRun:
    return _stored(MatchRun, _run_body.decode(document), row, RunStored.__struct_fields__)


_report_run = msgspec.json.Decoder(ReportRun)


class _Skipped(msgspec.Struct):
    """Any object, read no further."""


class RunHead(msgspec.Struct):
    """What says whether a report can read a stored run (its weights, how deep it ranked), read without the rest."""

    weights: dict[str, float]
    eligible_count: int
    ranking: list[_Skipped]


_run_head = msgspec.json.Decoder(RunHead)


def run_head_of(row: asyncpg.Record) -> RunHead:
    return _run_head.decode(stored_document(row))


def report_run_of(row: asyncpg.Record) -> ReportRun:
    """A stored run decoded for a report: only the fields reports read (`ReportRun`), the rest skipped."""
    run = _report_run.decode(stored_document(row))
    run.id = row["id"]
    run.need_id = row["need_id"]
    run.exercise_id = row["exercise_id"]
    run.created_at = row["created_at"]
    run.created_by = row["created_by"]
    return run


def partnership_run_of(row: asyncpg.Record) -> PartnershipRun:
    body = _partnership_body.decode(row["document"])
    return _stored(PartnershipRun, body, row, ("id", "exercise_id", "created_at", "created_by"))
