"""The application factory. Nothing here runs at import: the pool opens in the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from marketplace import db
from marketplace.http import EXCEPTION_HANDLERS, provide_conn
from marketplace.providers.routes import ROUTES as PROVIDER_ROUTES
from marketplace.settings import Settings
from marketplace.system.routes import ROUTES as SYSTEM_ROUTES
from marketplace.taxonomy import queries as taxonomy_queries
from marketplace.taxonomy.routes import ROUTES as TAXONOMY_ROUTES
from marketplace.taxonomy.routes import publish_codes


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        dsn = await asyncio.to_thread(db.database_url, settings)
        pool = await db.create_pool(dsn, settings)
        try:
            app.state.pool = pool
            app.state.taxonomy = await taxonomy_queries.fetch_taxonomy(pool)
            publish_codes(app.openapi_schema, app.state.taxonomy)
            yield
        finally:
            await pool.close()

    return Litestar(
        route_handlers=[*SYSTEM_ROUTES, *TAXONOMY_ROUTES, *PROVIDER_ROUTES],
        lifespan=[lifespan],
        dependencies={"conn": Provide(provide_conn)},
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Provision marketplace API",
            version="0.1.0",
            description="Provider directory and explainable matching for public-sector commissioners.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        debug=False,
    )


def app_from_env() -> Litestar:
    """Factory for the ASGI server (granian --factory): settings from the environment."""
    return create_app(Settings.from_env())
