"""Gathering the stored runs a report is computed from (running the matches a need still lacks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import asyncpg

import matching
from marketplace.exercises import queries as exercise_queries
from marketplace.exercises.models import Exercise, MatchRun
from marketplace.taxonomy.models import Taxonomy


async def runs_for_report(
    conn: asyncpg.Connection, exercise: Exercise, *, taxonomy: Taxonomy, as_of: dt.date, created_by: int | None,
    store_limit: int, excluded_limit: int, progress: Callable[[int, int, str], None] | None = None,
) -> list[MatchRun]:
    """The newest stored run of each need that ranked deep enough to count the market from; a need never
    matched, or matched only for a short list (`POST /needs/{id}/match-runs?limit=10` stores ten), is matched
    now with `store_limit` ranked (and that run stored)."""
    stored = {
        run.need_id: run
        for run in map(exercise_queries.match_run_of, await exercise_queries.latest_match_runs_full(conn, exercise.id))
        if len(run.ranking) >= min(run.eligible_count, store_limit)
    }
    missing = [n for n in exercise.needs if n.id not in stored]
    if missing:
        weights = matching.Weights.from_mapping(exercise.default_weights.given())
        for i, need in enumerate(missing, 1):
            if progress:
                progress(i, len(missing), need.title)
            stored[need.id] = await exercise_queries.run_match(
                conn, need, weights, taxonomy=taxonomy, as_of=as_of, created_by=created_by,
                store_limit=store_limit, excluded_limit=excluded_limit,
            )
    return [stored[n.id] for n in exercise.needs]
