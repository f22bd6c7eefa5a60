"""The application factory. Nothing here runs at import: the pool opens in the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.routes import HTTPRoute
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from marketplace import db
from marketplace.accounts.routes import ROUTES as ACCOUNT_ROUTES
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


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        dsn = await asyncio.to_thread(db.database_url, settings)
        app.state.settings = settings
        app.state.secret = await asyncio.to_thread(load_secret, settings)
        pool = await db.create_pool(dsn, settings)
        try:
            app.state.pool = pool
            app.state.taxonomy = await taxonomy_queries.fetch_taxonomy(pool)
            app.state.search_index = await LiveIndex.load(pool)
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
