"""SQL for market engagement: publication, questions, response revisions (append-only) and clarifications."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec

from marketplace.db import Connection
from marketplace.engagement.models import (
    Answer,
    Clarification,
    NeedResponse,
    NoticeRevision,
    Publication,
    Question,
    QuestionIn,
    Response,
    ResponseIn,
    ResponseRevision,
)

_body = msgspec.json.Decoder(ResponseIn)
_snapshot = msgspec.json.Decoder(dict[str, Any])


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


# --- publication ------------------------------------------------------------------------------------


async def fetch_publication(conn: Connection, exercise_id: int) -> Publication | None:
    row = await conn.fetchrow(
        "select exercise_id, budget_visibility, published_at, published_by from engagement where exercise_id = $1",
        exercise_id,
    )
    return None if row is None else Publication(**dict(row))


async def insert_publication(
    conn: Connection, exercise_id: int, visibility: str, at: dt.datetime, by: int | None
) -> None:
    await conn.execute(
        "insert into engagement (exercise_id, budget_visibility, published_at, published_by) values ($1, $2, $3, $4)",
        exercise_id,
        visibility,
        at,
        by,
    )


async def published_exercise_ids(conn: Connection) -> list[tuple[int, dt.datetime]]:
    """Every published exercise, newest publication first."""
    rows = await conn.fetch(
        "select exercise_id, published_at from engagement order by published_at desc, exercise_id desc"
    )
    return [(r["exercise_id"], r["published_at"]) for r in rows]


async def notice_revisions(conn: Connection, exercise_id: int) -> list[NoticeRevision]:
    """Each move of a published exercise's closing date, oldest first: when (its `notice_revised_at` as written, by
    the app's clock) and from which date to which. Read from the change history (schema/0027), which records every
    update of an exercise row with the columns it changed, before and after: an update setting `notice_revised_at`
    is a revision of the notice (exercises.service.update_exercise), and its `closes_on` moved with it."""
    rows = await conn.fetch(
        """select (after ->> 'notice_revised_at')::timestamptz as at, (before ->> 'closes_on')::date as before,
                  (after ->> 'closes_on')::date as after
           from change_history
           where record_table = 'exercise' and record_id = $1::bigint::text and table_name = 'exercise'
             and operation = 'update' and after ->> 'notice_revised_at' is not null
             and before ->> 'closes_on' is not null and after ->> 'closes_on' is not null
           order by id""",
        exercise_id,
    )
    return [NoticeRevision(at=r["at"], before=r["before"], after=r["after"]) for r in rows]


# --- questions --------------------------------------------------------------------------------------


QUESTION_COLUMNS = (
    "id, exercise_id, position, kind, text, required, word_limit, choices::text as choices, minimum, maximum, "
    "whole_number, version"
)
"""A question's columns, named as Question's fields (its choices as JSON text)."""


def question_of(r: asyncpg.Record) -> Question:
    """A row of QUESTION_COLUMNS as a Question."""
    return Question(**{**dict(r), "choices": msgspec.json.decode(r["choices"], type=list[str])})


async def fetch_questions(conn: Connection, exercise_id: int) -> list[Question]:
    rows = await conn.fetch(
        f"select {QUESTION_COLUMNS} from engagement_question where exercise_id = $1 order by position", exercise_id
    )
    return [question_of(r) for r in rows]


def _settings(q: QuestionIn) -> tuple[Any, ...]:
    """A question's columns from `kind` to `whole_number` (as it is stored: engagement.service._checked_question),
    as the statements below take them ($2 to $9)."""
    return (q.kind, q.text, q.required, q.word_limit, _json(q.choices), q.minimum, q.maximum, q.whole_number)


async def insert_question(conn: Connection, exercise_id: int, q: QuestionIn) -> Question:
    row = await conn.fetchrow(
        f"""insert into engagement_question (exercise_id, position, kind, text, required, word_limit, choices,
                                             minimum, maximum, whole_number)
            values ($1, (select coalesce(max(position), 0) + 1 from engagement_question where exercise_id = $1),
                    $2, $3, $4, $5, $6::text::jsonb, $7, $8, $9)
            returning {QUESTION_COLUMNS}""",
        exercise_id,
        *_settings(q),
    )
    assert row is not None
    return question_of(row)


async def lock_question(conn: Connection, exercise_id: int, question_id: int) -> asyncpg.Record | None:
    """The question, its row locked for a change (None: the exercise has no such question); `question_of` reads it."""
    return await conn.fetchrow(
        f"select {QUESTION_COLUMNS} from engagement_question where exercise_id = $1 and id = $2 for update",
        exercise_id,
        question_id,
    )


async def update_question(conn: Connection, question_id: int, q: QuestionIn) -> Question:
    row = await conn.fetchrow(
        f"""update engagement_question
               set kind = $2, text = $3, required = $4, word_limit = $5, choices = $6::text::jsonb, minimum = $7,
                   maximum = $8, whole_number = $9, version = version + 1
             where id = $1
         returning {QUESTION_COLUMNS}""",
        question_id,
        *_settings(q),
    )
    assert row is not None
    return question_of(row)


async def renumber_questions(conn: Connection, exercise_id: int, ids: list[int]) -> None:
    """The exercise's questions numbered 1, 2, ... in the order of `ids` (each of its questions once), in one
    statement (their places unique at its end: schema/0033); a question already in its place is not written."""
    await conn.execute(
        """update engagement_question q set position = o.n
             from unnest($2::bigint[]) with ordinality as o(id, n)
            where q.exercise_id = $1 and q.id = o.id and q.position <> o.n""",
        exercise_id,
        ids,
    )


async def delete_question(conn: Connection, exercise_id: int, question_id: int) -> bool:
    done: str = await conn.execute(
        "delete from engagement_question where exercise_id = $1 and id = $2", exercise_id, question_id
    )
    return done.endswith(" 1")


# --- responses --------------------------------------------------------------------------------------

RESPONSE_SQL = """
select r.exercise_id, r.provider_id, p.name as provider_name, r.status, r.revision,
       (select max(s.created_at) from engagement_response s
         where s.exercise_id = r.exercise_id and s.provider_id = r.provider_id
           and s.revision <= r.revision and s.status = 'submitted') as submitted_at,
       case when r.status = 'withdrawn' then r.created_at end as withdrawn_at,
       r.body::text as body
       {snapshot}
