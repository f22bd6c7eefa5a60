"""The fault benchmark (bench/chaos.py, `make chaos`), scaled down: 8 s of load, a worker SIGKILLed at 2 s,
PostgreSQL restarted at 4 s. Every acknowledged write is in the history and no 5xx other than 503 is answered."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from conftest import EMBEDDED_ROOT

from marketplace.settings import PROJECT_ROOT


def test_a_short_chaos_run_loses_no_acknowledged_write() -> None:
    # its own embedded PostgreSQL (the run restarts it), outside pytest's rotating temporary directories
    data_dir = EMBEDDED_ROOT / f"chaos-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    try:
        proc = subprocess.run(
            [
                sys.executable,
                str(PROJECT_ROOT / "bench" / "chaos.py"),
                "--seconds",
                "8",
                "--kill-at",
                "2",
                "--restart-at",
                "4",
                "--data-dir",
                str(data_dir),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    acknowledged = re.search(r"^acknowledged writes +(\d+)$", out, re.M)
    found = re.search(r"^found in history +(\d+)$", out, re.M)
    assert acknowledged and found, out
    assert int(acknowledged.group(1)) == int(found.group(1)) > 0, out
    assert re.search(r"^5xx other than 503 +0$", out, re.M), out
    assert "worker SIGKILL" in out and "PostgreSQL restart" in out and "result: PASS" in out, out
