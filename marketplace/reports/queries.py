"""SQL for frozen reports (schema/0011: append-only)."""

from __future__ import annotations

import datetime as dt

import asyncpg

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