from engagement_response r join provider p on p.id = r.provider_id
"""
NEWEST = """
r.revision = (select max(s.revision) from engagement_response s
              where s.exercise_id = r.exercise_id and s.provider_id = r.provider_id)
"""


def _response(r: asyncpg.Record) -> Response:
    """A row of RESPONSE_SQL (its columns named as Response's fields) with its body's needs and answers."""
    body = _body.decode(r["body"])
    row = {k: v for k, v in r.items() if k not in ("body", "snapshot", "recorded_at")}
    return Response(**row, needs=body.needs, answers=body.answers)


def _revision(r: asyncpg.Record) -> ResponseRevision:
    return ResponseRevision(
        **msgspec.structs.asdict(_response(r)), snapshot=_snapshot.decode(r["snapshot"]), recorded_at=r["recorded_at"]
    )


async def lock_questions(conn: Connection, exercise_id: int) -> None:
    """Serialise changes to an exercise's questions and its publishing (the questions its notice shows are fixed)."""
    await lock_response(conn, exercise_id, 0)  # no provider is 0: the exercise's own key


async def lock_response(conn: Connection, exercise_id: int, provider_id: int) -> None:
    """Serialise changes to one provider's response (the app role may not lock append-only rows for update)."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('engagement_response', $1 * 1000003 + $2))",
        exercise_id,
        provider_id,
    )


async def current_revision(conn: Connection, exercise_id: int, provider_id: int) -> tuple[int, str] | None:
    row = await conn.fetchrow(
        "select revision, status from engagement_response where exercise_id = $1 and provider_id = $2 "
        "order by revision desc limit 1",
        exercise_id,
        provider_id,
    )
    return None if row is None else (row["revision"], row["status"])


async def insert_revision(
    conn: Connection,
    *,
    exercise_id: int,
    provider_id: int,
    revision: int,
    status: str,
    body: ResponseIn,
    snapshot: bytes,
    at: dt.datetime,
    by: int | None,
) -> None:
    await conn.execute(
        """insert into engagement_response (exercise_id, provider_id, revision, status, body, snapshot, created_at,
                                            created_by)
           values ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7, $8)""",
        exercise_id,
        provider_id,
        revision,
        status,
        _json(body),
        snapshot.decode(),
        at,
        by,
    )


async def fetch_response(conn: Connection, exercise_id: int, provider_id: int) -> Response | None:
    row = await conn.fetchrow(
        RESPONSE_SQL.format(snapshot="") + f" where r.exercise_id = $1 and r.provider_id = $2 and {NEWEST}",
        exercise_id,
        provider_id,
    )
    return None if row is None else _response(row)


async def fetch_responses(
    conn: Connection, exercise_id: int, *, provider_id: int | None = None, limit: int | None = None, offset: int = 0
) -> tuple[int, list[Response]]:
    """The current responses (newest revisions), by provider name; only `provider_id`'s when given."""
    where = f"where r.exercise_id = $1 and {NEWEST} and ($2::bigint is null or r.provider_id = $2)"
    total: int = await conn.fetchval(f"select count(*) from engagement_response r {where}", exercise_id, provider_id)
    rows = await conn.fetch(
        RESPONSE_SQL.format(snapshot="") + where + " order by lower(p.name), r.provider_id limit $3 offset $4",
        exercise_id,
        provider_id,
        limit,
        offset,
    )
    return total, [_response(r) for r in rows]


