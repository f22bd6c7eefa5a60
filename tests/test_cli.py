"""The `marketplace` command, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import asyncpg
from conftest import run_cli

from marketplace.settings import PROJECT_ROOT


def test_embedded_mode_needs_no_database_and_keeps_its_data(tmp_path):
    """With no DATABASE_URL the command starts its own PostgreSQL under MARKETPLACE_DATA_DIR."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["MARKETPLACE_DATA_DIR"] = str(tmp_path / "data")
    first = run_cli("seed", env=env)
    assert first.returncode == 0, first.stderr
    assert "migration" in first.stdout and "loaded 0" not in first.stdout
    second = run_cli("seed", env=env)  # a second process: same data directory, data still there
    assert second.returncode == 0, second.stderr
    assert "loaded 0 demo providers" in second.stdout
    assert (tmp_path / "data" / "pg" / "PG_VERSION").exists()
    url = run_cli("db-url", env=env)  # the API's own role; the owner's for migrations
    assert url.returncode == 0 and url.stdout.startswith("postgresql://marketplace_app@")
    owner = run_cli("db-url", "--owner", env=env)
    assert owner.returncode == 0 and owner.stdout.startswith("postgresql://postgres")


async def test_migrate_seed_and_db_url_against_database_url(databases):
    name = await databases.create("cli")
    env = {**os.environ, "DATABASE_URL": databases.dsn(name)}
    assert run_cli("db-url", env=env).stdout.strip() == databases.dsn(name)
    migrated = run_cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("applied ") and not migrated.stdout.startswith("applied 0")
    assert run_cli("migrate", env=env).stdout.startswith("applied 0 ")
    seeded = run_cli("seed", env=env)
    assert seeded.returncode == 0, seeded.stderr
    conn = await asyncpg.connect(databases.dsn(name))
    try:
        n = await conn.fetchval("select count(*) from provider")
        assert n >= 1 and f"loaded {n:,} demo providers" in seeded.stdout
        reset = run_cli("seed", "--reset", env=env)
        assert f"loaded {n:,} demo providers" in reset.stdout
    finally:
        await conn.close()


def test_a_bad_seed_file_fails_with_a_clear_message(tmp_path, seed_dir):
    import shutil

    bad = tmp_path / "seed"
    shutil.copytree(seed_dir, bad)
    records = json.loads((bad / "pathways.json").read_text())
    records[1]["code"] = "not a code"
    (bad / "pathways.json").write_text(json.dumps(records))
    env = {
        **os.environ,
        "MARKETPLACE_SEED_DIR": str(bad),
        "MARKETPLACE_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = run_cli("seed", env=env)
    assert result.returncode == 2
    assert "pathways.json: record 1" in result.stderr and "code" in result.stderr


def test_serve_migrated_and_seeded_an_empty_database(live_server):
    with urllib.request.urlopen(f"{live_server}/providers?per_page=1") as r:
        body = json.loads(r.read())
    assert body["total"] >= 1


def test_a_command_on_a_database_without_taxonomies_says_so(tmp_path: Path) -> None:
    """Run from another folder, the command starts a new, empty embedded database there: an import then called every
    row bad ("'Charitable incorporated organisation (CIO)' is not a legal form code") and a key was made in a database
    no server uses. It now stops, saying why and what to do."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MARKETPLACE_OWNER_DATABASE_URL")}

    def here(*args: str) -> subprocess.CompletedProcess[str]:
        """`marketplace ARGS` run in tmp_path, naming no database: the embedded one there, if any."""
        return subprocess.run(
            [sys.executable, "-m", "marketplace", *args],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = here("keys", "create", "--role", "admin", "--name", "Elsewhere")
    assert done.returncode == 2, done.stderr
    assert f"there is no database in {(tmp_path / '.marketplace').resolve()}: run the command from the" in done.stderr
    assert "prv_" not in done.stdout
    assert not (tmp_path / ".marketplace").exists()  # no database made as a side effect
    # a database there that has not been seeded: said so
    migrated = here("migrate")
    assert migrated.returncode == 0, migrated.stderr
    done = here("keys", "create", "--role", "admin", "--name", "Elsewhere")
    assert done.returncode == 2, done.stderr
    assert "has no taxonomies yet: run `marketplace seed` first" in done.stderr
    assert str((tmp_path / ".marketplace").resolve()) in done.stderr
    assert "prv_" not in done.stdout


def test_a_reader_that_stops_reading_is_no_database_error(fresh_db):
    """`marketplace keys list | head -1`: the pipe closed before the command wrote. It said "error: cannot use the
    database: [Errno 32] Broken pipe" and exited 2; now it stops quietly."""
    from conftest import database_env

    proc = subprocess.Popen(
        [sys.executable, "-m", "marketplace", "keys", "list"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **database_env(fresh_db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command has started, let alone written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "database" not in stderr and "Traceback" not in stderr, stderr


async def test_a_key_for_no_provider_and_one_match_run_are_said_in_good_english(client, keys, fresh_db):
    from test_engagement import NEED

    refused = run_cli("keys", "create", "--role", "admin", "--name", "Ops", "--provider", "3", dsn=fresh_db)
    assert refused.returncode != 0
    assert "--provider goes with --role provider only: an admin key acts for no provider" in refused.stderr
    auditor = run_cli("keys", "create", "--role", "auditor", "--name", "Ext", "--provider", "3", dsn=fresh_db)
    assert "an auditor key acts for no provider" in auditor.stderr
    commissioner = run_cli("keys", "create", "--role", "commissioner", "--name", "C", "--provider", "3", dsn=fresh_db)
    assert "a commissioner key acts for no provider" in commissioner.stderr
    h = await keys.headers("commissioner")
    made = await client.post("/exercises", json={"title": "One need", "commissioning_body": "Trust"}, headers=h)
    one = made.json()["id"]
    assert (await client.post(f"/exercises/{one}/needs", json=NEED, headers=h)).status_code == 201
    exercise = run_cli("match-exercise", str(one), dsn=fresh_db)
    assert exercise.returncode == 0, exercise.stderr
    assert f"Exercise {one}: 1 match run stored, 0 reused" in exercise.stdout, exercise.stdout
