"""Liveness and readiness."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Response, get
from litestar.datastructures import State

from marketplace.http import ErrorBody, errors_doc


class Health(msgspec.Struct):
    status: str


@get("/health", summary="The process is up", tags=["system"], responses=errors_doc())
async def health() -> Health:
    return Health(status="ok")


@get("/ready", summary="The database is reachable", tags=["system"], responses=errors_doc(503))
async def ready(state: State) -> Response[Health | ErrorBody]:
    try:
        async with asyncio.timeout(3):
            async with state.pool.acquire() as conn:
                await conn.fetchval("select 1")
    except Exception as exc:
        return Response(
            ErrorBody(
                status=503,
                error="database_unavailable",
                message=f"database not reachable: {type(exc).__name__}",
                errors=[],
            ),
            status_code=503,
        )
    return Response(Health(status="ready"))


ROUTES = [health, ready]
