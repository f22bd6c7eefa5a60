"""The application factory. Nothing here runs at import: the pool opens in the lifespan.

Layers (a test keeps them, tests/test_architecture.py):
    app, cli, openapi, seed            composition: may use every room
    console > appraisals > reports > engagement, imports > exercises, standards, reconciliation > providers
        > accounts > taxonomy, system
                                       rooms: routes -> service -> queries / models; a room uses lower
                                       rooms' service and models only, never a room beside or above it
    types, errors, clock, settings, context, db, http, audit, concurrency, changes, memory, templating, formatting,
    throttle
                                       shared by every room; import no room (context: the taxonomy models)
    matching                           the pure core: imports nothing of the shell
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import os
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.types import ExceptionHandler

import matching
from marketplace import audit, db, memory
from marketplace.accounts import service as accounts
from marketplace.accounts.auth import audit_denials, auditors_only_read, authentication
from marketplace.accounts.routes import ROUTES as ACCOUNT_ROUTES
from marketplace.appraisals.routes import EXTRA_MEDIA_TYPES as APPRAISAL_MEDIA_TYPES
from marketplace.appraisals.routes import ROUTES as APPRAISAL_ROUTES
from marketplace.clock import Clock
from marketplace.console.routes import CONSOLE, error_page
from marketplace.context import Context
from marketplace.engagement.routes import ROUTES as ENGAGEMENT_ROUTES
from marketplace.exercises.pools import MatchPools, split_from
from marketplace.exercises.routes import ROUTES as EXERCISE_ROUTES
from marketplace.http import (
    EXCEPTION_HANDLERS,
    StrictRequest,
    head_as_get,
    provide_actor,
    provide_conn,
    provide_ctx,
    raw_bytes_encoded,
    reject_unknown_params,
    request_id_middleware,
    strict_requests,
)
from marketplace.imports.routes import ROUTES as IMPORT_ROUTES
from marketplace.openapi import docs_assets, docs_plugins, finish_on_first_use
from marketplace.providers.index import SearchIndex
from marketplace.providers.live_index import LiveIndex
from marketplace.providers.routes import ROUTES as PROVIDER_ROUTES
from marketplace.reconciliation.routes import EXTRA_MEDIA_TYPES as RECONCILE_MEDIA_TYPES
from marketplace.reconciliation.routes import ROUTES as RECONCILE_ROUTES
from marketplace.reconciliation.routes import cors_before_send as reconcile_cors
from marketplace.reports.routes import EXTRA_MEDIA_TYPES
from marketplace.reports.routes import ROUTES as REPORT_ROUTES
from marketplace.reports.service import REPORT_BUILDS
from marketplace.settings import Settings
from marketplace.standards.routes import EXPORT_MEDIA_TYPES, cors_before_send
from marketplace.standards.routes import ROUTES as STANDARDS_ROUTES
from marketplace.system.routes import ROUTES as SYSTEM_ROUTES
from marketplace.taxonomy import service as taxonomy
from marketplace.taxonomy.routes import ROUTES as TAXONOMY_ROUTES
from marketplace.throttle import KeyBudget

log = logging.getLogger("marketplace")


def create_app(settings: Settings, *, clock: Clock | None = None) -> Litestar:
    """The API over the database `settings` name. `clock`: the one clock use cases read (default: the system's)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        dsn = await asyncio.to_thread(db.database_url, settings)
        secret = await asyncio.to_thread(accounts.load_secret, settings)
        patience = time.monotonic() + WORKER_PATIENCE
        pool = await db.create_pool(dsn, settings, patience=WORKER_PATIENCE)
        try:
            app.state.pool = pool
            while True:  # the database restarting while this worker reads what it serves from: read it again
                try:
                    tax = await taxonomy.load(pool)
                    app.state.ctx = Context(settings=settings, clock=clock or Clock(), taxonomy=tax, secret=secret)
                    app.state.denials = audit.Denials(settings.denial_limit)
                    app.state.budget = KeyBudget(settings.expensive_limit, settings.anonymous_expensive_limit)
                    app.state.report_builds = asyncio.Semaphore(REPORT_BUILDS)
                    await _load_directory_views(app.state, pool, tax.matching_areas)
                    break
                except db.LOST as exc:
                    if time.monotonic() >= patience:
                        raise
                    log.warning("the database went away while this worker started (%s); starting again", exc)
                    await asyncio.sleep(0.5)
            media_types = {**EXTRA_MEDIA_TYPES, **APPRAISAL_MEDIA_TYPES, **RECONCILE_MEDIA_TYPES, **EXPORT_MEDIA_TYPES}
            finish_on_first_use(app, tax, extra_media_types=media_types)  # built when first asked for
            flusher = asyncio.create_task(_record_denials_every(DENIALS_FLUSH_SECONDS, app.state, pool))
            try:
                yield
            finally:
                flusher.cancel()
                await _record_denials(app.state.denials, pool, None)  # the minutes still counting, too
        finally:
            match_pools = getattr(app.state, "match_pools", None)
            if match_pools is not None:
                match_pools.close()  # its helper process, if any
            await pool.close()

    app = Litestar(
        route_handlers=[
            *SYSTEM_ROUTES,
            *TAXONOMY_ROUTES,
            *PROVIDER_ROUTES,
            *ACCOUNT_ROUTES,
            *EXERCISE_ROUTES,
            *ENGAGEMENT_ROUTES,
            *REPORT_ROUTES,
            *APPRAISAL_ROUTES,
            *STANDARDS_ROUTES,
            *IMPORT_ROUTES,
            *RECONCILE_ROUTES,
            docs_assets(),
            CONSOLE,  # the browser console, /console (not in the OpenAPI document)
        ],
        lifespan=[lifespan],
        # every request: an id; only our own characters in the path and JSON bodies; a presented key that is valid
        # (on every route: a bad credential is refused even where none is needed), before anything else runs
        middleware=[request_id_middleware, strict_requests, authentication],
        request_class=StrictRequest,  # a JSON body is read as written, never converted leniently
        guards=[reject_unknown_params, auditors_only_read],
        after_exception=[audit_denials],
        before_send=[cors_before_send, reconcile_cors],  # Access-Control-Allow-Origin: * under /hsds, /reconcile
        dependencies={
            "ctx": Provide(provide_ctx, sync_to_thread=False),
            "conn": Provide(provide_conn),
            "actor": Provide(provide_actor, sync_to_thread=False),
        },
        exception_handlers={cls: _console_pages(handler) for cls, handler in EXCEPTION_HANDLERS.items()},
        openapi_config=OpenAPIConfig(
            title="Provision marketplace API",
            version="0.1.0",
            description="Provider directory and explainable matching for public-sector commissioners.",
            path="/schema",
            render_plugins=docs_plugins(),
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer", description="An API key: prv_...")
                }
            ),
            security=[{}, {"apiKey": []}],
        ),
        debug=False,
    )
    _fix_options_allow(app)
    app.asgi_handler = head_as_get(app.asgi_handler, CONSOLE.path)  # HEAD on a console page answers as GET would
    app.asgi_handler = raw_bytes_encoded(app.asgi_handler)  # `?q=café` sent as typed is read as UTF-8, as `%C3%A9` is
    return app


