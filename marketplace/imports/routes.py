"""Imports of organisations and services (admin): POST /imports (a dry run, stored), GET /imports/{id},
POST /imports/{id}/commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import JSONBody, Parameter

from marketplace.accounts.auth import admin
from marketplace.errors import InvalidInput, Unprocessable, UnsupportedMediaType
from marketplace.http import NEEDS_KEY, ActorDep, Conn, Ctx, Id, RouteDoc, errors_doc
from marketplace.imports import service
from marketplace.imports.models import CommitRequest, ImportCommit, ImportRun
from marketplace.types import NAME, PLAIN

DOC = RouteDoc(tags=["imports"], security=NEEDS_KEY, guards=[admin])
UPLOAD_TYPES = ("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip")
ALSO_TAKEN = ("application/vnd.ms-excel", "application/x-zip-compressed", "application/octet-stream")
"""Types browsers and Windows give the same files (a .csv, a .zip) or any file: taken too, the content says which."""
ZIPPED = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/zip",
    "application/x-zip-compressed",
)
"""Types that say the file is a zip (a workbook or a data package): a body that is none is refused as such."""


@dataclass
class UploadOperation(Operation):
    """The file is the body: CSV, xlsx or a zip (or a multipart form with a `file` field)."""

    def __post_init__(self) -> None:
        binary = Schema(type=OpenAPIType.STRING, format="binary")  # type: ignore[arg-type]
        self.request_body = RequestBody(
            content={m: OpenAPIMediaType(schema=binary) for m in UPLOAD_TYPES},
            required=True,
            description="The file: a flat CSV or xlsx sheet, or an HSDS tabular data package (zip)",
        )


async def _upload(request: Request[Any, Any, Any]) -> tuple[bytes, str]:
    """The file and its name: the body itself, or a multipart form's `file` field (one: 400 for two, or for a part
    of another name)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    filename = request.query_params.get("filename") or ""
    if media == "multipart/form-data":
        form = await request.form()
        if others := sorted(set(form) - {"file"}):  # read as nothing, a part would be dropped unseen
            where = " (the file's name goes in the address: ?filename=...)" if others[0] == "filename" else ""
            raise InvalidInput.field(others[0], f"this form takes one part, the file, named `file`{where}")
        uploads = form.getall("file") if "file" in form else []
        if len(uploads) > 1:  # which one is meant cannot be told: reading the first would drop the others unseen
            raise InvalidInput.field("file", f"send one file: this form has {len(uploads)} parts named `file`")
        upload = uploads[0] if uploads else None
        if not isinstance(upload, UploadFile):
            raise InvalidInput.field("file", "a multipart upload needs the file in a field named `file`")
        if upload.filename and not filename and not re.fullmatch(NAME, upload.filename):
            raise InvalidInput.field("file", f"the file's name {PLAIN[NAME][0]}")
        return await upload.read(), filename or upload.filename or ""
    if media not in UPLOAD_TYPES and media not in ALSO_TAKEN:  # e.g. JSON: every other route's body, not a file
        raise UnsupportedMediaType(f"send the file as {', '.join(UPLOAD_TYPES)} or multipart/form-data, not {media!r}")
    return await request.body(), filename


@post(
    "/imports",
    summary="Import organisations and services: a dry run, stored (admin)",
    description=(
        "The body is the file (Content-Type `text/csv`, the xlsx type or `application/zip`; or `multipart/form-data` "
        "with the file in a field named `file`): a flat sheet with the columns of GET /providers/export?format=csv, "
        "or an HSDS 3.0 tabular data package (as GET /providers/export?format=hsds makes). A flat sheet's "
        "`provider_last_confirmed` and `service_last_confirmed` (yyyy-mm-dd) are kept as the days the provider last "
        "confirmed them: a day to come, or before the organisation was founded, makes the row bad; left blank, the "
        "profile is unconfirmed (read as confirmed when created). Nothing is written but "
        "the dry run: every organisation is reported `new`, a `duplicate` of a provider (score and reasons: same "
        "org-id; similar name and same area; same website), `ambiguous` (its candidates: providers, or an earlier "
        "row of the file it may be the same organisation as) or `bad` (row, column, problem). At most "
        f"{service.MAX_UPLOAD // 2**20} MB (413 beyond); a file that cannot be read at all is a "
        "422 naming where (file, row, column). POST /imports/{id}/commit applies the rows you accept."
    ),
    status_code=201,
    responses=errors_doc(400, 401, 403, 413, 415, 422),
    **DOC,
    request_max_body_size=service.MAX_UPLOAD,
    operation_class=UploadOperation,
)
async def create_import(
    request: Request[Any, Any, Any],
    ctx: Ctx,
    conn: Conn,
    actor: ActorDep,
    filename: Annotated[
        str | None, Parameter(max_length=300, pattern=NAME, description="The file's name, for the record")
    ] = None,
) -> Response[ImportRun]:
    data, name = await _upload(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ZIPPED and data and not data.startswith(b"PK"):  # else read as a CSV: "unknown column 'not a zip'"
        what = "an xlsx workbook" if "spreadsheet" in media else "a zip"
        raise Unprocessable.field(
            "file", f"sent as {media}, but it is not {what}: send the file itself, or a CSV as text/csv"
        )
    made = await service.dry_run(ctx, conn, actor, data, filename or name)
    return Response(made, status_code=201, headers={"Location": f"/imports/{made.id}"})


@get(
    "/imports/{import_id:int}",
    summary="A stored dry run, and its commit once made (admin)",
    responses=errors_doc(400, 401, 403, 404),
    **DOC,
)
async def get_import(import_id: Id, conn: Conn) -> ImportRun:
    return await service.get_run(conn, import_id)


@post(
    "/imports/{import_id:int}/commit",
    summary="Apply the accepted rows of a dry run, all or nothing (admin)",
    description=(
        '`{"accept": [row, ...]}` (rows as the dry run numbers them) or `{"accept": "new"}` (every new row). An '
        "accepted new or ambiguous row becomes a pending profile (not published); an accepted duplicate changes "
        "nothing and is reported `not_applied` (nothing is merged into an existing profile); a bad row cannot be "
        "accepted (422). Rows are judged against the directory again: one that is now a duplicate, or has a candidate "
        "the dry run did not show, stops the whole commit (409: run the import again); what rows of the file are to "
        "each other is as the dry run said (accepting a row and the earlier row it may be creates both). An import "
        "is committed once (409 after). Every profile made, and the commit, is audited."
    ),
    status_code=200,
    responses=errors_doc(400, 401, 403, 404, 409, 422),
    **DOC,
)
async def commit_import(
    import_id: Id, data: JSONBody[CommitRequest], ctx: Ctx, conn: Conn, actor: ActorDep
) -> ImportCommit:
    return await service.commit(ctx, conn, actor, import_id, data)


ROUTES = [create_import, get_import, commit_import]
