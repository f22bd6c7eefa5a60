"""API keys, the audit log and the change history (admin; the logs for auditors too)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Response, get, post
from litestar.params import FromQuery, JSONBody, Parameter, ParameterKwarg

from marketplace import audit
from marketplace.accounts import service
from marketplace.accounts.auth import admin
from marketplace.accounts.models import RECORD_ID, ApiKey, ChangePage, KeyRequest, NewApiKey, RecordTable
from marketplace.http import NEEDS_KEY, NO_STORE, ActorDep, Conn, Ctx, PageNumber, PerPage, RouteDoc, errors_doc
from marketplace.types import NoBody

DOC = RouteDoc(tags=["accounts"], security=NEEDS_KEY, guards=[admin])


def instant(description: str) -> ParameterKwarg:
    kwarg: ParameterKwarg = Parameter(schema_extra={"format": "date-time"}, max_length=40, description=description)
    return kwarg


@post(
    "/keys",
    summary="Create an API key (admin)",
    status_code=201,
    responses=errors_doc(400, 401, 403, 422, 503),
    description="The key is in the response this once; only its HMAC is stored.",
    **DOC,
)
async def create_key(data: JSONBody[KeyRequest], ctx: Ctx, conn: Conn, actor: ActorDep) -> Response[NewApiKey]:
    made = await service.create_key(ctx, conn, actor, data)
    return Response(made, status_code=201, headers=NO_STORE)


@get("/keys", summary="List API keys (admin, auditor)", responses=errors_doc(401, 403, 503), **DOC)
async def list_keys(conn: Conn) -> list[ApiKey]:
    return await service.list_keys(conn)


@post(
    "/keys/{key_id:int}/revoke",
    summary="Revoke an API key (admin)",
    status_code=200,
    responses=errors_doc(400, 401, 403, 404, 503),
    description="Takes effect at once. A key already revoked stays as it was (200, its `revoked_at` unchanged).",
    **DOC,
)
async def revoke_key(
    key_id: Annotated[int, Parameter(ge=1, le=999_999_999_999, description="API key id")],
    conn: Conn,
    actor: ActorDep,
    ctx: Ctx,
    data: JSONBody[NoBody | None] = None,
) -> ApiKey:
    key, _ = await service.revoke_key(conn, actor, key_id, at=ctx.clock.now())
    return key


SINCE = "RFC 3339 time with a zone, inclusive (a date: its start, UK time)"
UNTIL = "RFC 3339 time with a zone, exclusive (a date: its start, UK time)"
KeyId = Annotated[int | None, Parameter(ge=1, le=999_999_999_999)]


@get(
    "/audit",
    summary="The audit log (admin, auditor): every write and every denied attempt",
    responses=errors_doc(400, 401, 403, 422, 503),
    **DOC,
)
async def audit_log(
    conn: Conn,
    key_id: KeyId = None,
    provider_id: Annotated[int | None, Parameter(ge=1, le=999_999_999_999)] = None,
    outcome: FromQuery[Literal["write", "denied"] | None] = None,
    since: Annotated[str | None, instant(SINCE)] = None,
    until: Annotated[str | None, instant(UNTIL)] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> audit.AuditPage:
    return await service.audit_log(
        conn,
        key_id=key_id,
        provider_id=provider_id,
        outcome=outcome,
        since=since,
        until=until,
        page=page,
        per_page=per_page,
    )


@get(
    "/changes",
    summary="The change history (admin, auditor): every insert, update and delete of a record, before and after",
    description=(
        "Every row inserted, updated or deleted in the tables that keep no history of their own (exercises, needs, "
        "market engagement's questions, clarifications and publication, options appraisals, API keys, taxonomies), "
        "written by database triggers the API cannot set aside: changes made through the API name their key, role "
        "and request (as in the audit log), the command line's the `system` role, and changes made around the API "
        "(straight into the database) no role at all. An update lists only the fields that changed. A record's "
        "history (`table` and `record_id`) includes its parts: a need's areas, cohorts, accreditations and "
        "shortlist, an exercise's publication (`part` names the part's table). Newest first. Profiles keep their "
        "own history: `GET /providers/{id}/history`; responses, match runs, reports and imports are never changed."
    ),
    responses=errors_doc(400, 401, 403, 422, 503),
    **DOC,
)
async def change_history(
    conn: Conn,
    table: Annotated[RecordTable | None, Parameter(description="The record's table")] = None,
    record_id: Annotated[
        str | None,
        Parameter(
            max_length=100,
            pattern=RECORD_ID,
            description="With table: the record's id (need 7: 7) or code (pathway ACCOM: ACCOM)",
        ),
    ] = None,
    key_id: KeyId = None,
    since: Annotated[str | None, instant(SINCE)] = None,
    until: Annotated[str | None, instant(UNTIL)] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> ChangePage:
    return await service.change_history(
        conn, table=table, record_id=record_id, key_id=key_id, since=since, until=until, page=page, per_page=per_page
    )


ROUTES = [create_key, list_keys, revoke_key, audit_log, change_history]
