"""Time the market-engagement report for the seeded West Mercia exercise, in-process.

    .venv/bin/python bench/report_bench.py [--runs 5]

Uses the embedded PostgreSQL under .marketplace/report-bench/ (or BENCH_DATABASE_URL), a fresh database
migrated and seeded from seed_data/. Prints: the first report (which runs and stores the match for every
need), then reports from the stored runs (median of --runs), and rendering each format."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import msgspec

from marketplace import db
from marketplace.clock import Clock
from marketplace.context import Context
from marketplace.exercises.pools import MatchPools
from marketplace.exercises.service import match_exercise
from marketplace.migrate import migrate
from marketplace.reports.render import to_csv, to_html
from marketplace.reports.service import make_report
from marketplace.seed import seed
from marketplace.settings import PROJECT_ROOT, Settings
from marketplace.taxonomy.service import load
from marketplace.types import Actor


async def main(runs: int) -> None:
    server = os.environ.get("BENCH_DATABASE_URL") or db.start_embedded(PROJECT_ROOT / ".marketplace" / "report-bench")
    name = f"report_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'create database "{name}"')
    dsn = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    settings = Settings(database_url=dsn, secret="report-bench")
    try:
        conn = await db.connect(dsn)
        await migrate(conn, settings.schema_dir)
        await seed(conn, settings.seed_dir)
        exercise_id = await conn.fetchval("select min(id) from exercise")
        pool = await db.create_pool(dsn, settings)
        ctx = Context(settings=settings, clock=Clock(), taxonomy=await load(pool), secret=b"report-bench")
        pools = MatchPools(
            pool, ctx.taxonomy.matching_areas, slots=settings.match_slots, pathway_names=ctx.taxonomy.codes("pathways")
        )
        actor = Actor.system("bench/report_bench.py")

        async def report():
            return await make_report(ctx, pool, exercise_id, threshold=0.6)

        t = time.perf_counter()
        await match_exercise(ctx, pool, pools, actor, exercise_id)
        match_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        first = await report()
        first_ms = (time.perf_counter() - t) * 1000
        times, html_t, csv_t, json_t = [], [], [], []
        for _ in range(runs):
            t = time.perf_counter()
            r = await report()
            times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            html = to_html(r)
            html_t.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            to_csv(r)
            csv_t.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            msgspec.json.encode(r)
            json_t.append((time.perf_counter() - t) * 1000)
        await conn.close()
        await pool.close()
        print(
            f"seeded exercise {exercise_id}: {len(first.needs)} needs, {len(first.grid.cells)} cells, "
            f"{sum(n.directory_size for n in first.needs[:1])} published providers"
        )
        print(f"match every need, store the runs (POST .../match): {match_ms:8.1f} ms")
        print(f"first report from the stored runs:                 {first_ms:8.1f} ms")
        print(f"report from stored runs, median of {runs}:           {statistics.median(times):8.1f} ms")
        print(f"render HTML ({len(html) // 1024} KiB), median:                  {statistics.median(html_t):8.1f} ms")
        print(f"render CSV, median:                                {statistics.median(csv_t):8.1f} ms")
        print(f"encode JSON, median:                               {statistics.median(json_t):8.1f} ms")
        print(
            f"target: a report from stored runs under 1000 ms -> "
            f"{'met' if statistics.median(times) + statistics.median(html_t) < 1000 else 'MISSED'}"
        )
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
