"""The market-engagement report of an exercise, computed from the newest stored match run of each need.

Making a report never ranks inside a transaction: needs that lack a deep enough run are matched first
(exercises.service, off the event loop, each run stored in its own short transaction); the report is then
computed from stored runs only, so it can be reproduced from them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from marketplace.context import Context
from marketplace.db import Pool, pooled
from marketplace.exercises import service as exercises
from marketplace.exercises.pools import MatchPools
from marketplace.reports.build import build_report
from marketplace.reports.models import Report
from marketplace.types import Actor


async def make_report(
    ctx: Context,
    db: Pool,
    pools: MatchPools,
    actor: Actor,
    exercise_id: int,
    *,
    threshold: float,
    progress: Callable[[int, int, str], None] | None = None,
) -> Report:
    async with pooled(db) as conn:
        exercise = await exercises.get_exercise(conn, exercise_id)
    runs = await exercises.latest_runs(ctx, db, pools, actor, exercise, progress)
    return await asyncio.to_thread(
        build_report, exercise, runs, ctx.taxonomy, threshold=threshold, generated_at=ctx.clock.now()
    )
