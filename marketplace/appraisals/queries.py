"""SQL for options appraisals (schema/0016: a decided appraisal's row is frozen by a trigger)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec

from marketplace.appraisals.models import Appraisal, AppraisalIn, AppraisalSummary, Decision
from marketplace.db import Connection, one

COLUMNS = """id, exercise_id, title, description, years, discount_rate, annual_budget, options, criteria, scores,
moderation, costs, is_sample, version, created_at, updated_at, decided_at, decision"""
PARTS = ("options", "criteria", "scores", "moderation", "costs")
"""The sub-resources, each a document column replaced whole (PUT) under the appraisal's version."""


def _builtin(value: Any) -> Any:
    return msgspec.to_builtins(value)


def appraisal_of(row: asyncpg.Record) -> Appraisal:
    return msgspec.convert(dict(row), Appraisal, from_attributes=False, strict=False)


async def fetch(conn: Connection, appraisal_id: int) -> Appraisal | None:
    row = await conn.fetchrow(f"select {COLUMNS} from appraisal where id = $1", appraisal_id)
    return None if row is None else appraisal_of(row)


async def is_decided(conn: Connection, appraisal_id: int) -> bool:
    """Whether the appraisal is decided (False when there is none)."""
    return bool(await conn.fetchval("select decided_at is not null from appraisal where id = $1", appraisal_id))


async def lock(conn: Connection, appraisal_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("select id, version, decided_at from appraisal where id = $1 for update", appraisal_id)


SUMMARY = """select a.id, a.exercise_id, a.title, a.version, a.is_sample, a.created_at, a.updated_at, a.decided_at,
       a.decision ->> 'option' as chosen_option, (a.decision ->> 'market_report_id')::bigint as market_report_id
  from appraisal a"""


async def list_page(conn: Connection, *, limit: int, offset: int) -> tuple[int, list[AppraisalSummary]]:
    total = await conn.fetchval("select count(*) from appraisal")
    rows = await conn.fetch(f"{SUMMARY} order by a.id desc limit $1 offset $2", limit, offset)
    return int(total), [msgspec.convert(dict(r), AppraisalSummary) for r in rows]


async def list_for_exercise(conn: Connection, exercise_id: int) -> list[AppraisalSummary]:
    rows = await conn.fetch(f"{SUMMARY} where a.exercise_id = $1 order by a.id desc", exercise_id)
    return [msgspec.convert(dict(r), AppraisalSummary) for r in rows]


def _inputs(data: AppraisalIn) -> list[Any]:
    """What an appraisal's writer gives, in its columns' order: title, description, years, discount rate, annual
    budget, then the parts (options ... costs) as JSON builtins."""
    return [
        data.title,
        data.description,
        data.years,
        data.discount_rate,
        data.annual_budget,
        *(_builtin(getattr(data, part)) for part in PARTS),
    ]


async def insert(
    conn: Connection, data: AppraisalIn, *, created_by: int | None, at: dt.datetime, is_sample: bool = False
) -> int:
    """A new appraisal, made `at` (the app's clock)."""
    row = await one(
        conn,
        """insert into appraisal (exercise_id, title, description, years, discount_rate, annual_budget, options,
                                  criteria, scores, moderation, costs, is_sample, created_by, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) returning id""",
        data.exercise_id,
        *_inputs(data),
        is_sample,
        created_by,
        at,
    )
    return int(row["id"])


async def update(conn: Connection, appraisal_id: int, data: AppraisalIn, *, at: dt.datetime) -> None:
    """Every input of the appraisal (as validated together), its version moved on, changed `at` (the app's clock)."""
    await conn.execute(
        """update appraisal set title = $2, description = $3, years = $4, discount_rate = $5, annual_budget = $6,
                  options = $7, criteria = $8, scores = $9, moderation = $10, costs = $11,
                  version = version + 1, updated_at = $12
            where id = $1""",
        appraisal_id,
        *_inputs(data),
        at,
    )


async def decide(conn: Connection, appraisal_id: int, decision: Decision) -> None:
    await conn.execute(
        """update appraisal set decided_at = $2, decision = $3, version = version + 1, updated_at = $2
            where id = $1""",
        appraisal_id,
        decision.decided_at,
        _builtin(decision),
    )


async def any_appraisal(conn: Connection) -> bool:
    found: bool = await conn.fetchval("select exists(select 1 from appraisal)")
    return found