DENIALS_FLUSH_SECONDS = 5.0
"""How often a worker records the denied-request counts of the minutes that are over."""


def _console_pages(handler: ExceptionHandler[Any]) -> ExceptionHandler[Any]:
    """`handler`, but a console page for a request under /console that no console route took (an address it has no
    page for, a method its pages do not take, a path with characters ours never have): the console's own routes
    answer their errors as pages themselves."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        path = request.url.path
        return error_page(request, exc) if path == "/console" or path.startswith("/console/") else handler(request, exc)

    return handle


async def _record_denials_every(seconds: float, state: State, pool: db.Pool) -> None:
    while True:
        await asyncio.sleep(seconds)
        await _record_denials(state.denials, pool, state.ctx.clock.now())


async def _record_denials(denials: audit.Denials, pool: db.Pool, now: dt.datetime | None) -> None:
    tallies = denials.closed(now)
    try:
        await audit.record_denials(pool, tallies)
    except Exception:
        denials.restore(tallies)  # counted still; the next round tries again
        log.exception("could not record denied requests in the audit log")


WORKER_PATIENCE = 30.0
"""Seconds a starting worker waits for a database that is restarting: a worker respawned while PostgreSQL restarts
(after the out-of-memory killer, say) failed to start, and granian, taking that for a crash loop, stopped the whole
server (bench/chaos.py, when the respawn was slow enough to meet the restart). Whether the restart comes before the
worker's pool is made (it waits to connect) or while it reads the taxonomies and builds its views (it reads them
again): on a machine loaded enough, the chaos run's restart met a worker still building."""
STARTUP_LOCK = 0x5052_4F57  # workers build their in-memory views of the directory one at a time


