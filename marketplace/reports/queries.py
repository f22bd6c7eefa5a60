"""SQL for frozen reports (schema/0011: append-only)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from marketplace.changes import written_since
from marketplace.db import Connection, one
from marketplace.reports.models import FrozenReportSummary

COLUMNS = {"json": "report_json", "html": "report_html", "csv": "report_csv"}
SUMMARY = "id, exercise_id, created_at, created_by, match_run_ids, suitable_threshold, data_snapshot_at, generated_at"


async def next_frozen_report_id(conn: Connection) -> int:
    value = await conn.fetchval("select nextval(pg_get_serial_sequence('frozen_report', 'id'))")
    return int(value)


INSERT_SQL = f"""
insert into frozen_report (id, exercise_id, created_by, match_run_ids, suitable_threshold, data_snapshot_at,
                           generated_at, report_json, report_html, report_csv)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
returning {SUMMARY}"""


async def insert_frozen_report(
    conn: Connection,
    *,
    report_id: int,
    exercise_id: int,
    created_by: int | None,
    match_run_ids: list[int],
    threshold: float,
    data_snapshot_at: dt.datetime | None,
    generated_at: dt.datetime,
    data: dict[str, bytes],
) -> asyncpg.Record:
    args = (report_id, exercise_id, created_by, match_run_ids, threshold, data_snapshot_at, generated_at)
    return await one(conn, INSERT_SQL, *args, data["json"], data["html"], data["csv"])


async def fetch_frozen_report(conn: Connection, report_id: int, fmt: str) -> asyncpg.Record | None:
    column = COLUMNS[fmt]  # one of three fixed names, never the caller's text
    return await conn.fetchrow(f"select {SUMMARY}, {column} as body from frozen_report where id = $1", report_id)


async def list_frozen_reports(conn: Connection, exercise_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"select {SUMMARY} from frozen_report where exercise_id = $1 order by id desc", exercise_id)


def summary_of(row: asyncpg.Record) -> FrozenReportSummary:
    return FrozenReportSummary(
        id=row["id"],
        exercise_id=row["exercise_id"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        match_run_ids=list(row["match_run_ids"]),
        suitable_threshold=row["suitable_threshold"],
        data_snapshot_at=row["data_snapshot_at"],
        generated_at=row["generated_at"],
        urls={fmt: f"/reports/{row['id']}?format={fmt}" for fmt in (*COLUMNS, "xlsx")},  # xlsx: from csv and json
    )


# The providers written since each run's directory snapshot (marketplace.changes) that could change what the run
# says: those it ranked, and those published now with a service in the need's pathway (which could enter it). A run
# stored before runs kept their snapshot (schema/0010) has none to compare with and is left out.
CHANGED_SINCE_RUNS_SQL = f"""
select r.id as run_id, p.id as provider_id, p.name, p.status, q.offers_pathway
from match_run r
join need n on n.id = r.need_id
join provider p on {written_since("r.directory_snapshot")}
cross join lateral (
    select exists (select 1 from service s where s.provider_id = p.id and s.pathway_code = n.pathway_code)
        as offers_pathway) q
where r.id = any($1::bigint[]) and r.directory_snapshot is not null
  and (p.id = any($2::bigint[]) or (p.status = 'published' and q.offers_pathway))
order by r.id, p.name, p.id"""


async def changed_since_runs(
    conn: Connection, run_ids: list[int], ranked: list[int]
) -> dict[int, list[asyncpg.Record]]:
    """Run id -> the providers written since it was made that any of the runs ranked (`ranked`) or that are
    published now with a service in the run's need's pathway (`offers_pathway`), by name: the caller keeps, for
    each run, those it ranked itself and those that could now enter it."""
    out: dict[int, list[asyncpg.Record]] = {}
    for row in await conn.fetch(CHANGED_SINCE_RUNS_SQL, run_ids, ranked):
        out.setdefault(row["run_id"], []).append(row)
    return out