async def fetch_revisions(conn: Connection, exercise_id: int, provider_id: int) -> list[ResponseRevision]:
    rows = await conn.fetch(
        RESPONSE_SQL.format(snapshot=", r.snapshot::text as snapshot, r.recorded_at")
        + " where r.exercise_id = $1 and r.provider_id = $2 order by r.revision desc",
        exercise_id,
        provider_id,
    )
    return [_revision(r) for r in rows]


async def services_once_held(conn: Connection, exercise_id: int, provider_id: int) -> dict[int, str]:
    """The services (id -> name) the provider's profile held at any revision of its response, as the revisions'
    snapshots hold them (the newest name of each)."""
    rows = await conn.fetch(
        """select distinct on (s.id) s.id, s.name
           from engagement_response r,
                jsonb_to_recordset(coalesce(r.snapshot -> 'services', '[]'::jsonb)) as s(id bigint, name text)
           where r.exercise_id = $1 and r.provider_id = $2
           order by s.id, r.revision desc""",
        exercise_id,
        provider_id,
    )
    return {r["id"]: r["name"] for r in rows}


async def provider_statuses(conn: Connection, provider_ids: list[int]) -> dict[int, str]:
    """Each provider's status now (pending, published, archived); a provider not found is left out."""
    rows = await conn.fetch("select id, status from provider where id = any($1::bigint[])", provider_ids)
    return {r["id"]: r["status"] for r in rows}


async def provider_response_statuses(conn: Connection, provider_id: int) -> dict[int, str]:
    """The status of the provider's newest response revision ('submitted' or 'withdrawn'), by exercise."""
    rows = await conn.fetch(
        f"select r.exercise_id, r.status from engagement_response r where r.provider_id = $1 and {NEWEST}", provider_id
    )
    return {r["exercise_id"]: r["status"] for r in rows}


# --- clarifications ---------------------------------------------------------------------------------

CLARIFICATION_COLUMNS = "id, exercise_id, provider_id, question, asked_at, published_question, answer, answered_at"


def _clarification(r: asyncpg.Record) -> Clarification:
    return Clarification(**dict(r))


async def insert_clarification(
    conn: Connection, exercise_id: int, provider_id: int, question: str, at: dt.datetime, by: int | None
) -> Clarification:
    row = await conn.fetchrow(
        f"""insert into engagement_clarification (exercise_id, provider_id, question, asked_at, asked_by)
            values ($1, $2, $3, $4, $5) returning {CLARIFICATION_COLUMNS}""",
        exercise_id,
        provider_id,
        question.strip(),
        at,
        by,
    )
    assert row is not None
    return _clarification(row)


async def lock_clarification(conn: Connection, exercise_id: int, clarification_id: int) -> Clarification | None:
    row = await conn.fetchrow(
        f"select {CLARIFICATION_COLUMNS} from engagement_clarification where exercise_id = $1 and id = $2 for update",
        exercise_id,
        clarification_id,
    )
    return None if row is None else _clarification(row)


async def answer_clarification(
    conn: Connection, clarification_id: int, published_question: str, answer: str, at: dt.datetime, by: int | None
) -> Clarification:
    row = await conn.fetchrow(
        f"""update engagement_clarification
            set published_question = $2, answer = $3, answered_at = $4, answered_by = $5
            where id = $1 returning {CLARIFICATION_COLUMNS}""",
        clarification_id,
        published_question.strip(),
        answer.strip(),
        at,
        by,
    )
    assert row is not None
    return _clarification(row)


async def fetch_clarifications(
    conn: Connection, exercise_id: int, *, answered_or_asked_by: int | None, everything: bool
) -> list[Clarification]:
    """Every clarification (`everything`), else the answered ones and those `answered_or_asked_by` asked."""
    rows = await conn.fetch(
        f"""select {CLARIFICATION_COLUMNS} from engagement_clarification
            where exercise_id = $1 and ($2 or answer is not null or provider_id = $3)
            order by id""",
        exercise_id,
        everything,
        answered_or_asked_by,
    )
    return [_clarification(r) for r in rows]


__all__ = ["Answer", "NeedResponse"]


async def pathway_services(conn: Connection, pathway: str) -> list[asyncpg.Record]:
    """Active services in `pathway` of published providers, by provider then service id (for the sample responses)."""
    return await conn.fetch(
        """select s.provider_id, s.id, coalesce(s.capacity_per_year, 0) as capacity,
                  s.cost_amount::float8 as cost, s.cost_unit,
                  array(select a.area_code from service_area a where a.service_id = s.id order by a.area_code) as areas
           from service s join provider p on p.id = s.provider_id
           where p.status = 'published' and s.status = 'active' and s.pathway_code = $1
           order by s.provider_id, s.id""",
        pathway,
    )


async def sample_exercise_id(conn: Connection, title: str) -> int | None:
    found: int | None = await conn.fetchval(
        "select id from exercise where is_sample and title = $1 order by id limit 1", title
    )
    return found


async def any_publication(conn: Connection) -> bool:
    found: bool = await conn.fetchval("select exists(select 1 from engagement)")
    return found
