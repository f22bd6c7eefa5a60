"""Starting and stopping the real server for a benchmark: `marketplace serve` (granian, ASGI, the allocator
settings, the views built before the workers start), serving the app with the reference route of
bench/reference_app.py."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from marketplace import db, memory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def serve(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m marketplace serve ARGS` in a session of its own (so `stop_server` stops granian and its workers
    together), from the project's root, its output in ``log_path``."""
    with open(log_path, "wb") as log:  # the child holds its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "marketplace", "serve", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_server(dsn: str, secret: str, *, workers: int, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **memory.ALLOCATOR_ENV,
        **os.environ,
        "DATABASE_URL": db.with_user(dsn, db.APP_ROLE),  # as production runs: the API's own role (schema/0008)
        "MARKETPLACE_OWNER_DATABASE_URL": dsn,
        "MARKETPLACE_SECRET": secret,
        "MARKETPLACE_EXPENSIVE_LIMIT": "1000000",  # one commissioner key drives every match run of the benchmark
        "MARKETPLACE_DATA_DIR": str(log_path.parent / "server-data"),
        "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    # `marketplace serve` itself (its start-up: migrations, the role check, the directory views built once and
    # inherited by the workers), serving the product app plus the reference route
    args = ["--app", "reference_app:app_from_env", "--workers", str(workers), "--host", HOST, "--port", str(port)]
    return serve(args, env, log_path)


WORKER_READY = re.compile(r"worker \d+ ready: .*")


def live_children(pid: int) -> list[int]:
    """The pids of `pid`'s children still running (not zombies); one that ends while being looked at is left out."""
    out = []
    for p in psutil.Process(pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
    return out


def wait_ready(proc: subprocess.Popen, base: str, log_path: Path, *, workers: int, timeout: float = 300) -> list[str]:
    """Until /ready answers 200 and every worker has logged that its in-memory views are ready (brought up to
    date from the ones `serve` built before forking them; the first may answer /ready before the last). Their log
    lines."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=2) as r:
                lines = WORKER_READY.findall(log_path.read_text())
                if r.status == 200 and len(lines) >= workers:
                    return lines
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"the server did not become ready; its log ({log_path}):\n{log_path.read_text()[-4000:]}"
            )
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group (granian and its workers), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass
