"""The product app plus one route that is not in the product: the benchmark's reference endpoint.

    granian --interface asgi --factory reference_app:app_from_env      (with bench/ on PYTHONPATH)

`GET /__bench/ref/{id}` returns one provider row by primary key through the app's own asyncpg pool and
msgspec, with the same middleware, guards and server, so it measures the floor a real endpoint
stands on: the ratio of a scenario's throughput to this one's is the cost of the product's own work.
Everything else is `marketplace.app.create_app(Settings.from_env())`, unchanged.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, Request, Response, get

from marketplace.app import create_app
from marketplace.settings import Settings

REF_PATH = "/__bench/ref"


class RefRow(msgspec.Struct):
    id: int
    name: str
    version: int


@get(f"{REF_PATH}/{{provider_id:int}}", include_in_schema=False)
async def reference(request: Request, provider_id: int) -> Response[RefRow]:
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow("select id, name, version from provider where id = $1", provider_id)
    if row is None:
        return Response(RefRow(id=0, name="", version=0), status_code=404)
    return Response(RefRow(id=row["id"], name=row["name"], version=row["version"]))


def app_from_env() -> Litestar:
    app = create_app(Settings.from_env())
    app.register(reference)
    return app
