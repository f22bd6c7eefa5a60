"""Making the OpenAPI document exact.

msgspec validates every body, so msgspec's own JSON Schema of each Struct is the truth about what is
accepted (patterns on list items, `additionalProperties: false`, nullable vs absent); Litestar's
generated component schemas lose some of that, so ours replace them. The taxonomy codes live in the
database, so once they are loaded every code-valued parameter and field gets its `enum`."""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any, get_args

import msgspec
from litestar import Litestar, Router
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.plugins import OpenAPIRenderPlugin, RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import (
    Discriminator,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from litestar.static_files import create_static_files_router

import marketplace
from marketplace.concurrency import ETAG_PATTERN
from marketplace.http import ERROR_DESCRIPTIONS
from marketplace.messages import CODE_FIELDS, CODE_KEYS
from marketplace.providers.models import SEARCH_GENDERS, Complexity, DeliveryMode
from marketplace.taxonomy.models import Taxonomy

# --- the interactive docs, offline -----------------------------------------------------------------------------------
# Swagger UI at /schema/swagger (and /schema), ReDoc at /schema/redoc: their scripts, styles and icon are served by the
# app from marketplace/static/apidocs/ (fetched from the npm registry at install time by the Makefile, pinned and
# checked), never from a CDN, so the docs work on a network with no way out.
APIDOCS_DIR = Path(marketplace.__file__).parent / "static" / "apidocs"
APIDOCS_PATH = "/schema/assets"
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)
"""The docs pages' Content-Security-Policy: nothing but this origin (ReDoc's footer would fetch a logo from a CDN)."""
_HEAD = (  # the plugins put `favicon` at the top of <head>, before any script: the policy governs every fetch
    f"<meta http-equiv='Content-Security-Policy' content=\"{DOCS_POLICY}\">"
    f"<link rel='icon' type='image/png' href='{APIDOCS_PATH}/swagger-ui/favicon-32x32.png'>"
)


def docs_plugins() -> list[OpenAPIRenderPlugin]:
    """The docs pages, every asset they load same-origin (the first plugin also serves /schema itself)."""
    return [
        SwaggerRenderPlugin(
            js_url=f"{APIDOCS_PATH}/swagger-ui/swagger-ui-bundle.js",
            css_url=f"{APIDOCS_PATH}/swagger-ui/swagger-ui.css",
            standalone_preset_js_url=f"{APIDOCS_PATH}/swagger-ui/swagger-ui-standalone-preset.js",
            favicon=_HEAD,
        ),
        RedocRenderPlugin(js_url=f"{APIDOCS_PATH}/redoc/redoc.standalone.js", google_fonts=False, favicon=_HEAD),
    ]


def docs_assets() -> Router:
    """The docs pages' assets, as files (not in the OpenAPI document)."""
    return create_static_files_router(
        path=APIDOCS_PATH, directories=[APIDOCS_DIR], name="apidocs", include_in_schema=False
    )


CODE_NAMES = {name: kind for name, kind in CODE_FIELDS.items() if name != "pathways"}
"""Parameter and field names whose values are taxonomy codes -> the taxonomy: the messages' (one table), but for
`pathways`, which the document has never given the codes of (the directory's and the report's response fields)."""

# Query parameters whose values come from a fixed list (checked by the use case, which names the allowed values).
FIXED_CODES = {
    "complexity": list(get_args(Complexity)),
    "delivery_mode": list(get_args(DeliveryMode)),
    "gender": list(SEARCH_GENDERS),
}

_KEYWORDS = {
    "anyOf": "any_of",
    "oneOf": "one_of",
    "allOf": "all_of",
    "additionalProperties": "additional_properties",
    "propertyNames": "property_names",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_items",
    "maxItems": "max_items",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "uniqueItems": "unique_items",
    "readOnly": "read_only",
    "writeOnly": "write_only",
    "multipleOf": "multiple_of",
    "minProperties": "min_properties",
    "maxProperties": "max_properties",
    "$defs": "defs",
    "not": "schema_not",
}


