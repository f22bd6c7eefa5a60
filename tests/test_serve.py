"""`marketplace serve` as operators run it: a worker that dies is replaced while the others keep answering; a busy
port and an embedded database already being served are refused with a clear message."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from conftest import TEST_SECRET, Keys, bench_module, database_env, embedded_dir, fetchval, free_port, run_cli

from marketplace.settings import PROJECT_ROOT


class Server(subprocess.Popen[bytes]):
    log: Path


def serve(env: dict[str, str], port: int, workers: int) -> Server:
    """`marketplace serve` on a loopback port, its output in a file (`.log`, beside the test run's database)."""
    log = embedded_dir() / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = Server(
            [sys.executable, "-m", "marketplace", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc.log = log
    return proc


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            status: int = r.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_serving(proc: Server, base: str, workers: int, timeout: float = 90) -> list[int]:
    """Until /ready answers and the server has `workers` worker processes; their pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.log.read_text()
        children = live_children(proc.pid)
        try:
            if get(f"{base}/ready") == 200 and len(children) == workers:
                return children
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not come up")


def stop(proc: Server) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
async def served_db(databases, template_db) -> str:
    name = await databases.create("serve", template=template_db)
    yield databases.dsn(name)
    await databases.drop(name)


async def test_a_killed_worker_is_replaced_from_the_inherited_views_and_the_api_keeps_answering(served_db):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **database_env(served_db), "MARKETPLACE_SECRET": TEST_SECRET}
    admin = await Keys(served_db).headers("admin")
    proc = serve(env, port, workers=2)
    try:
        first, second = wait_serving(proc, base, 2)
        # written after the views were built: the replacement must take it in
        _, headers, _ = call("GET", f"{base}/providers/1", admin)
        renamed, _, _ = call("PATCH", f"{base}/providers/1", {**admin, "If-Match": headers["etag"]}, {"name": "Wombat"})
        assert renamed == 200
        os.kill(first, signal.SIGKILL)  # as the out-of-memory killer would
        killed = time.monotonic()
        answered, failed = 0, []
        deadline = killed + 20
        while time.monotonic() < deadline:
            try:
                assert get(f"{base}/providers/1") == 200
                answered += 1
            except OSError as exc:  # a connection the dying worker had accepted, reset as it goes
                failed.append((round(time.monotonic() - killed, 2), repr(exc)))
            children = set(live_children(proc.pid))
            if len(children) == 2 and first not in children and answered > 20:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the server stayed up"
        assert len(children) == 2 and first not in children and second in children, "a new worker replaced it"
        # the only requests lost are those the dying worker had taken (one, two; more while a loaded machine takes
        # longer to tear a large process down): none after the first seconds, and every one since answered
        assert answered > 20 and len(failed) <= 5 and all(after < 3 for after, _ in failed), (answered, failed)
        [replacement] = children - {second}
        log = proc.log.read_text()
        assert f"worker {replacement} ready" in log, log
        ready = next(line for line in log.splitlines() if f"worker {replacement} ready" in line)
        assert f"inherited from process {proc.pid}, brought up to date" in ready, ready
        assert "built from SQL" not in log, "no worker built its views itself"
        for _ in range(20):  # each a new connection, to either worker
            status, _, found = call("GET", f"{base}/providers?q=wombat", {})
            assert status == 200 and [p["id"] for p in found["items"]] == [1]
    finally:
        stop(proc)


live_children = bench_module("server").live_children
helpers_of = live_children  # a worker's children: its helper


async def test_served_workers_rank_with_helpers_that_die_with_them(served_db):
    """With the directory split (here from the first provider), each granian worker forks a helper process; match
    runs through the server use it; a worker killed as the out-of-memory killer would takes its helper with it (its
    socket closes; the kernel's parent-death signal besides), and its replacement forks its own."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **database_env(served_db),
        "MARKETPLACE_SECRET": TEST_SECRET,
        "MARKETPLACE_MATCH_SPLIT_FROM": "0",
    }
    commissioner = await Keys(served_db).headers("commissioner")
    need_id = await fetchval(served_db, "select id from need where pathway_code = 'ACCOM' order by id limit 1")
    proc = serve(env, port, workers=2)
    try:
        first, second = wait_serving(proc, base, 2)
        time.sleep(0.5)
        assert set(live_children(proc.pid)) == {first, second}, "the serving process forked no helper of its own"
        helpers = {w: helpers_of(w) for w in (first, second)}
        assert all(len(h) == 1 for h in helpers.values()), helpers
        runs = []
        for limit in range(50, 40, -1):  # fresh runs (another limit each), over new connections, to either worker
            status, _, body = call("POST", f"{base}/needs/{need_id}/match-runs?limit={limit}", commissioner)
            assert status == 201, body
            runs.append([s["provider_id"] for s in body["ranking"]])
        assert all(r == runs[0][: len(r)] for r in runs) and runs[0]
        [killed_helper] = helpers[first]
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and psutil.pid_exists(killed_helper):
            with contextlib.suppress(psutil.Error):
                if psutil.Process(killed_helper).status() == psutil.STATUS_ZOMBIE:
                    break
            time.sleep(0.05)
        assert not psutil.pid_exists(killed_helper) or psutil.Process(killed_helper).status() == psutil.STATUS_ZOMBIE
        [replacement] = set(wait_serving(proc, base, 2)) - {second}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(helpers_of(replacement)) != 1:
            time.sleep(0.05)
        assert len(helpers_of(replacement)) == 1, "the replacement forked a helper of its own"
        status, _, body = call("POST", f"{base}/needs/{need_id}/match-runs?limit=30", commissioner)
        assert status == 201 and [s["provider_id"] for s in body["ranking"]] == runs[0][:30]
    finally:
        stop(proc)
    assert not psutil.pid_exists(helpers[second][0]) or (
        psutil.Process(helpers[second][0]).status() == psutil.STATUS_ZOMBIE
    ), "stopping the server ended the helpers"


def test_a_second_server_on_a_busy_port_is_refused(served_db, live_server):
    port = int(live_server.rsplit(":", 1)[1])
    result = run_cli("serve", "--port", str(port), dsn=served_db, timeout=60)
    assert result.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr and "another server" in result.stderr


def test_one_server_per_embedded_database(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(MARKETPLACE_DATA_DIR=str(tmp_path / "data"), MARKETPLACE_SECRET=TEST_SECRET)
    port = free_port()
    proc = serve(env, port, workers=1)
    try:
        wait_serving(proc, f"http://127.0.0.1:{port}", 1)
        second = run_cli("serve", "--port", str(free_port()), env=env, timeout=60)
        assert second.returncode == 2
        assert "already served by marketplace serve (pid" in second.stderr, second.stderr
        assert get(f"http://127.0.0.1:{port}/ready") == 200, "the first server is untouched"
    finally:
        stop(proc)


def call(method: str, url: str, headers: dict[str, str], body: dict | None = None) -> tuple[int, dict, dict]:
    """Status, headers (by lower-case name) and JSON body."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {**headers, **({"Content-Type": "application/json"} if data else {})}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, method=method, headers=sent), timeout=30
        ) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, json.loads(exc.read() or b"{}")


async def test_two_servers_on_one_database_see_each_others_writes_at_once(served_db):
    """Two API nodes (separate processes, separate ports, one PostgreSQL): a write through one is in the other's
    search and matching by its very next request, with no restart or wait."""
    keys = Keys(served_db)
    admin = await keys.headers("admin")
    need_id = await fetchval(served_db, "select id from need where pathway_code = 'ACCOM' order by id limit 1")
    env = {**os.environ, **database_env(served_db), "MARKETPLACE_SECRET": TEST_SECRET}
    ports = [free_port(), free_port()]
    procs = [serve(env, port, workers=1) for port in ports]
    try:
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        for proc, base in zip(procs, (a, b), strict=True):
            wait_serving(proc, base, 1)
        status, _, run = call("POST", f"{b}/needs/{need_id}/match-runs", admin)
        assert status == 201
        top = run["ranking"][0]["provider_id"]
        status, headers, _ = call("GET", f"{a}/providers/{top}", admin)
        status, _, _ = call(
            "PATCH", f"{a}/providers/{top}", {**admin, "If-Match": headers["etag"]}, {"name": "Quokka Housing Trust"}
        )
        assert status == 200
        status, _, found = call("GET", f"{b}/providers?q=quokka", admin)
        assert status == 200 and [p["id"] for p in found["items"]] == [top]
        status, _, again = call("POST", f"{b}/needs/{need_id}/match-runs", admin)
        assert status == 201
        assert {c["provider_id"]: c["name"] for c in again["ranking"]}[top] == "Quokka Housing Trust"
    finally:
        for proc in procs:
            stop(proc)


def test_the_server_passes_on_a_console_head_and_the_apps_414(live_server):
    """Through the server itself: HEAD on a console page is answered with GET's headers and no body, and a query
    string over the app's limit gets the app's 414 with its body. From 64 KiB the server refuses the address itself,
    with a bare 414 the app never sees (granian's HTTP library holds no longer one)."""
    host, port = live_server.removeprefix("http://").split(":")
    for method, target, status, body in (
        ("HEAD", "/console/sign-in", 200, False),
        ("GET", "/providers?q=" + "x" * 40_000, 414, True),
        ("GET", "/console/sign-in?q=" + "x" * 40_000, 414, True),
        ("GET", "/providers?q=" + "x" * 70_000, 414, False),  # the server's own
    ):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request(method, target)
            r = conn.getresponse()
            assert r.status == status, (method, target[:40], r.status)
            assert bool(r.read()) == body, (method, target[:40])
        finally:
            conn.close()
