"""A 10-need report from stored runs at benchmark scale (issue 12: <= 1 s at 200,000 providers).

On a database kept by `bench/run.py --keep --data-dir DIR` (its last lines name the database): an exercise of 10
needs across the pathways and areas is made and matched once (stored runs), then its report is asked for 5 times in
each format and the median and worst times printed. In process, through the real app (Litestar's test client: no
network, no HTTP server), so the figures are the app's own work: reading the stored runs, building and rendering.

    .venv/bin/python bench/report_ten_needs.py DIR DATABASE [--exercise ID] [--save OUT]

--exercise ID reports on an exercise made by an earlier run (no new exercise, no matching); --save OUT writes the
last body of each format to OUT/report.{json,html,csv}, with the clock fixed so that bodies from two runs of the
same exercise can be compared byte for byte.
"""

import argparse
import asyncio
import datetime as dt
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from litestar.testing import AsyncTestClient  # noqa: E402

from marketplace import db  # noqa: E402
from marketplace.app import create_app  # noqa: E402
from marketplace.clock import FixedClock  # noqa: E402
from marketplace.settings import Settings  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("data_dir")
parser.add_argument("database")
parser.add_argument("--exercise", type=int, help="report on this exercise (made by an earlier run): no matching")
parser.add_argument("--save", type=Path, help="write each format's body here (clock fixed, for comparing)")
ARGS = parser.parse_args()
DATA_DIR, DB = Path(ARGS.data_dir).resolve(), ARGS.database
db.start_embedded(DATA_DIR)
owner = f"postgresql://postgres:@/{DB}?host={DATA_DIR}/pg"
NEEDS = [
    ("ACCOM", ["E23000016"], 600),
    ("ETE", ["E10000034"], 300),
    ("HEALTH", ["E06000019"], 150),
    ("DRUGS", ["E06000051", "E06000020"], 250),
    ("FINANCE", ["E07000235"], 80),
    ("FAMILIES", ["E23000016"], 200),
    ("ATB", ["E10000034"], 120),
    ("WOMEN_ABUSE", ["E23000016"], 90),
    ("RJ_VICTIMS", ["E06000019", "E06000051"], 60),
    ("YOUTH_DIVERSION", ["E06000020"], 70),
]


async def main():
    key = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "marketplace", "keys", "create", "--role", "commissioner", "--name", "report10"],
        cwd=ROOT,
        env={"DATABASE_URL": owner, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    token = next(w for w in key.stdout.split() if w.startswith("prv_"))
    h = {"Authorization": f"Bearer {token}"}
    settings = Settings(database_url=db.with_user(owner, db.APP_ROLE), owner_database_url=owner)
    t = time.perf_counter()
    clock = FixedClock(dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)) if ARGS.save else None
    async with AsyncTestClient(create_app(settings, clock=clock)) as c:
        print(f"app up in {time.perf_counter() - t:.1f} s")
        x = ARGS.exercise or await make_exercise(c, h)
        for fmt in ("json", "html", "csv"):
            times = []
            for _ in range(5):
                t = time.perf_counter()
                r = await c.get(f"/exercises/{x}/report?format={fmt}", headers=h)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text[:300]
            median, worst = statistics.median(times) * 1000, max(times) * 1000
            print(f"report {fmt}: median {median:.0f} ms, max {worst:.0f} ms, {len(r.content) // 1024} KiB")
            if ARGS.save:
                ARGS.save.mkdir(parents=True, exist_ok=True)
                (ARGS.save / f"report.{fmt}").write_bytes(r.content)


async def make_exercise(c: AsyncTestClient, h: dict[str, str]) -> int:
    """A 10-need exercise, matched (its runs stored); its id."""
    r = await c.post(
        "/exercises",
        json={"title": "Ten needs (benchmark)", "commissioning_body": "West Mercia (benchmark)"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    x = r.json()["id"]
    for p, areas, vol in NEEDS:
        r = await c.post(
            f"/exercises/{x}/needs",
            json={
                "title": f"{p} need",
                "pathway": p,
                "areas": areas,
                "annual_volume": vol,
                "annual_budget": vol * 1500,
                "contract_years": 3,
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
    t = time.perf_counter()
    r = await c.post(f"/exercises/{x}/match", headers=h)
    assert r.status_code in (200, 201), r.text
    print(f"matched 10 needs in {time.perf_counter() - t:.2f} s (exercise {x})")
    return int(x)


if __name__ == "__main__":
    asyncio.run(main())