def _struct_types() -> list[type[msgspec.Struct]]:
    """Every Struct the marketplace defines (the API's bodies and responses among them)."""
    found: dict[str, type[msgspec.Struct]] = {}
    for mod in pkgutil.walk_packages(marketplace.__path__, "marketplace."):
        if mod.name.endswith(("__main__", ".cli")):
            continue
        module = importlib.import_module(mod.name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, msgspec.Struct)
                and obj.__module__ == module.__name__
                and not getattr(obj, "__parameters__", ())
            ):  # a generic (Page[T]) is named by its subclasses
                found[obj.__name__] = obj
    return list(found.values())


def _to_spec(node: Any) -> Schema | Reference:
    if "$ref" in node:
        return Reference(ref=node["$ref"])
    kw: dict[str, Any] = {}
    for key, raw in node.items():
        name = _KEYWORDS.get(key, key)
        value: Any = raw
        if name == "properties":
            value = {k: _to_spec(v) for k, v in raw.items()}
        elif name in ("items", "schema_not", "property_names") or (
            name == "additional_properties" and isinstance(raw, dict)
        ):
            value = _to_spec(raw)
        elif name in ("any_of", "one_of", "all_of"):
            value = [_to_spec(v) for v in raw]
        elif name == "type":
            value = [OpenAPIType(v) for v in raw] if isinstance(raw, list) else OpenAPIType(raw)
        elif name == "discriminator":
            value = Discriminator(property_name=raw["propertyName"], mapping=raw.get("mapping"))
        kw[name] = value
    return Schema(**kw)


def _add_enums(node: Any, taxonomy: Taxonomy, name: str | None = None) -> None:
    """Walk a JSON schema; a string (or array of strings) under a code name gets the codes as its enum, and an object
    under a name whose keys are codes (`CODE_KEYS`) gets them as the enum of its property names."""
    if isinstance(node, dict):
        kind = CODE_NAMES.get(name or "")
        if kind:
            codes = list(taxonomy.codes(kind))
            for target in [node, *node.get("anyOf", ())]:
                if target.get("type") == "string":
                    target["enum"] = codes
                elif target.get("type") == "array" and target.get("items", {}).get("type") == "string":
                    target["items"]["enum"] = codes
        if keys := CODE_KEYS.get(name or ""):
            for target in [node, *node.get("anyOf", ())]:
                if target.get("type") == "object" and isinstance(target.get("propertyNames"), dict):
                    target["propertyNames"]["enum"] = list(taxonomy.codes(keys))
        for key, value in node.items():
            if key == "properties":
                for prop, sub in value.items():
                    _add_enums(sub, taxonomy, prop)
            elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
                _add_enums(value, taxonomy, name if key in ("anyOf", "oneOf") else None)
    elif isinstance(node, list):
        for item in node:
            _add_enums(item, taxonomy, name)


def _param_schema(schema: Any, codes: list[str] | None, pattern: str | None = None) -> None:
    if schema is None:
        return
    for sub in schema.one_of or ():
        _param_schema(sub, codes, pattern)
    if codes and schema.items is not None and schema.items.type == OpenAPIType.STRING:
        schema.items.enum = codes
    elif schema.type == OpenAPIType.STRING:
        if codes:
            schema.enum = codes
        if pattern:
            schema.pattern = pattern


def _allows_null(body: Any) -> bool:
    for media in (body.content or {}).values():
        schema = media.schema
        if isinstance(schema, Schema) and any(
            isinstance(s, Schema) and s.type == OpenAPIType.NULL for s in schema.one_of or ()
        ):
            return True
    return False


