"""The interactive API docs work offline: every script, style sheet and icon the docs pages load is served by the app
itself (fetched at install time, never from a CDN at run time), and a policy in the page forbids any other origin."""

from __future__ import annotations

from urllib.parse import urlsplit

import html5lib
import pytest
from litestar.testing import AsyncTestClient

from marketplace.openapi import DOCS_POLICY

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def referenced(page: str) -> list[str]:
    """Every URL an element of the page loads or links to (src, href)."""
    tree = html5lib.parse(page, namespaceHTMLElements=False)
    return [url for el in tree.iter() for attr in ("src", "href") if (url := el.get(attr))]


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        ("/schema/swagger", {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"}),
        ("/schema", {"swagger-ui-bundle.js", "swagger-ui.css"}),  # the existing path: Swagger UI, as before
        ("/schema/redoc", {"redoc.standalone.js"}),
    ],
)
async def test_docs_pages_load_only_same_origin_assets_the_app_serves(
    read_client: AsyncTestClient, path: str, assets: set[str]
) -> None:
    r = await read_client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = referenced(r.text)
    assert assets <= {u.rsplit("/", 1)[-1] for u in urls}, urls
    assert "fonts.googleapis" not in r.text and "cdn." not in r.text.split("<body")[0]
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{path} loads {url} from elsewhere"
        asset = await read_client.get(url)
        suffix = "." + url.rsplit(".", 1)[-1]
        assert asset.status_code == 200, (url, asset.status_code, "run `make install` to fetch the docs' assets")
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), (url, asset.headers["content-type"])
        assert len(asset.content) > 500
    # the page itself forbids every other origin, before its first script (ReDoc's footer asks a CDN for a logo)
    head = r.text.split("<script")[0]
    assert f'content="{DOCS_POLICY}"' in head and "http-equiv='Content-Security-Policy'" in head
    assert "default-src 'self'" in DOCS_POLICY and "img-src 'self' data:" in DOCS_POLICY


async def test_the_assets_are_not_in_the_openapi_document_and_unknown_ones_are_404(
    read_client: AsyncTestClient,
) -> None:
    document = (await read_client.get("/schema/openapi.json")).json()
    assert not [p for p in document["paths"] if p.startswith("/schema")]
    missing = await read_client.get("/schema/assets/swagger-ui/nothing.js")
    assert missing.status_code == 404


async def test_the_openapi_document_is_built_when_first_asked_for_and_finished_then(read_db: str) -> None:
    """Starting the app does not build the document (0.35-0.45 s a start); the first request for it builds it, with
    the taxonomy's codes and our own component schemas, and later requests get the same document."""
    from conftest import app_settings
    from litestar._openapi.plugin import OpenAPIPlugin

    from marketplace.app import create_app

    app = create_app(app_settings(read_db))
    async with AsyncTestClient(app=app) as client:
        assert app.plugins.get(OpenAPIPlugin)._openapi is None and app.state.openapi_finished is False
        first = (await client.get("/schema/openapi.json")).json()
        assert app.state.openapi_finished is True
        pathway = first["components"]["schemas"]["ServiceIn"]["properties"]["pathway"]
        assert "ACCOM" in pathway["enum"]  # the taxonomy's codes: finished
        assert first["components"]["schemas"]["ServiceIn"]["additionalProperties"] is False  # msgspec's schema
        assert (await client.get("/schema/openapi.json")).json() == first