@dataclass(frozen=True, slots=True)
class Views:
    """This directory's in-memory views (the search index, the matching pool) and the snapshots they are exact for,
    built by the serving process before it starts its workers (`preload_views`)."""

    built_by: int
    """The process that built them: a worker forked from it starts from them."""
    search_index: SearchIndex
    search_snapshot: str
    match_parts: tuple[matching.CompactPool, ...]
    match_snapshot: str


INHERITED: list[Views] = []
"""Set in the serving process by `preload_views`; a worker forked from it (or respawned) inherits the views."""


def preload_views(settings: Settings) -> Views:
    """Build the views once in this (the serving) process, before any worker starts. Workers forked from it (at
    start, and every respawn after a worker dies) share the views' memory and only take in what was written since
    (marketplace.changes) instead of building their own: at 200,000 providers a worker serves in a few seconds
    instead of tens. Objects built so far are frozen out of the garbage collector, so that collections in the
    workers do not write to (and so copy) the shared pages, and the youngest generation is collected less often
    (`memory.tune_collector`)."""

    async def build() -> Views:
        pool = await db.create_pool(await asyncio.to_thread(db.database_url, settings), settings)
        try:
            tax = await taxonomy.load(pool)
            live = await LiveIndex.load(pool)
            match_parts, _, snapshot, _ = await MatchPools(
                pool,
                tax.matching_areas,
                slots=1,
                pathway_names=tax.codes("pathways"),
                split_from=split_from(settings),
                helper=False,  # this process ranks nothing: each worker forks its own
            ).current()
        finally:
            await pool.close()
        return Views(os.getpid(), live.index, live.snapshot, match_parts, snapshot)

    INHERITED[:] = [asyncio.run(build())]
    gc.collect()
    gc.freeze()
    memory.tune_collector()
    return INHERITED[0]


async def _load_directory_views(state: State, pool: db.Pool, areas: matching.AreaTree) -> None:
    """Build this process's search index and matching pool before serving, so no request pays for it: from the
    views inherited from the serving process when there are some (bringing them up to date), else from SQL.

    Worker processes building from SQL take turns (an advisory lock): building takes several times the memory the
    views keep, and builds side by side would add those peaks together (and share the same two cores anyway)."""
    ctx: Context = state.ctx
    state.match_pools = MatchPools(
        pool,
        areas,
        slots=ctx.settings.match_slots,
        pathway_names=ctx.taxonomy.codes("pathways"),
        split_from=split_from(ctx.settings),
    )
    views = next((v for v in INHERITED if v.built_by != os.getpid()), None)
    t0 = time.perf_counter()
    if views is not None:
        state.search_index = LiveIndex(views.search_index, views.search_snapshot)
        state.match_pools.parts, state.match_pools.snapshot = views.match_parts, views.match_snapshot
        async with pool.acquire() as conn:
            await state.search_index.catch_up(conn)
        t1 = time.perf_counter()
        await state.match_pools.current()
        t2 = time.perf_counter()
    else:
        async with pool.acquire() as lock_conn:
            await lock_conn.execute("select pg_advisory_lock($1)", STARTUP_LOCK)
            try:
                state.search_index = await LiveIndex.load(pool)
                t1 = time.perf_counter()
                await state.match_pools.current()
                t2 = time.perf_counter()
            finally:
                await lock_conn.execute("select pg_advisory_unlock($1)", STARTUP_LOCK)
    log.info(
        "worker %d ready: search index of %d providers in %.1f s, matching pool of %d in %.1f s (%s)",
        os.getpid(),
        state.search_index.index.live_rows(),
        t1 - t0,
        len(state.match_pools),
        t2 - t1,
        f"inherited from process {views.built_by}, brought up to date" if views is not None else "built from SQL",
    )


def _fix_options_allow(app: Litestar) -> None:
    """Litestar (2.x) builds a path's automatic OPTIONS handler with the first handler registered on it and
    rebuilds the route as more arrive, so `Allow` listed only the first method (GET /providers/{id} but not
    PATCH). Point each OPTIONS handler at its route's full method set."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.handler_name != "options_handler":
                continue
            for cell in handler.fn.__closure__ or ():
                if isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents.methods = route.methods


def app_from_env() -> Litestar:
    """Factory for the ASGI server (granian --factory): settings from the environment."""
    return create_app(Settings.from_env())
