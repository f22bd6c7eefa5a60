"""Test harness: a real PostgreSQL (embedded, or DATABASE_URL's server), a migrated and seeded
template database, and cheap clones of it so each test that writes gets a database of its own."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace import db
from marketplace.app import create_app
from marketplace.migrate import migrate
from marketplace.seed import seed
from marketplace.settings import PROJECT_ROOT, Settings

TELFORD_NEED = {
    "title": "Accommodation for adults in Telford",
    "pathway": "ACCOM",
    "areas": ["E06000020"],
    "annual_volume": 60,
    "annual_budget": 120000,
    "cohorts": ["ADULTS"],
}
"""A need as POSTed: accommodation for 60 adults a year in Telford."""
RUN_ID = uuid.uuid4().hex[:8]
TEST_SECRET = "test-secret-" + uuid.uuid4().hex


def run_cli(
    *args: str, env: dict[str, str] | None = None, dsn: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`marketplace ARGS...` as a user runs it: a process of its own (on `dsn`'s database when given)."""
    env = dict(os.environ if env is None else env)
    if dsn is not None:
        env.update(database_env(dsn))
    return subprocess.run(
        [sys.executable, "-m", "marketplace", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def bench_module(name: str) -> Any:
    """The benchmark's module `bench/<name>.py` (loaded once; `bench/` on the path, as its scripts have it, for the
    modules it imports)."""
    known = sys.modules.get(f"bench_{name}")
    if known is not None:
        return known
    bench = str(PROJECT_ROOT / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    spec = importlib.util.spec_from_file_location(f"bench_{name}", PROJECT_ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def app_settings(dsn: str, **overrides) -> Settings:
    """The app on `dsn`'s database as deployed: connecting as its own role, the tables owned by `dsn`'s user."""
    return Settings(
        database_url=db.with_user(dsn, db.APP_ROLE), owner_database_url=dsn, secret=TEST_SECRET, **overrides
    )


def database_env(dsn: str) -> dict[str, str]:
    """The environment that puts `marketplace` on `dsn`'s database, as `app_settings` does."""
    return {"DATABASE_URL": db.with_user(dsn, db.APP_ROLE), "MARKETPLACE_OWNER_DATABASE_URL": dsn}


def dsn_for(server_dsn: str, database: str) -> str:
    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


class Databases:
    """Creates databases on the test server and drops them all at the end."""

    def __init__(self, server_dsn: str) -> None:
        self.server_dsn = server_dsn
        self.created: list[str] = []
        self._n = 0

    def name(self, label: str) -> str:
        self._n += 1
        return f"provision_{RUN_ID}_{label}_{self._n}"

    async def create(self, label: str, template: str | None = None) -> str:
        name = self.name(label)
        admin = await asyncpg.connect(self.server_dsn)
        try:
            if template:
                await admin.execute(f'create database "{name}" template "{template}" strategy file_copy')
            else:
                await admin.execute(f'create database "{name}"')
        finally:
            await admin.close()
        self.created.append(name)
        return name

    async def drop(self, name: str) -> None:
        admin = await asyncpg.connect(self.server_dsn)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()
        if name in self.created:
            self.created.remove(name)

    def dsn(self, name: str) -> str:
        return dsn_for(self.server_dsn, name)


EMBEDDED_ROOT = Path(tempfile.gettempdir()) / "provision-tests"


def embedded_dir() -> Path:
    """A data directory for this run's embedded PostgreSQL, outside pytest's numbered temporary directories (pytest
    deletes the older of those when other runs start, even under a server that is still running). Directories of
    runs whose process has ended are removed."""
    EMBEDDED_ROOT.mkdir(exist_ok=True)
    for old in EMBEDDED_ROOT.glob("run-*"):
        pid = int(old.name.split("-")[1])
        if pid != os.getpid() and not psutil.pid_exists(pid):
            shutil.rmtree(old, ignore_errors=True)
    return EMBEDDED_ROOT / f"run-{os.getpid()}"


@pytest.fixture(scope="session")
def server_dsn() -> str:
    """DATABASE_URL's server when set; otherwise an embedded PostgreSQL for this run, made throwaway."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    dsn = db.start_embedded(embedded_dir())
    asyncio.run(throwaway(dsn))
    return dsn


async def throwaway(dsn: str) -> None:
    """The test run's own server writes nothing through to the disk: its data dies with the run, so waiting for
    fsync at every commit and at the checkpoints each cloned database (`strategy file_copy`) takes buys nothing.
    Durability itself is tested where it is meant (bench/chaos.py restarts a server of its own)."""
    conn = await asyncpg.connect(dsn)
    try:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            await conn.execute(f"alter system set {setting} = off")
        await conn.execute("select pg_reload_conf()")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def databases(server_dsn: str) -> AsyncIterator[Databases]:
    dbs = Databases(server_dsn)
    yield dbs
    for name in list(dbs.created):
        await dbs.drop(name)


@pytest.fixture(scope="session")
async def template_db(databases: Databases) -> str:
    """Migrated and seeded with seed_data/: every other database is cloned from it."""
    name = await databases.create("template")
    conn = await db.connect(databases.dsn(name))
    try:
        await migrate(conn, PROJECT_ROOT / "schema")
        await seed(conn, Settings.from_env().seed_dir)
    finally:
        await conn.close()
    return name


@pytest.fixture(scope="session")
async def read_db(databases: Databases, template_db: str) -> str:
    """One shared clone for tests that only read. Its DSN."""
    return databases.dsn(await databases.create("read", template=template_db))


@pytest.fixture
async def fresh_db(databases: Databases, template_db: str) -> AsyncIterator[str]:
    """A clone of its own for a test that writes. Its DSN."""
    name = await databases.create("t", template=template_db)
    yield databases.dsn(name)
    await databases.drop(name)


@pytest.fixture(scope="session")
async def read_client(read_db: str) -> AsyncIterator[AsyncTestClient]:
    """The real app on the shared read-only database. Shared by the whole session, whose anonymous exports (all from
    one address) would otherwise reach that address's limit a minute (tests/test_hardening.py tests the limit)."""
    settings = app_settings(read_db, anonymous_expensive_limit=1_000_000)
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


@pytest.fixture
async def client(fresh_db: str) -> AsyncIterator[AsyncTestClient]:
    """The real app on a database of this test's own."""
    async with AsyncTestClient(app=create_app(app_settings(fresh_db))) as client:
        yield client


@asynccontextmanager
async def served_at_once(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests the app serves at once, as one server worker would: the app runs on this test's event
    loop (its lifespan entered here), where litestar's AsyncTestClient serves one request at a time (it runs the
    app through a blocking portal, so `asyncio.gather` of its requests still runs them one after another)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:  # entered and left in one task of its own (the fixture's own may differ)
        async with app.lifespan():
            started.set()
            await stop.wait()

    running = asyncio.create_task(lifespan())
    await asyncio.wait([running, asyncio.ensure_future(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        running.result()  # the startup's exception
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            yield client
    finally:
        stop.set()
        await running


class Renders:
    """Counts calls of the functions `wrap`ped, each made to take 0.2 s more, and the most running at once (in
    threads): `made` their names, `most` the most at once."""

    def __init__(self) -> None:
        self.running, self.most, self.made = 0, 0, list[str]()
        self._lock = threading.Lock()

    def wrap(self, make: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(0.2)
            try:
                self.made.append(make.__name__)
                return make(*args, **kwargs)
            finally:
                with self._lock:
                    self.running -= 1

        return run


@pytest.fixture
async def at_once(fresh_db: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on a database of this test's own, serving concurrent requests at once (`served_at_once`)."""
    async with served_at_once(create_app(app_settings(fresh_db))) as client:
        yield client


@pytest.fixture
async def conn(read_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the shared database inside a transaction that is rolled back."""
    connection = await db.connect(read_db)
    tx = connection.transaction()
    await tx.start()
    try:
        yield connection
    finally:
        await tx.rollback()
        await connection.close()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer(str):
    """The base URL of a running server; `.dsn` is its database."""

    dsn: str


@contextmanager
def serving(dsn: str, log_name: str, **env: str) -> Iterator[LiveServer]:
    """`marketplace serve` itself on `dsn`'s database (and `env` besides), on a loopback port, until the block ends.
    A server error's traceback is in `log_name`, kept with the run's databases."""
    port = free_port()
    log = embedded_dir() / log_name
    env = {**os.environ, **database_env(dsn), "MARKETPLACE_SECRET": TEST_SECRET, **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketplace", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),  # a file, not a pipe nobody reads (a full pipe would stall the server)
    )
    base = LiveServer(f"http://127.0.0.1:{port}")
    base.dsn = dsn
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {log.read_text()}")
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
async def live_server(databases: Databases) -> AsyncIterator[LiveServer]:
    """`marketplace serve` itself, on a loopback port and an empty database it migrates and seeds."""
    dsn = databases.dsn(await databases.create("live"))
    # the property tests send thousands of requests with bad keys from one address: no limit on denials here
    # (the limit itself: tests/test_audit.py)
    with serving(dsn, "live-server.log", MARKETPLACE_DENIAL_LIMIT="10000000") as base:
        yield base


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    return Settings.from_env().seed_dir


class Keys:
    """Makes API keys in one test database, the way `marketplace keys create` does."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def make(self, role: str, provider_id: int | None = None, name: str = "test") -> tuple[int, str]:
        from marketplace.accounts.models import key_request
        from marketplace.accounts.service import make_key

        conn = await db.connect(self.dsn)
        try:
            made = await make_key(conn, TEST_SECRET.encode(), key_request(role, name, provider_id), created_by=None)
        finally:
            await conn.close()
        return made.api_key.id, made.key

    async def headers(self, role: str, provider_id: int | None = None) -> dict[str, str]:
        _, key = await self.make(role, provider_id)
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(fresh_db: str) -> Keys:
    return Keys(fresh_db)


@pytest.fixture(scope="session")
def read_keys(read_db: str) -> Keys:
    return Keys(read_db)


async def fetchval(dsn: str, sql: str, *args: object) -> Any:
    """One value read from the database at `dsn`, on a connection of its own (closed again)."""
    conn = await db.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def execute(dsn: str, sql: str, *args: object) -> None:
    """One statement run on the database at `dsn`, on a connection of its own (closed again)."""
    conn = await db.connect(dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def rename_behind_the_apps_back(dsn: str, provider_id: int, name: str) -> None:
    """Rename a provider in the database at `dsn` as another program would (its search row refreshed in the same
    transaction), not through the app: what the app has cached must notice."""
    conn = await db.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("update provider set name = $2 where id = $1", provider_id, name)
            await conn.execute("select refresh_provider_search($1::bigint[])", [provider_id])
    finally:
        await conn.close()


@asynccontextmanager
async def migrated_before(dsn: str, number: int, directory: Path) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the (new) database at `dsn`, migrated as deployed before migration `number` (the released
    migrations copied into `directory` first); closed on leaving."""
    before = schema_before(number, directory)
    conn = await db.connect(dsn)
    try:
        await migrate(conn, before)
        yield conn
    finally:
        await conn.close()


def schema_before(number: int, directory: Path) -> Path:
    """A folder in `directory` holding the released migrations numbered below `number` (a database migrated from it
    is as deployed before migration `number`)."""
    before = directory / "schema"
    before.mkdir()
    for path in sorted((PROJECT_ROOT / "schema").glob("*.sql")):
        if int(path.name[:4]) < number:
            shutil.copy(path, before / path.name)
    return before


LONGEST_FIRST = (
    "tests/test_schemathesis.py::test_api_in_depth_as_admin",  # ~2 min: nearly every operation, edge cases included
    "tests/test_bench_smoke.py::test_a_small_run_of_the_whole_harness",  # ~1 min
    "tests/test_search_index.py::test_search_answers_what_the_rows_say",
    "tests/matching/test_matching_properties.py::",  # ~20-30 s each
    "tests/test_schemathesis.py::test_api_",  # 5-30 s each
    "tests/test_chaos_smoke.py::",
)
"""Tests that take a minute or more, started first: under pytest-xdist (`make test` runs the suite on every core) a
long test handed out last would keep one worker busy long after the others have finished."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: otherwise as collected


class Held(NamedTuple):
    thread: threading.Thread
    failed: list[BaseException]


def held(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[object]], seconds: float) -> Held:
    """`work` done in a transaction on a connection of its own, in a thread of its own (the test client blocks the
    test's event loop while a request runs), the transaction held open `seconds` after it, then committed."""
    done = threading.Event()
    failed: list[BaseException] = []

    async def main() -> None:
        conn = await db.connect(dsn)
        try:
            async with conn.transaction():
                await work(conn)
                done.set()
                await asyncio.sleep(seconds)
        finally:
            await conn.close()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            failed.append(exc)
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert done.wait(60) and not failed, failed
    return Held(thread, failed)