def _add_unsupported_media_type(op: Operation | None) -> None:
    """A POST, PUT or PATCH whose body is sent as another media type than it takes is refused before it is read
    (415, `marketplace.http.strict_requests`): said in its responses, with the body every error has."""
    responses = op.responses if op else None
    error = responses.get("401") if responses else None  # every operation's (errors_doc)
    if responses is None or error is None or isinstance(error, Reference):
        return
    if "415" not in responses:
        content = {media: OpenAPIMediaType(schema=m.schema) for media, m in (error.content or {}).items()}
        responses["415"] = OpenAPIResponse(description=ERROR_DESCRIPTIONS[415], content=content)
    ordered = sorted(responses.items())  # in status order, as the others
    responses.clear()
    responses.update(ordered)


class _FinishedOnFirstUse(OpenAPIPlugin):
    """Litestar's OpenAPI plugin, its document finished (:func:`finish_openapi`, with the taxonomy the lifespan
    loaded) the first time it is provided once the app has started: at the first request for the document, not at
    every start (building it takes 0.35-0.45 s, which every test's app paid, over a minute of the suite)."""

    __slots__ = ()

    def provide_openapi(self) -> OpenAPI:
        openapi = super().provide_openapi()
        finish = getattr(self.app.state, "finish_openapi", None)
        if finish is not None and not getattr(self.app.state, "openapi_finished", False):
            finish(openapi)
            self.app.state.openapi_finished = True
        return openapi


def finish_on_first_use(app: Litestar, taxonomy: Taxonomy, *, extra_media_types: dict[str, list[str]]) -> None:
    """Have `app`'s OpenAPI document finished (:func:`finish_openapi`) when it is first provided (call from the
    lifespan, once the taxonomy is loaded)."""
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = _FinishedOnFirstUse  # the same object, the same slots: only provide_openapi differs
    app.state.finish_openapi = functools.partial(finish_openapi, taxonomy=taxonomy, extra_media_types=extra_media_types)
    app.state.openapi_finished = False


def finish_openapi(
    openapi: OpenAPI, taxonomy: Taxonomy, *, extra_media_types: dict[str, list[str]] | None = None
) -> None:
    """Replace our Struct components with msgspec's schemas, and publish codes and the ETag pattern."""
    components = openapi.components.schemas if openapi.components and openapi.components.schemas else {}
    ours = [t for t in _struct_types() if t.__name__ in components]
    if ours:
        _, defs = msgspec.json.schema_components(ours, ref_template="#/components/schemas/{name}")
        by_name = {t.__name__: t for t in ours}
        for name, schema in defs.items():
            schema.update(getattr(by_name.get(name), "__json_schema_extra__", None) or {})  # rules msgspec cannot state
            if not getattr(by_name.get(name), "__no_code_enums__", False):  # HSDS's own field names (standards)
                _add_enums(schema, taxonomy)
            components[name] = _to_spec(schema)  # type: ignore[assignment]
    for path, media_types in (extra_media_types or {}).items():
        item = (openapi.paths or {}).get(path)
        ok = item.get.responses.get("200") if item and item.get and item.get.responses else None
        if ok is not None and not isinstance(ok, Reference) and ok.content is not None:
            for media in media_types:  # other representations of the same resource: text
                ok.content[media] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
    for path_item in (openapi.paths or {}).values():
        for op in (path_item.post, path_item.put, path_item.patch):
            _add_unsupported_media_type(op)
        for op in (path_item.get, path_item.post, path_item.put, path_item.patch, path_item.delete):
            body = op.request_body if op else None
            if body is not None and not isinstance(body, Reference) and _allows_null(body):
                body.required = False  # a body that may be null may be left out
            for param in (op.parameters if op else None) or ():
                if isinstance(param, Reference):
                    continue
                if param.name == "If-Match":  # required: without it a change is refused (428), never applied
                    param.required = True
                    param.schema = Schema(type=OpenAPIType.STRING, pattern=ETAG_PATTERN, description=param.description)
                elif param.param_in in ("query", "path"):
                    kind = CODE_NAMES.get(param.name)
                    codes = FIXED_CODES.get(param.name) or (list(taxonomy.codes(kind)) if kind else None)
                    _param_schema(param.schema, codes)
