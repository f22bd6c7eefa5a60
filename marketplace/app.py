"""The application factory. Nothing here runs at import: the pool opens in the lifespan."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.routes import HTTPRoute
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from marketplace import db, memory
from marketplace.accounts.routes import ROUTES as ACCOUNT_ROUTES
from marketplace.exercises.pools import match_pools
from marketplace.exercises.routes import ROUTES as EXERCISE_ROUTES
from marketplace.reports.routes import EXTRA_MEDIA_TYPES
from marketplace.reports.routes import ROUTES as REPORT_ROUTES
from marketplace.auth import audit_denials, load_secret, provide_actor, provide_caller, request_id_middleware
from marketplace.http import EXCEPTION_HANDLERS, provide_conn, reject_unknown_params
from marketplace.providers.queries import LiveIndex
from marketplace.providers.routes import ROUTES as PROVIDER_ROUTES
from marketplace.settings import Settings
from marketplace.system.routes import ROUTES as SYSTEM_ROUTES
from marketplace.taxonomy import queries as taxonomy_queries
from marketplace.taxonomy.routes import ROUTES as TAXONOMY_ROUTES
from marketplace.openapi import finish_openapi

log = logging.getLogger("marketplace")


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        memory.tune_allocator()
        dsn = await asyncio.to_thread(db.database_url, settings)
        app.state.settings = settings
        app.state.secret = await asyncio.to_thread(load_secret, settings)
        pool = await db.create_pool(dsn, settings)
        try:
            app.state.pool = pool
            app.state.taxonomy = await taxonomy_queries.fetch_taxonomy(pool)
            await _load_directory_views(app.state, pool)
            finish_openapi(app.openapi_schema, app.state.taxonomy, extra_media_types=EXTRA_MEDIA_TYPES)
            yield
        finally:
            await pool.close()

    app = Litestar(
        route_handlers=[*SYSTEM_ROUTES, *TAXONOMY_ROUTES, *PROVIDER_ROUTES, *ACCOUNT_ROUTES, *EXERCISE_ROUTES, *REPORT_ROUTES],
        lifespan=[lifespan],
        middleware=[request_id_middleware],
        guards=[reject_unknown_params],
        after_exception=[audit_denials],
        dependencies={
            "conn": Provide(provide_conn),
            "caller": Provide(provide_caller),
            "actor": Provide(provide_actor, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Provision marketplace API",
            version="0.1.0",
            description="Provider directory and explainable matching for public-sector commissioners.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
            components=Components(
                security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer", description="An API key: prv_...")}
            ),
            security=[{}, {"apiKey": []}],
        ),
        debug=False,
    )
    _fix_options_allow(app)
    return app


STARTUP_LOCK = 0x5052_4F57  # workers build their in-memory views of the directory one at a time


async def _load_directory_views(state: State, pool: asyncpg.Pool) -> None:
    """Build this process's search index and matching pool before serving, so no request pays for it.

    Worker processes take turns (an advisory lock): building takes several times the memory the views keep,
    and builds side by side would add those peaks together (and share the same two cores anyway)."""
    async with pool.acquire() as lock_conn:
        await lock_conn.execute("select pg_advisory_lock($1)", STARTUP_LOCK)
        try:
            t0 = time.perf_counter()
            state.search_index = await LiveIndex.load(pool)
            t1 = time.perf_counter()
            match_pool, _ = await match_pools(state).current(state)
            t2 = time.perf_counter()
        finally:
            await lock_conn.execute("select pg_advisory_unlock($1)", STARTUP_LOCK)
    log.info("worker %d ready: search index of %d providers in %.1f s, matching pool of %d in %.1f s",
             os.getpid(), state.search_index.index.live_rows(), t1 - t0, len(match_pool.provider_id), t2 - t1)


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
