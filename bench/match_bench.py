"""Match runs end to end over HTTP, in process (not a test; prints figures).

    .venv/bin/python bench/match_bench.py --dsn postgresql://...  [--needs 1 2] [--runs 15] [--concurrent 32]
    .venv/bin/python bench/match_bench.py --data-dir /tmp/b --dsn "postgresql://postgres:@/DATABASE?host=/tmp/b/pg"

Builds the real app (`create_app(Settings(database_url=..., secret=...))`), makes one commissioner key in that
database, and drives `POST /needs/{id}/match-runs?limit=50` through litestar's AsyncTestClient:

1. a first run per need (cold: includes building the worker's match cache, if any), timed on its own;
2. `--runs` runs per need back to back (p50 / p95 / max);
3. `--concurrent` requests at once, alternating the needs (statuses counted; no 503 expected);

and prints the process's resident set (one process = one server worker) after each phase, and its peak.
Every run is stored in the database (match runs are append-only), so keep `--runs` modest.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar.testing import AsyncTestClient

from marketplace import db, memory
from marketplace.accounts.models import key_request
from marketplace.accounts.service import make_key
from marketplace.app import create_app
from marketplace.settings import Settings
from matching import DEFAULT_CRITERION_WEIGHTS

MiB = 1 << 20
logging.getLogger("httpx").setLevel(logging.WARNING)


class Peak:
    """Samples this process's RSS every 20 ms in a thread."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def now(self) -> int:
        rss = self.proc.memory_info().rss
        self.peak = max(self.peak, rss)
        return rss

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", required=True)
    parser.add_argument(
        "--data-dir", type=Path, help="start the embedded PostgreSQL kept there first (bench/run.py --keep --data-dir)"
    )
    parser.add_argument("--needs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--concurrent", type=int, default=32)
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    memory.tune_allocator()  # as `marketplace serve` sets up its workers (marketplace/memory.py)
    memory.tune_collector()
    if args.data_dir is not None:
        db.start_embedded(args.data_dir)

    secret = secrets.token_urlsafe(24)
    conn = await db.connect(args.dsn)
    try:
        made = await make_key(conn, secret.encode(), key_request("commissioner", "match_bench", None), created_by=None)
        titles = {
            r["id"]: r["title"] for r in await conn.fetch("select id, title from need where id = any($1)", args.needs)
        }
    finally:
        await conn.close()
    headers = {"Authorization": f"Bearer {made.key}"}
    peak = Peak()
    app = create_app(Settings(database_url=args.dsn, secret=secret, expensive_limit=1_000_000))
    print(f"idle RSS {peak.now() / MiB:.0f} MiB")
    async with AsyncTestClient(app, timeout=120) as client:
        requests = itertools.count(secrets.randbelow(10**6) * 100 + 1)  # not the same as an earlier run's

        async def one(need_id: int) -> tuple[float, int]:
            # each request a fresh ranking (as bench/run.py): the same request over an unchanged directory is
            # answered from the stored run, so each moves n/10^12 of a point from pathway fit to capacity
            shift = next(requests) / 1e12
            weights = {k: v * 100 for k, v in DEFAULT_CRITERION_WEIGHTS.items()}
            weights["capacity"] += shift
            weights["pathway_fit"] -= shift
            t = time.perf_counter()
            r = await client.post(
                f"/needs/{need_id}/match-runs", params={"limit": args.limit}, headers=headers, json={"weights": weights}
            )
            return (time.perf_counter() - t) * 1000, r.status_code

        print(f"after startup RSS {peak.now() / MiB:.0f} MiB")
        for need_id in args.needs:
            ms, status = await one(need_id)
            print(
                f"need {need_id} ({titles.get(need_id)}): first run {ms:.0f} ms, status {status}; "
                f"RSS {peak.now() / MiB:.0f} MiB"
            )
        for need_id in args.needs:
            times = []
            for _ in range(args.runs):
                ms, status = await one(need_id)
                assert status == 201, status
                times.append(ms)
            gc.collect()
            print(
                f"need {need_id}: n={len(times)} p50 {statistics.median(times):.1f} ms  p95 {pct(times, 0.95):.1f} ms  "
                f"max {max(times):.1f} ms; RSS {peak.now() / MiB:.0f} MiB (peak {peak.peak / MiB:.0f})"
            )
        if args.concurrent:
            t = time.perf_counter()
            results = await asyncio.gather(*(one(args.needs[k % len(args.needs)]) for k in range(args.concurrent)))
            wall = time.perf_counter() - t
            statuses: dict[int, int] = {}
            for _, status in results:
                statuses[status] = statuses.get(status, 0) + 1
            lat = [ms for ms, _ in results]
            print(
                f"{args.concurrent} concurrent: statuses {statuses}, wall {wall:.2f} s, latency p50 "
                f"{statistics.median(lat):.0f} ms max {max(lat):.0f} ms; RSS {peak.now() / MiB:.0f} MiB "
                f"(peak {peak.peak / MiB:.0f})"
            )
    peak.stop()
    print(f"peak RSS of this process (one worker): {peak.peak / MiB:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
