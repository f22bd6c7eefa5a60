"""Does making a report keep the server responsive? A 10-need report at N synthetic providers, with
GET /health polled every 10 ms while it runs.

    .venv/bin/python bench/report_health.py [--providers 20000] [--workers 1]

1. A fresh database (as bench/run.py builds it: migrated, taxonomies, N generated providers, bulk-loaded).
2. A commissioner key and an exercise with ten needs (ten pathways, areas from one district to the whole region,
   local priorities on most), none matched yet.
3. The real server (granian, `--workers` processes, default 1: every request shares the event loop of the one
   worker that ranks, the worst case).
4. POST /exercises/{id}/match: it matches all ten needs (each run stored); meanwhile /health is requested every
   10 ms on its own connection and each answer's latency recorded.
5. GET /exercises/{id}/report?format=json: it must come from the stored runs (no new run is stored), again under
   /health polling.

Prints the report's time, the /health latencies during it (max, p99, p50, count), how many match runs were
stored by each report, and whether the target (/health never over 50 ms) was met.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import asyncpg  # noqa: E402
import drivers  # noqa: E402
import load  # noqa: E402
from server import HOST, free_port, start_server, stop_server, wait_ready  # noqa: E402

from marketplace import db  # noqa: E402
from marketplace.accounts.models import key_request  # noqa: E402
from marketplace.accounts.service import make_key  # noqa: E402
from marketplace.clock import Clock  # noqa: E402
from marketplace.exercises.models import ExerciseIn, LocalPriority, NeedIn  # noqa: E402
from marketplace.exercises.queries import insert_exercise, insert_need  # noqa: E402
from marketplace.settings import Settings  # noqa: E402

TARGET_MS = 50.0
NEEDS = [
    ("Accommodation, Telford", "ACCOM", ["E06000020"], ["tenancy sustainment", "supported housing for care leavers"]),
    ("Employment, Worcestershire", "ETE", ["E10000034"], ["construction skills"]),
    ("Health, Shropshire", "HEALTH", ["E06000051"], ["mental health outreach"]),
    ("Drugs and alcohol, West Mercia", "DRUGS", ["E23000016"], ["recovery community", "rural outreach"]),
    ("Finance and debt, Herefordshire", "FINANCE", ["E06000019"], ["debt advice"]),
    ("Children and families, Redditch", "FAMILIES", ["E07000236"], []),
    ("Attitudes and behaviour, Worcester", "ATB", ["E07000237"], ["mentoring"]),
    ("Women's services, Shropshire and Telford", "WOMEN_ABUSE", ["E06000051", "E06000020"], ["domestic abuse"]),
    ("Restorative justice, West Mercia", "RJ_VICTIMS", ["E23000016"], ["victim awareness"]),
    ("Youth diversion, Wyre Forest", "YOUTH_DIVERSION", ["E07000239"], ["county lines"]),
]


async def make_exercise(dsn: str, secret: bytes) -> tuple[str, int]:
    conn = await db.connect(dsn)
    try:
        async with conn.transaction():
            made = await make_key(conn, secret, key_request("commissioner", "report_health", None), created_by=None)
            made_at = Clock().now()
            exercise_id = await insert_exercise(
                conn,
                ExerciseIn(
                    title="Ten pathways", commissioning_body="Benchmark probation trust", status="engagement_open"
                ),
                created_by=made.api_key.id,
                at=made_at,
            )
            for title, pathway, areas, priorities in NEEDS:
                await insert_need(
                    conn,
                    exercise_id,
                    NeedIn(
                        title=title,
                        pathway=pathway,
                        areas=areas,
                        annual_volume=120,
                        annual_budget=250_000,
                        contract_years=3,
                        local_priorities=[LocalPriority(text=p) for p in priorities],
                    ),
                    at=made_at,
                )
        return made.key, exercise_id
    finally:
        await conn.close()


async def runs_stored(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("select count(*) from match_run")
        return count
    finally:
        await conn.close()


async def report_under_polling(
    port: int, key: str, exercise_id: int, method: str = "GET", path: str = "/exercises/{}/report?format=json"
) -> tuple[float, int, int, list[float]]:
    """(request seconds, its status, its size, /health latencies in ms taken while it ran)."""
    latencies: list[float] = []
    done = asyncio.Event()

    async def poll() -> None:
        conn = drivers.HttpConnection(HOST, port)
        try:
            while not done.is_set():
                t = time.perf_counter()
                r = await conn.request("GET", "/health")
                latencies.append((time.perf_counter() - t) * 1000)
                assert r.status == 200, r.status
                await asyncio.sleep(0.01)
        finally:
            await conn.close()

    poller = asyncio.create_task(poll())
    await asyncio.sleep(0.2)  # the poller is connected and steady before the report starts
    conn = drivers.HttpConnection(HOST, port)
    t = time.perf_counter()
    try:
        r = await conn.request(method, path.format(exercise_id), headers={"Authorization": f"Bearer {key}"})
    finally:
        elapsed = time.perf_counter() - t
        done.set()
        await poller
        await conn.close()
    return elapsed, r.status, len(r.body), latencies


def describe(label: str, elapsed: float, status: int, size: int, latencies: list[float], stored: int) -> bool:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    worst = max(ordered)
    print(
        f"{label}: {elapsed:.2f} s, HTTP {status}, {size / 1024:.0f} KiB, {stored} match run(s) stored; "
        f"/health during it: {len(ordered)} requests, max {worst:.1f} ms, p99 {p99:.1f} ms, "
        f"p50 {statistics.median(ordered):.1f} ms",
        flush=True,
    )
    return worst <= TARGET_MS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("BENCH_DATA_DIR") or ".marketplace/bench"))
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    server = load.server_dsn(args.data_dir)
    name, dsn = asyncio.run(load.create_database(server))
    proc = None
    try:
        asyncio.run(load.prepare_schema(dsn, Settings.from_env().seed_dir))
        built = load.build_directory(dsn, args.providers, args.seed, workers=max(1, min(os.cpu_count() or 1, 8)))
        print(f"{args.providers:,} providers loaded in {built.total:.1f} s", flush=True)
        secret = secrets.token_urlsafe(32)
        key, exercise_id = asyncio.run(make_exercise(dsn, secret.encode()))
        port = free_port()
        log_path = args.data_dir / "report_health.log"
        t = time.perf_counter()
        proc = start_server(dsn, secret, workers=args.workers, port=port, log_path=log_path)
        wait_ready(proc, f"http://{HOST}:{port}", log_path, workers=args.workers)
        print(f"server ready in {time.perf_counter() - t:.1f} s ({args.workers} worker(s))", flush=True)

        before = asyncio.run(runs_stored(dsn))
        first = asyncio.run(report_under_polling(port, key, exercise_id, "POST", "/exercises/{}/match"))
        after_first = asyncio.run(runs_stored(dsn))
        ok_first = describe(f"POST /exercises/{{id}}/match ({len(NEEDS)} needs)", *first, after_first - before)
        second = asyncio.run(report_under_polling(port, key, exercise_id))
        after_second = asyncio.run(runs_stored(dsn))
        ok_second = describe("report (from stored runs)", *second, after_second - after_first)
        reused = after_second == after_first
        print(
            f"target: /health never over {TARGET_MS:.0f} ms while a report runs -> "
            f"{'met' if ok_first and ok_second else 'MISSED'}; report from stored runs only -> "
            f"{'yes' if reused else 'NO'}"
        )
        return 0
    finally:
        if proc is not None:
            stop_server(proc)
        asyncio.run(load.drop_database(server, name))


if __name__ == "__main__":
    sys.exit(main())
