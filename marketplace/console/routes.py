"""The browser console's pages (issue 17), under /console and out of the OpenAPI document.

A page resolves its caller from the session cookie (`signed_in`), never from a key in the browser, and calls the
same use cases as the API with the same permission checks the API's guards make (`admit`). Every form carries the
session's CSRF token, checked on every POST; forms post `application/x-www-form-urlencoded` (marketplace.http lets
/console/ bodies through as forms). A domain error becomes a page with the API's own message (`error_page`); on a
form, the problems go beside the fields they name."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Annotated, Any, Literal, NamedTuple, TypeVar
from urllib.parse import quote, urlencode

import msgspec
from litestar import MediaType, Request, Response, Router, get, post
from litestar.datastructures import Cookie, State
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter
from litestar.response import Redirect

from marketplace import formatting, messages
from marketplace.accounts.auth import STAFF, admit, audit_denials, refused_too_often, spend_budget
from marketplace.appraisals import service as appraisals
from marketplace.appraisals.models import (
    GOES_TO_MARKET,
    MODEL_LABELS,
    Appraisal,
    AppraisalIn,
    AppraisalPatch,
    AppraisalReport,
    AppraisalSummary,
    CostsDoc,
    CriteriaDoc,
    DecisionIn,
    ModerationDoc,
    OptionsDoc,
    ScoresDoc,
)
from marketplace.appraisals.render import to_csv_bytes as appraisal_csv
from marketplace.appraisals.render import to_html as appraisal_html
from marketplace.concurrency import etag
from marketplace.console import appraisal_forms, forms, service
from marketplace.console.models import Change, FormState, Session
from marketplace.engagement import service as engagement
from marketplace.engagement.models import (
    AnswerIn,
    BudgetVisibility,
    ClarificationIn,
    PublishIn,
    Question,
    QuestionIn,
    QuestionMove,
    ResponseIn,
)
from marketplace.engagement.models import Response as Response_
from marketplace.errors import (
    Conflict,
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UriTooLong,
)
from marketplace.exercises import service as exercises
from marketplace.exercises.models import (
    Exercise,
    ExerciseIn,
    ExercisePatch,
    ExerciseSummary,
    Need,
    NeedIn,
    NeedPatch,
    need_problems,
)
from marketplace.formatting import and_list
from marketplace.http import (
    EXCEPTION_HANDLERS,
    REPORT_CSP,
    Conn,
    Ctx,
    ErrorBody,
    Id,
    actor_of,
    report_response,
    served_over_https,
    set_caller,
    status_of,
)
from marketplace.providers import service as providers
from marketplace.providers.models import Provider, ProviderPatch, SearchQuery, Service, ServicePatch, patched
from marketplace.reports import service as reports
from marketplace.reports.models import SUITABLE_SCORE
from marketplace.reports.render import to_csv_bytes, to_html
from marketplace.templating import render, static_text
from marketplace.types import ONE_OF, Actor, Caller

SESSION_COOKIE = "provision_session"
SIGN_IN_COOKIE = "provision_sign_in"
"""Before a session exists: the token the sign-in form must carry back (double-submit, against login CSRF)."""
CSRF_FIELD = "csrf_token"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
Q = Annotated[str | None, Parameter(max_length=200)]
Codes = FromQuery[list[str] | None]
PageNo = Annotated[int, QueryParameter(name="page", ge=1, le=1000)]
Flag = Annotated[bool, Parameter(description="set by the page that sent the browser here")]


class SignInNeeded(Exception):
    """No live session: the page sends the browser to the sign-in form."""


# --- sessions ---------------------------------------------------------------------------------------------


SESSION_KEY = "console_session"
"""Where a request keeps its session once a page has found it (for the page of an error it meets after)."""


async def signed_in(request: Request[Any, Any, Any], conn: Any) -> Session:
    """The request's session; from here on the request acts as the session's caller (audit rows name it)."""
    session = await service.session_of(conn, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInNeeded
    set_caller(request.scope, session.caller)
    request.scope.setdefault("state", {})[SESSION_KEY] = session
    return session


async def posted(request: Request[Any, Any, Any], conn: Any) -> tuple[Session, dict[str, str]]:
    """A POST's session and form fields (the last value of each, its line breaks "\n"), once its CSRF token is the
    session's."""
    session = await signed_in(request, conn)
    form = await request.form()
    if not service.csrf_ok(session, form.get(CSRF_FIELD)):
        raise Forbidden(
            "this form has expired or did not come from this site: open the page again and resubmit",
            caller=session.caller,
        )
    # a browser sends a text area's line breaks as CR LF (HTML's form submission): read as typed, "\n", so a form
    # saved as it opened changes nothing
    return session, {k: v.replace("\r\n", "\n") for k, v in form.items() if isinstance(v, str)}


def _secure(request: Request[Any, Any, Any]) -> bool:
    return served_over_https(request)


FAVICON = "/console/static/favicon.svg"
"""Every console page's icon (marketplace/static/), so a browser asks for no /favicon.ico the app does not serve."""


def can_write(session: Session | None) -> bool:
    """Whether a page offers the signed-in caller its forms that change something: every role but the auditor's,
    whose key only reads (each console POST refuses it, as the API's guards refuse its writes). Pages show an auditor
    what they show staff, without those forms (`can_write` in every page's context)."""
    return session is not None and session.caller.role != "auditor"


def page(template: str, *, status: int = 200, session: Session | None = None, **context: Any) -> Response[str]:
    csrf = session.csrf_token if session else ""
    body = render(
        f"console/{template}", session=session, csrf=csrf, favicon=FAVICON, can_write=can_write(session), **context
    )
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=HEADERS)


SIGN_IN_WORDS: dict[str | None, str] = {
    "malformed": "this is not an API key: a key starts prv_ and is 47 characters long; paste the whole key you were "
    "given",
    "unknown": "this key is not one this marketplace gave: check you pasted the whole key, or ask an admin for one",
    "revoked": "this key has been revoked: ask an admin for a new one",
}
"""What the sign-in form tells a person of a key it cannot use (the API's words are for programs)."""
PEOPLE = {
    "admin": "admins",
    "commissioner": "commissioners",
    "provider": "providers",
    "auditor": "auditors",
    "provider (own profile)": "the provider whose profile it is",
}
"""Whom a console page is for, in words (`error_page`: a role refused is told so, and who is signed in as
`types.ONE_OF` says it)."""


def see_other(path: str, *, cookies: list[Cookie] | None = None) -> Response[Any]:
    return Redirect(path, status_code=303, cookies=cookies or [], headers={"Cache-Control": "no-store"})


def _safe_next(next_path: str | None) -> str:
    """Only a console path of our own (never another site) to go to after signing in."""
    if next_path and next_path.startswith("/console/") and not next_path.startswith("/console//"):
        return next_path
    return "/console/home"


@get("/")
async def console_root(request: Request[Any, Any, Any], conn: Conn) -> Response[Any]:
    raw = request.scope.get("raw_path") or b"/"  # as sent (the router strips a trailing slash from `path`)
    if not raw.split(b"?")[0].endswith(b"/"):  # /console: the session's cookie (path /console/) is not sent here
        return see_other("/console/")
    session = await service.session_of(conn, request.cookies.get(SESSION_COOKIE))
    return see_other("/console/home" if session else "/console/sign-in")


@get("/sign-in")
async def sign_in_form(request: Request[Any, Any, Any], next: Q = None, signed_out: Flag = False) -> Response[str]:
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        "sign_in.html.j2", form=FormState(values={}), token=token, next=_safe_next(next), signed_out=signed_out
    )
    response.set_cookie(
        SIGN_IN_COOKIE, token, path="/console/", httponly=True, samesite="strict", secure=_secure(request), max_age=3600
    )
    return response


@post("/sign-in", status_code=303)
async def sign_in(request: Request[Any, Any, Any], state: State, ctx: Ctx) -> Response[Any]:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    expected = request.cookies.get(SIGN_IN_COOKIE)
    token = form.get(CSRF_FIELD, "")
    next_path = _safe_next(form.get("next"))
    if not expected or not service.csrf_ok(Session(caller=Caller(role="anonymous"), csrf_token=expected), token):
        raise Forbidden("the sign-in form has expired: open it again", caller=Caller(role="anonymous"))
    key = form.get("api_key", "").strip()
    state_ = FormState(values={"next": next_path})
    if not key:
        state_.problems = [FieldProblem(field="api_key", problem="enter your API key (it starts prv_)")]
    else:
        try:
            session_id, _ = await service.sign_in(ctx, state.pool, actor_of(request.scope), key)
        except Unauthorized as exc:  # no usable key: past the client's limit, said as the API says it (429)
            if (locked := await refused_too_often(request.scope, exc)) is None:
                await audit_denials(exc, request.scope)
            said = locked.message if locked is not None else SIGN_IN_WORDS.get(exc.reason, exc.message)
            state_.problems = [FieldProblem(field="api_key", problem=said)]
        else:
            cookie = Cookie(
                key=SESSION_COOKIE,
                value=session_id,
                path="/console/",
                httponly=True,
                samesite="strict",
                secure=_secure(request),
            )
            gone = Cookie(key=SIGN_IN_COOKIE, value="", path="/console/", max_age=0, expires=0)
            return see_other(next_path, cookies=[cookie, gone])
    return page("sign_in.html.j2", status=400, form=state_, token=token, next=next_path, signed_out=False)


@post("/sign-out", status_code=303)
async def sign_out(request: Request[Any, Any, Any], conn: Conn) -> Response[Any]:
    await posted(request, conn)
    await service.sign_out(conn, actor_of(request.scope), request.cookies.get(SESSION_COOKIE, ""))
    gone = Cookie(key=SESSION_COOKIE, value="", path="/console/", max_age=0, expires=0, httponly=True)
    return see_other("/console/sign-in?signed_out=1", cookies=[gone])


ASSETS = {"console.css": "text/css", "console.js": "text/javascript", "favicon.svg": "image/svg+xml"}
"""The console's assets (marketplace/static/), served by the app itself: no CDN."""


@get("/static/{name:str}")
async def asset(name: FromPath[str]) -> Response[str]:
    if name not in ASSETS:
        raise NotFound(f"no asset {name!r}")
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if name.endswith(".svg"):  # an image: nothing in it runs, loads or is framed
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    return Response(static_text(name), media_type=ASSETS[name], headers=headers)


@get("/home")
async def home(request: Request[Any, Any, Any], ctx: Ctx, conn: Conn) -> Response[str]:
    session = await signed_in(request, conn)
    own = None
    if session.caller.provider_id is not None:
        own = await service.provider(ctx, conn, session.caller, session.caller.provider_id)
    exercise_page = None
    if session.caller.is_staff:  # an auditor's too: it reads them
        exercise_page = await exercises.list_exercises(conn, page=1, per_page=5)
    return page("home.html.j2", session=session, own=own, exercises=exercise_page)


# --- the directory ------------------------------------------------------------------------------------------


SEARCH_MOST = 200
"""The longest search text, as the API's `q` takes it."""
SearchText = Annotated[
    str | None, Parameter(description="checked by the page, which says what is wrong beside its box")
]
SEARCH_LABELS = {"q": "Search terms", "pathway": "Pathway", "area": "Area", "sector": "Sector"}


@get("/providers")
async def search(
    request: Request[Any, Any, Any],
    state: State,
    ctx: Ctx,
    conn: Conn,
    q: SearchText = None,
    pathway: Codes = None,
    area: Codes = None,
    sector: Codes = None,
    page_number: PageNo = 1,
) -> Response[str]:
    """The directory's search. A search the page cannot run (text too long, a filter's unknown code) is the search
    page still, saying so beside the box or filter, with what was typed and the filters (counted without it)."""
    session = await signed_in(request, conn)
    problems: list[FieldProblem] = []
    if q is not None and len(q) > SEARCH_MOST:
        said = f"must be at most {SEARCH_MOST} characters long (this is {len(q):,}): shorten it"
        problems.append(FieldProblem(field="q", problem=said))
    query = SearchQuery(
        q=q if q and not problems else None,
        pathway=pathway or [],
        area=area or [],
        sector=sector or [],
        page=page_number,
        per_page=20,
    )
    result = None
    try:
        result = await providers.search(ctx, conn, state.search_index, query)
    except InvalidInput as exc:
        problems += exc.problems
    facets = result.facets if result is not None else None
    if problems and result is None:  # the filters still offered, counted for what could be read
        known = {
            k: ctx.taxonomy.codes(t) for k, t in (("pathway", "pathways"), ("area", "areas"), ("sector", "sectors"))
        }
        readable = {k: [c for c in getattr(query, k) if c in known[k]] for k in known}
        facets = (
            await providers.search(ctx, conn, state.search_index, msgspec.structs.replace(query, **readable))
        ).facets
    if problems:  # no results for a search not run as asked
        result = None
    chosen = {"pathway": set(query.pathway), "area": set(query.area), "sector": set(query.sector)}
    base = [(k, v) for k in ("pathway", "area", "sector") for v in sorted(chosen[k])]
    if q:
        base.insert(0, ("q", q))
    order = list(SEARCH_LABELS)
    problems.sort(key=lambda p: order.index(p.field) if p.field in order else len(order))
    return page(
        "search.html.j2",
        status=400 if problems else 200,
        session=session,
        q=q or "",
        chosen=chosen,
        result=result,
        facets=facets,
        most=SEARCH_MOST,
        form=FormState(values={"q": q or ""}, problems=problems, labels=SEARCH_LABELS),
        taxonomy=ctx.taxonomy,
        page_link=lambda n: "/console/providers?" + urlencode([*base, ("page", str(n))]),
    )


@get("/providers/{provider_id:int}")
async def provider_page(
    request: Request[Any, Any, Any],
    provider_id: Id,
    ctx: Ctx,
    conn: Conn,
    confirmed: Flag = False,
    published: Flag = False,
    archived: Flag = False,
    rejected: Flag = False,
) -> Response[str]:
    session = await signed_in(request, conn)
    found = await service.provider(ctx, conn, session.caller, provider_id)
    own = session.caller.provider_id == provider_id
    archived_own = own and session.caller.role != "admin" and found.status == "archived"  # its key changes nothing
    may_edit = session.caller.role == "admin" or (own and not archived_own)
    return page(
        "provider.html.j2",
        session=session,
        provider=found,
        may_edit=may_edit,
        archived_own=archived_own,
        pending_own=own and found.status == "pending",
        may_publish=session.caller.role == "admin" and found.status != "published",
        may_archive=session.caller.role == "admin" and found.status in ("published", "pending"),
        taxonomy=ctx.taxonomy,
        confirmed=confirmed,
        published=published and found.status == "published",
        archived=archived and not rejected and found.status == "archived",
        rejected=rejected and found.status == "archived",
    )


# --- providers keep their profile current ------------------------------------------------------------------


def _may_edit(caller: Caller, provider_id: int) -> None:
    """As the API's guard on every profile change: an admin, or a provider key for its own provider."""
    admit(caller, ("admin",), own_provider=True, provider_id=provider_id)


def _lost(field: str) -> InvalidInput:
    """A form posted without the version (or revision) it was opened at, or with one that is not a number."""
    return InvalidInput.field(field, f"the form lost the {field} it was opened at: open it again")


def _opened_at(form: Mapping[str, str], field: str) -> int:
    """The version (or revision) a form was opened at, from its hidden field (`forms.read_id`)."""
    found = forms.read_id(form.get(field, ""))
    if found is None:
        raise _lost(field)
    return found


def _problems(exc: InvalidInput | Unprocessable | Conflict) -> list[FieldProblem]:
    """What the API found wrong, by field (the whole body when it names none)."""
    return exc.problems or [FieldProblem(field="body", problem=exc.message)]


def _placed(problems: list[FieldProblem], fields: tuple[str, ...], values: dict[str, str]) -> FormState:
    """Problems by the form field they name (`areas[1]` is the areas box); the rest go in the summary only."""
    placed, unplaced = [], []
    for p in problems:
        name = p.field.split("[")[0]
        if name in fields:
            placed.append(msgspec.structs.replace(p, field=name))
        else:
            unplaced.append(p)
    return FormState(values=values, problems=placed, unplaced=unplaced)


def _posted_values(form: Mapping[str, str]) -> dict[str, str]:
    """What the form sent, as typed (to show again), less its CSRF token and its buttons."""
    return {k: v for k, v in form.items() if k not in (CSRF_FIELD, "then")}


def _form_status(form: FormState, changes: list[Change]) -> int:
    """An edit page's status: 409 when the record changed since the form was opened, 400 when the form has
    problems, else 200."""
    return 200 if not (form.problems or form.unplaced or changes) else (409 if changes else 400)


def _then(form: Mapping[str, str], path: str, lists: tuple[str, ...]) -> str:
    """Where a saved form goes: back to itself, at the new blank item after "Save and add another"."""
    then = form.get("then", "")
    return f"{path}?saved=1" + (f"#{then}-new" if then in lists else "")


@get("/providers/{provider_id:int}/edit")
async def edit_profile(
    request: Request[Any, Any, Any], provider_id: Id, ctx: Ctx, conn: Conn, saved: Flag = False
) -> Response[str]:
    session = await signed_in(request, conn)
    _may_edit(session.caller, provider_id)
    found = await service.provider(ctx, conn, session.caller, provider_id)
    values = forms.profile_values(found, ctx.taxonomy.codes("areas"))
    return _profile_page(session, ctx, found, FormState(values, labels=forms.profile_labels(values)), [], saved=saved)


def _profile_page(
    session: Session, ctx: Any, found: Any, form: FormState, changes: list[Change], *, saved: bool = False
) -> Response[str]:
    return page(
        "edit_profile.html.j2",
        status=_form_status(form, changes),
        session=session,
        provider=found,
        form=form,
        changes=changes,
        saved=saved,
        taxonomy=ctx.taxonomy,
        premises=forms.items(form.values, "premises", forms.PREMISES),
        scrutiny=forms.SCRUTINY,
    )


@post("/providers/{provider_id:int}/edit", status_code=200)
async def save_profile(request: Request[Any, Any, Any], provider_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    session, form = await posted(request, conn)
    _may_edit(session.caller, provider_id)
    values = _posted_values(form)
    changes: list[Change] = []
    body, where = forms.profile_body(form, ctx.taxonomy.codes("areas"))
    current = await service.provider(ctx, conn, session.caller, provider_id)
    forms.keep_order(body, current, forms.PROFILE_GROUPS, where)
    labels = forms.profile_labels(values)
    version = _opened_at(form, "version")
    try:
        patch = await service.check_all(
            body,
            ProviderPatch,
            ctx.taxonomy,
            lambda data: providers.change_problems(ctx, conn, provider_id, patched(data)),
        )
        await providers.change(ctx, conn, actor_of(request.scope), provider_id, etag(version), patched(patch))
    except PreconditionFailed as exc:
        changes = await service.changes_since(ctx, conn, session.caller, provider_id, version)
        current = await service.provider(ctx, conn, session.caller, provider_id)
        state_, changes = forms.after_conflict(
            values,
            current,
            changes,
            Provider,
            partial(forms.profile_values, areas=ctx.taxonomy.codes("areas")),
            forms.profile_labels,
            {"version": str(exc.current_version)},
            ctx.taxonomy,
        )
    except (InvalidInput, Unprocessable) as exc:
        state_ = service.place(forms.area_problems(_problems(exc), ctx.taxonomy.codes("areas")), where, values, labels)
    else:
        return see_other(_then(form, f"/console/providers/{provider_id}/edit", ("premises",)))
    found = await service.provider(ctx, conn, session.caller, provider_id)
    return _profile_page(session, ctx, found, state_, changes)


@get("/providers/{provider_id:int}/services/{service_id:int}/edit")
async def edit_service(
    request: Request[Any, Any, Any], provider_id: Id, service_id: Id, ctx: Ctx, conn: Conn, saved: Flag = False
) -> Response[str]:
    session = await signed_in(request, conn)
    _may_edit(session.caller, provider_id)
    found = await service.provider(ctx, conn, session.caller, provider_id)
    svc = await providers.get_service(ctx, conn, session.caller, provider_id, service_id)
    values = forms.service_values(svc, found.version, ctx.taxonomy.codes("areas"))
    form = FormState(values, labels=forms.service_labels(values))
    return _service_page(session, ctx, found, svc, form, [], saved=saved)


def _service_page(
    session: Session, ctx: Any, found: Any, svc: Service, form: FormState, changes: list[Change], *, saved: bool = False
) -> Response[str]:
    pathway = form.values.get("pathway") or svc.pathway
    desired = dict(ctx.taxonomy.desired_outcomes_of(pathway))
    other = {d.code: d for d in ctx.taxonomy.desired_outcomes}
    pathways = ctx.taxonomy.codes("pathways")
    elsewhere = set()  # offered only on a record that names it
    for k in form.values:  # a desired outcome of another pathway the record names, to untick: by its name
        if (m := re.match(r"^outcomes\.[0-9]+\.desired\.([A-Z_]{1,40})$", k)) and m.group(1) not in desired:
            d = other.get(m.group(1))
            desired[m.group(1)] = f"{d.name} ({pathways.get(d.pathway, d.pathway)})" if d else m.group(1)
            elsewhere.add(m.group(1))
    return page(
        "edit_service.html.j2",
        status=_form_status(form, changes),
        session=session,
        provider=found,
        svc=svc,
        form=form,
        changes=changes,
        saved=saved,
        taxonomy=ctx.taxonomy,
        outcomes=forms.items(form.values, "outcomes", forms.OUTCOME),
        desired=desired,
        elsewhere=elsewhere,
        genders=forms.GENDERS,
        sectors=forms.SECTORS,
        modes=forms.DELIVERY_MODES,
        complexity=forms.COMPLEXITY,
        units=forms.COST_UNITS,
        sources=forms.SOURCES,
    )


@post("/providers/{provider_id:int}/services/{service_id:int}/edit", status_code=200)
async def save_service(
    request: Request[Any, Any, Any], provider_id: Id, service_id: Id, ctx: Ctx, conn: Conn
) -> Response[Any]:
    session, form = await posted(request, conn)
    _may_edit(session.caller, provider_id)
    values = _posted_values(form)
    changes: list[Change] = []
    body, where = forms.service_body(form, ctx.taxonomy.codes("areas"))
    held = await providers.get_service(ctx, conn, session.caller, provider_id, service_id)
    forms.keep_order(body, held, forms.SERVICE_GROUPS, where)
    labels = forms.service_labels(values)
    version, profile_version = _opened_at(form, "version"), _opened_at(form, "profile_version")
    try:
        patch = await service.check_all(
            body,
            ServicePatch,
            ctx.taxonomy,
            lambda data: providers.change_service_problems(ctx, conn, provider_id, service_id, data),
        )
        await providers.change_service(
            ctx, conn, actor_of(request.scope), provider_id, service_id, etag(version), patch
        )
    except PreconditionFailed as exc:
        changes = await service.changes_since(
            ctx, conn, session.caller, provider_id, profile_version, prefix=f"services[{service_id}]."
        )
        current = await service.provider(ctx, conn, session.caller, provider_id)
        svc = await providers.get_service(ctx, conn, session.caller, provider_id, service_id)
        state_, changes = forms.after_conflict(
            values,
            svc,
            changes,
            Service,
            lambda s: forms.service_values(s, 0, ctx.taxonomy.codes("areas")),
            forms.service_labels,
            {"version": str(exc.current_version), "profile_version": str(current.version)},
            ctx.taxonomy,
        )
    except (InvalidInput, Unprocessable) as exc:
        pathway = body.get("pathway") or held.pathway
        state_ = service.place(
            forms.area_problems(
                forms.desired_in_words(_problems(exc), body, pathway, ctx.taxonomy), ctx.taxonomy.codes("areas")
            ),
            where,
            values,
            labels,
        )
    else:
        path = f"/console/providers/{provider_id}/services/{service_id}/edit"
        return see_other(_then(form, path, ("outcomes",)))
    found = await service.provider(ctx, conn, session.caller, provider_id)
    svc = await providers.get_service(ctx, conn, session.caller, provider_id, service_id)
    return _service_page(session, ctx, found, svc, state_, changes)


@post("/providers/{provider_id:int}/confirm", status_code=303)
async def confirm(request: Request[Any, Any, Any], provider_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    session, _ = await posted(request, conn)
    _may_edit(session.caller, provider_id)
    await providers.mark(ctx, conn, actor_of(request.scope), provider_id, "confirm")
    return see_other(f"/console/providers/{provider_id}?confirmed=1")


@post("/providers/{provider_id:int}/publish", status_code=303)
async def publish(request: Request[Any, Any, Any], provider_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """As POST /providers/{id}/publish (admins only): a pending (or archived) profile into the directory, with its
    history and audit; then its page, saying so. Refused as the API refuses it (403 to others; 409 when an archived
    profile's name was taken meanwhile)."""
    session, _ = await posted(request, conn)
    admit(session.caller, ("admin",))
    await providers.mark(ctx, conn, actor_of(request.scope), provider_id, "publish")
    return see_other(f"/console/providers/{provider_id}?published=1")


@get("/providers/{provider_id:int}/archive")
async def archive_page(request: Request[Any, Any, Any], provider_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Admins only: what archiving a published profile does, and the button that does it (a step of its own, as
    archiving takes a provider out of the directory); for a pending profile, the same step worded as rejecting its
    registration (archiving it: it stays out of the directory). An archived profile has nothing to archive: its
    page."""
    session = await signed_in(request, conn)
    admit(session.caller, ("admin",))
    found = await service.provider(ctx, conn, session.caller, provider_id)
    if found.status not in ("published", "pending"):
        return see_other(f"/console/providers/{provider_id}")
    return page("archive_profile.html.j2", session=session, provider=found, rejecting=found.status == "pending")


@post("/providers/{provider_id:int}/archive", status_code=303)
async def archive(request: Request[Any, Any, Any], provider_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """As POST /providers/{id}/archive (admins only): the profile (published, or pending: its registration rejected)
    out of the directory, with its history and audit; then its page, saying so (and offering to publish it). Others
    are refused as the API refuses them (403)."""
    session, _ = await posted(request, conn)
    admit(session.caller, ("admin",))
    was = await engagement.profile_status(conn, provider_id)
    await providers.mark(ctx, conn, actor_of(request.scope), provider_id, "archive")
    said = "rejected" if was == "pending" else "archived"
    return see_other(f"/console/providers/{provider_id}?{said}=1")


# --- commissioning: exercises, needs, match runs, comparison, shortlists, reports ---------------------------


async def _staff(request: Request[Any, Any, Any], conn: Any) -> Session:
    """Staff only: a page for acting (a form, or the step before one), which an auditor is refused."""
    session = await signed_in(request, conn)
    admit(session.caller, STAFF)
    return session


async def _reader(request: Request[Any, Any, Any], conn: Any) -> Session:
    """A page reading what staff read (as the API's GETs admit): staff, and an auditor, who reads it without the
    page's forms (`can_write`)."""
    session = await signed_in(request, conn)
    admit(session.caller, STAFF, reading=True)
    return session


async def _costly(
    request: Request[Any, Any, Any], state: State, *, posting: bool = False
) -> tuple[Session, dict[str, str]]:
    """Staff only (and, to read, `posting` false, an auditor too: as the API's GETs of a report, which read stored
    runs and store nothing), and limited per key as the API's expensive routes are: the session (and, `posting`, the
    form's CSRF token) is read on a connection given back before the work, which takes its own from the pool. The
    session, and the form's fields when `posting`."""
    async with state.pool.acquire() as conn:
        session, form = await posted(request, conn) if posting else (await signed_in(request, conn), {})
    admit(session.caller, STAFF, reading=not posting)
    spend_budget(state, session.caller)
    return session, form


@get("/exercises")
async def exercise_list(
    request: Request[Any, Any, Any], ctx: Ctx, conn: Conn, page_number: PageNo = 1
) -> Response[str]:
    session = await _reader(request, conn)
    return await _exercise_list(session, ctx, conn, FormState(values={}), page_number=page_number)


async def _exercise_list(
    session: Session, ctx: Any, conn: Any, form: FormState, *, page_number: int = 1, status: int = 200
) -> Response[str]:
    """The list of exercises (20 a page, each published one's status as it stands now) with the form starting one."""
    found = await exercises.list_exercises(conn, page=page_number, per_page=20)
    statuses = {x.id: status_now(x, ctx.clock.now()) for x in found.items}
    return page("exercises.html.j2", status=status, session=session, exercises=found, form=form, statuses=statuses)


PUBLISHED_STATES = {
    "not_yet_open": "Published: taking responses from {opens}",
    "open": "Open: taking responses until the end of {closes}",
    "closed": "Deadline passed (not marked closed yet)",
}
"""A published exercise's status in the list of exercises, as its notice stands now (engagement.state_at): that it
is published does not say whether providers can respond yet."""


def status_now(x: ExerciseSummary, now: dt.datetime) -> str:
    """An exercise's status as the list of exercises says it (a published one's as its notice stands at `now`)."""
    if x.status != "engagement_open":
        return formatting.humanise(x.status)
    dates = {"opens": formatting.date(x.opens_on), "closes": formatting.date(x.closes_on)}
    return PUBLISHED_STATES[engagement.state_at(x, now)].format(**dates)


def _exercise_rules(data: ExerciseIn) -> list[FieldProblem]:
    """What the API's own rules say of an exercise (its dates' order, above all), to be said with the decoder's."""
    try:
        exercises.check_exercise(data)
    except Unprocessable as exc:
        return exc.problems
    return []


@post("/exercises", status_code=303)
async def start_exercise(request: Request[Any, Any, Any], ctx: Ctx, conn: Conn) -> Response[Any]:
    """Start an exercise (staff; as the API's POST /exercises): a draft with its title, commissioning body,
    description and dates; then its page, saying so. Refused, the list again with the form, each problem beside its
    box."""

    async def start(actor: Actor, data: ExerciseIn, _: str | None) -> str:
        made = await exercises.create_exercise(ctx, conn, actor, data)
        return f"/console/exercises/{made.id}?started=1"

    async def again(session: Session, form: FormState, status: int) -> Response[str]:
        return await _exercise_list(session, ctx, conn, form, status=status)

    exercise = (forms.exercise_body, forms.EXERCISE_LABELS, ExerciseIn)
    return await _exercise_form(request, ctx, conn, exercise, _exercise_rules, start, again)


@get("/exercises/{exercise_id:int}")
async def exercise_page(
    request: Request[Any, Any, Any],
    exercise_id: Id,
    ctx: Ctx,
    conn: Conn,
    matched: Flag = False,
    answered: Annotated[int | None, Parameter(ge=1, le=999_999_999_999)] = None,
    frozen: Annotated[int | None, Parameter(ge=1, le=999_999_999_999)] = None,
    published: Flag = False,
    started: Flag = False,
    need_added: Annotated[int | None, Parameter(ge=1, le=999_999_999_999)] = None,
    question_added: Flag = False,
    question_changed: Flag = False,
    question_moved: Annotated[int | None, Parameter(ge=1, le=999_999_999_999)] = None,
    removed: Annotated[Literal["need", "question"] | None, Parameter(description="what was just removed")] = None,
    changed: Flag = False,
    deadline_moved: Flag = False,
    weighted: Flag = False,
    closed: Flag = False,
) -> Response[str]:
    """The exercise's page; `frozen`: the report just frozen from the report's page (said at the top, with its
    links), as `matched`, `answered`, `published`, `started`, `need_added`, `question_added`, `question_changed`,
    `question_moved` (to that place), `removed`,
    `changed` (its title, description or dates), `deadline_moved`, `weighted` (its default weights) and `closed`
    (marked closed) say what was just done."""
    session = await _reader(request, conn)
    return await _exercise_page(
        session,
        ctx,
        conn,
        exercise_id,
        matched=matched,
        answered=answered,
        just_frozen=frozen,
        published=published,
        started=started,
        need_added=need_added,
        question_added=question_added,
        question_changed=question_changed,
        question_moved=question_moved,
        removed=removed,
        changed=changed,
        deadline_moved=deadline_moved,
        weighted=weighted,
        just_closed=closed,
    )


async def _exercise_page(
    session: Session,
    ctx: Any,
    conn: Any,
    exercise_id: int,
    *,
    matched: bool = False,
    answered: int | None = None,
    just_frozen: int | None = None,
    published: bool = False,
    started: bool = False,
    need_added: int | None = None,
    question_added: bool = False,
    question_changed: bool = False,
    question_moved: int | None = None,
    removed: str | None = None,
    changed: bool = False,
    deadline_moved: bool = False,
    weighted: bool = False,
    just_closed: bool = False,
    form: FormState | None = None,
    status: int = 200,
) -> Response[str]:
    """The exercise, its report links, and (issue 14/15) its engagement: the notice's state, responses,
    clarifications with answer forms, and its options appraisals."""
    found = await exercises.get_exercise(conn, exercise_id)
    frozen = await reports.list_frozen(conn, exercise_id)
    try:
        notice = await engagement.notice(ctx, conn, exercise_id)
    except NotFound:
        notice = None
    responses = None
    if notice is not None:
        responses = await engagement.list_responses(conn, session.caller, exercise_id, page=1, per_page=100)
    clarifications = await engagement.list_clarifications(conn, session.caller, exercise_id)
    askers = {c.provider_id for c in clarifications if c.provider_id is not None}
    found_appraisals = await appraisals.list_for_exercise(conn, exercise_id)
    defaults = appraisal_forms.settings_values() | forms.exercise_values(found) | {"need.eligibility.gender": "both"}
    defaults |= forms.weights_values(found.default_weights.given()) | {"deadline.closes_on": str(found.closes_on or "")}
    return page(
        "exercise.html.j2",
        publish_budget_choices=PUBLISH_BUDGET_CHOICES,
        askers={pid: await _name_of(ctx, conn, session.caller, pid) for pid in sorted(askers)},
        chosen=await _chosen_labels(conn, found_appraisals),
        status=status,
        session=session,
        exercise=found,
        frozen=frozen,
        just_frozen=next((r for r in frozen if r.id == just_frozen), None),
        taxonomy=ctx.taxonomy,
        matched=matched,
        notice=notice,
        responses=responses,
        clarifications=clarifications,
        appraisals=found_appraisals,
        answered=answered,
        # one form state for the page's forms: the new appraisal's boxes keep their defaults, and the exercise's
        # its stored values, under what another form's refusal shows again
        form=msgspec.structs.replace(form, values=defaults | form.values) if form else _appraisal_form(defaults),
        may_appraise=_appraiser(session.caller),
        published=published,
        started=started,
        need_added=next((n for n in found.needs if n.id == need_added), None),
        question_added=question_added,
        question_changed=question_changed,
        question_moved=question_moved,
        removed=removed,
        changed=changed,
        deadline_moved=deadline_moved,
        weighted=weighted,
        just_closed=just_closed,
        questions=await engagement.list_questions(conn, session.caller, exercise_id),
        draft=notice is None,  # not published (`_is_draft`), as the notice the page read says
        genders=forms.GENDERS,
        sectors=forms.SECTORS,
        priority_rows=forms.priority_rows,
        weight_labels=forms.WEIGHT_LABELS,
        weights_now=service.exercise_weights(found),
        standard_weights=forms.STANDARD_WEIGHTS,
        question_kinds=forms.QUESTION_KINDS,
    )


P = TypeVar("P", ExerciseIn, ExercisePatch, NeedIn, NeedPatch, QuestionIn)
Again = Callable[[Session, FormState, int], Awaitable[Response[str]]]
"""The page a commissioning form is on, shown again with the form's state and a status."""


async def _exercise_form(
    request: Request[Any, Any, Any],
    ctx: Any,
    conn: Any,
    part: tuple[
        Callable[[Mapping[str, str]], tuple[dict[str, Any], dict[str, str]]],
        Mapping[str, str] | Callable[[Mapping[str, str]], Mapping[str, str]],
        type[P],
    ],
    rules: Callable[[P], list[FieldProblem]],
    act: Callable[[Actor, P, str | None], Awaitable[str]],
    again: Again,
    *,
    versioned_as: str | None = None,
) -> Response[Any]:
    """A commissioning form (an exercise started or changed, a need or a question added to a draft, a need
    changed) done as the API does it: the form read as the API's body (`part`: how, the form's labels in its order
    or how to tell them from the form sent, the body's type), checked with the API's own `rules`, then `act` does
    it and says where the browser goes next. A change sends the version the form was opened at (the form's
    `versioned_as` field) as If-Match. Refused, the page again (`again`): every problem beside its box and what was
    typed kept; changed meanwhile (412), saying so, with the version now."""
    read, labelled, into = part
    session, form = await posted(request, conn)
    labels = labelled(form) if callable(labelled) else labelled
    admit(session.caller, STAFF)
    opened = _opened_at(form, versioned_as) if versioned_as else None
    body, where = read(form)
    values = {k: v for k, v in form.items() if k != "csrf_token"}

    async def checked(data: P) -> list[FieldProblem]:
        return rules(data)

    try:
        data = await service.check_all(body, into, ctx.taxonomy, checked)
        go = await act(actor_of(request.scope), data, None if opened is None else etag(opened))
    except PreconditionFailed as exc:
        assert versioned_as is not None
        values[versioned_as] = str(exc.current_version)
        said = (
            f"someone saved a change since you opened this page (version {opened}, now version "
            f"{exc.current_version}): nothing of yours has been saved. What you typed is still in the form: check "
            "it against the page and save again"
        )
        changed = [FieldProblem(field=versioned_as, problem=said)]
        return await again(session, FormState(values=values, unplaced=changed, labels=dict(labels)), 412)
    except (InvalidInput, Unprocessable, Conflict) as exc:
        told = forms.area_problems(_problems(exc), ctx.taxonomy.codes("areas"))
        return await again(session, service.place(told, where, values, labels), status_of(exc))
    return see_other(go)


def _kept_under(stored: dict[str, str], form: FormState) -> FormState:
    """A refused form shown again as typed, with a page's other forms' boxes as stored: a box a form of a page has
    (its name's first part: `need.`, `weights.`) is from the form sent when any box of that form was sent, so a box
    left unticked stays so."""
    sent = {k.partition(".")[0] for k in form.values}
    kept = {k: v for k, v in stored.items() if k.partition(".")[0] not in sent}
    return msgspec.structs.replace(form, values=kept | form.values)


def _said(page_: str, version: int, if_match: str | None, done: str) -> str:
    """Where a change's form goes next: its page saying what was done (`done`, its query), or, when the form was
    saved as it was stored (its version unchanged), the page as it is, with nothing said."""
    return page_ if etag(version) == if_match else f"{page_}?{done}"


def _on_exercise_page(ctx: Any, conn: Any, exercise_id: int) -> Again:
    async def again(session: Session, form: FormState, status: int) -> Response[str]:
        return await _exercise_page(session, ctx, conn, exercise_id, form=form, status=status)

    return again


@post("/exercises/{exercise_id:int}/edit", status_code=303)
async def change_exercise(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Change a draft exercise's title, commissioning body, description and dates (staff; as the API's PATCH
    /exercises/{id} with the version the page was opened at as If-Match); then its page, saying so."""

    async def change(actor: Actor, data: ExerciseIn, if_match: str | None) -> str:
        patch = ExercisePatch(**{n: getattr(data, n) for n in forms.EXERCISE_LABELS})  # the form's, whole
        made = await exercises.update_exercise(ctx, conn, actor, exercise_id, if_match, patch)
        return _said(f"/console/exercises/{exercise_id}", made.version, if_match, "changed=1")

    exercise = (partial(forms.exercise_body, prefix="exercise."), EXERCISE_FORM_LABELS, ExerciseIn)
    again = _on_exercise_page(ctx, conn, exercise_id)
    return await _exercise_form(
        request, ctx, conn, exercise, _exercise_rules, change, again, versioned_as="exercise.version"
    )


EXERCISE_FORM_LABELS = {f"exercise.{n}": label for n, label in forms.EXERCISE_LABELS.items()} | {
    "exercise.version": "This exercise"
}


@post("/exercises/{exercise_id:int}/deadline", status_code=303)
async def move_deadline(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Move a published exercise's deadline later (staff; as the API's PATCH /exercises/{id} of `closes_on` with the
    version the page was opened at as If-Match): the notice's one change publishing allows, dated as its revision;
    then the exercise's page, saying so. An earlier date is refused as the API refuses it, beside the box."""

    async def move(actor: Actor, data: ExercisePatch, if_match: str | None) -> str:
        if not await engagement.is_published(conn, exercise_id):  # a form from before it was published: none now
            raise Conflict("the exercise is not published: its dates change with its own form, above")
        try:
            made = await exercises.update_exercise(ctx, conn, actor, exercise_id, if_match, data)
        except Conflict as exc:  # opening it again on a day already past: said of the box
            if not any(p.field == "status" for p in exc.problems):
                raise
            raise Conflict.field("closes_on", "that day has passed: choose a later one to open it again") from exc
        return _said(f"/console/exercises/{exercise_id}", made.version, if_match, "deadline_moved=1#engagement")

    def read(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        body = {"closes_on": form.get("deadline.closes_on", "").strip()}
        if form.get("deadline.reopen"):  # an exercise marked closed, opened again until its new deadline
            body["status"] = "engagement_open"
        return body, {"closes_on": "deadline.closes_on", "status": "deadline.closes_on"}

    labels = {"deadline.closes_on": "New closing date", "deadline.version": "This exercise", "body": "The deadline"}
    again = _on_exercise_page(ctx, conn, exercise_id)
    return await _exercise_form(
        request, ctx, conn, (read, labels, ExercisePatch), lambda _: [], move, again, versioned_as="deadline.version"
    )


@post("/exercises/{exercise_id:int}/needs", status_code=303)
async def add_need(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Add a need to a draft exercise (staff; as the API's POST /exercises/{id}/needs): its title, pathway, areas,
    volume, budget, contract length and cohorts; the rest as the API's defaults, changed through the API."""

    async def add(actor: Actor, data: NeedIn, _: str | None) -> str:
        made = await exercises.create_need(ctx, conn, actor, exercise_id, data)
        return f"/console/exercises/{exercise_id}?need_added={made.id}#needs"

    need = (partial(forms.need_body, areas=ctx.taxonomy.codes("areas")), forms.NEED_LABELS, NeedIn)
    again = _on_exercise_page(ctx, conn, exercise_id)
    return await _exercise_form(request, ctx, conn, need, lambda data: need_problems(data, ctx.taxonomy), add, again)


@post("/needs/{need_id:int}/edit", status_code=303)
async def change_need(request: Request[Any, Any, Any], need_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Change a need of a draft exercise (staff; as the API's PATCH /needs/{id} with the version its page was
    opened at as If-Match): the boxes the new-need form has, the rest as they are; then its page, saying so."""

    async def change(actor: Actor, data: NeedIn, if_match: str | None) -> str:
        stored = (await exercises.get_need(conn, need_id)).local_priorities
        data.local_priorities = forms.kept_priorities(data.local_priorities, stored)
        patch = NeedPatch(**{n: getattr(data, n) for n in forms.NEED_CHANGED})  # the form's, whole; the rest kept
        made = await exercises.update_need(ctx, conn, actor, need_id, if_match, patch)
        return _said(f"/console/needs/{need_id}", made.version, if_match, "changed=1")

    async def again(session: Session, form: FormState, status: int) -> Response[str]:
        return await _need_page(session, ctx, conn, need_id, form=form, status=status)

    areas = ctx.taxonomy.codes("areas")
    need = (partial(forms.need_body, areas=areas), partial(_need_form_labels, areas=areas), NeedIn)
    return await _exercise_form(
        request,
        ctx,
        conn,
        need,
        lambda data: need_problems(data, ctx.taxonomy),
        change,
        again,
        versioned_as="need.version",
    )


def _need_form_labels(values: Mapping[str, str], areas: Mapping[str, str]) -> dict[str, str]:
    """The boxes of the form changing a need, by name as it labels them, in its order."""
    return forms.need_labels(values, areas) | {"need.version": "This need"}


@post("/exercises/{exercise_id:int}/close", status_code=303)
async def close_exercise(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Mark a published exercise closed once its deadline has passed (staff; as the API's PATCH /exercises/{id} of
    `status` with the page's version as If-Match); then its page, saying so. Before its deadline, refused as the
    API refuses it (409)."""

    async def close(actor: Actor, data: ExercisePatch, if_match: str | None) -> str:
        if not await engagement.is_published(conn, exercise_id):  # the button is a published exercise's
            raise Conflict("the exercise is not published: there is no engagement to close")
        try:
            made = await exercises.update_exercise(ctx, conn, actor, exercise_id, if_match, data)
        except Conflict as exc:  # before its deadline: said as a date, as the page says it
            closes_on = (await exercises.get_exercise(conn, exercise_id, with_needs=False)).closes_on
            if closes_on is None or not any(p.field == "status" for p in exc.problems):
                raise
            said = f"it takes responses until the end of {formatting.date(closes_on)}, UK time: mark it closed then"
            raise Conflict(said) from exc
        return _said(f"/console/exercises/{exercise_id}", made.version, if_match, "closed=1")

    def read(_: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        return {"status": "closed"}, {}

    labels = {"close.version": "This exercise", "status": "Marking it closed"}
    again = _on_exercise_page(ctx, conn, exercise_id)
    return await _exercise_form(
        request, ctx, conn, (read, labels, ExercisePatch), lambda _: [], close, again, versioned_as="close.version"
    )


def _weights_form(field: str, none: Any, whose: str, into: type[P]) -> tuple[Any, dict[str, str], type[P]]:
    """The weights form as the API's body of `field` (every box empty: `none`, no table of its own), its labels
    (`whose` its version is) and the body's type."""

    def read(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        given, where = forms.weights_body(form)
        return {field: given or none}, {f"{field}.{c}": box for c, box in where.items()}

    return read, forms.WEIGHT_LABELS | {"weights.version": whose, field: "Weights"}, into


def _weights_problems(given: Any, field: str) -> list[FieldProblem]:
    """The API's rule for a table of percentages (they sum to 100), said with the decoder's problems, in the form's
    words: what the boxes add up to, and what they would be scaled to 100 (`forms.weights_refused`)."""
    try:
        exercises.checked_weights(given or None, field)
    except Unprocessable:
        return [FieldProblem(field=field, problem=forms.weights_refused(given.given()))]
    return []


@post("/exercises/{exercise_id:int}/weights", status_code=303)
async def change_exercise_weights(
    request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn
) -> Response[Any]:
    """Set the exercise's default weights (staff; as the API's PATCH /exercises/{id} of `default_weights`, with the
    page's version as If-Match): a need without weights of its own is matched with them; every box empty, with the
    standard weights. Then its page, saying so."""

    async def change(actor: Actor, data: ExercisePatch, if_match: str | None) -> str:
        made = await exercises.update_exercise(ctx, conn, actor, exercise_id, if_match, data)
        return _said(f"/console/exercises/{exercise_id}", made.version, if_match, "weighted=1#weights")

    part = _weights_form("default_weights", {}, "This exercise", ExercisePatch)
    return await _exercise_form(
        request,
        ctx,
        conn,
        part,
        lambda d: _weights_problems(d.default_weights, "default_weights"),
        change,
        _on_exercise_page(ctx, conn, exercise_id),
        versioned_as="weights.version",
    )


@post("/needs/{need_id:int}/weights", status_code=303)
async def change_need_weights(request: Request[Any, Any, Any], need_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Set the need's own weights (staff; as the API's PATCH /needs/{id} of `weight_overrides`, with the page's
    version as If-Match); every box empty, none: the exercise's default weights. Then its page, saying so."""

    async def change(actor: Actor, data: NeedPatch, if_match: str | None) -> str:
        made = await exercises.update_need(ctx, conn, actor, need_id, if_match, data)
        return _said(f"/console/needs/{need_id}", made.version, if_match, "weighted=1#weights")

    async def again(session: Session, form: FormState, status: int) -> Response[str]:
        return await _need_page(session, ctx, conn, need_id, form=form, status=status)

    part = _weights_form("weight_overrides", None, "This need", NeedPatch)
    return await _exercise_form(
        request,
        ctx,
        conn,
        part,
        lambda d: _weights_problems(d.weight_overrides, "weight_overrides"),
        change,
        again,
        versioned_as="weights.version",
    )


@post("/exercises/{exercise_id:int}/questions", status_code=303)
async def add_question(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Add a question to a draft exercise (staff; as the API's POST /exercises/{id}/questions): every responding
    provider answers it."""

    async def add(actor: Actor, data: QuestionIn, _: str | None) -> str:
        await engagement.add_question(conn, actor, exercise_id, data)
        return f"/console/exercises/{exercise_id}?question_added=1#questions"

    question = (forms.question_body, forms.QUESTION_LABELS, QuestionIn)
    again = _on_exercise_page(ctx, conn, exercise_id)
    return await _exercise_form(request, ctx, conn, question, engagement.question_problems, add, again)


@get("/exercises/{exercise_id:int}/questions/{question_id:int}/edit")
async def question_page(
    request: Request[Any, Any, Any], exercise_id: Id, question_id: Id, ctx: Ctx, conn: Conn
) -> Response[str]:
    """Staff: a draft exercise's question in the form changing it; once the exercise is published, why it cannot
    be changed (its questions are fixed)."""
    session = await _staff(request, conn)
    return await _question_page(session, conn, exercise_id, question_id)


async def _question_page(
    session: Session, conn: Any, exercise_id: int, question_id: int, form: FormState | None = None, status: int = 200
) -> Response[str]:
    """The page changing a question: its form as stored, or `form` (a refused one, as typed)."""
    number, question = await _question_of(conn, session.caller, exercise_id, question_id)
    if form is None:
        form = FormState(values=forms.question_values(question), labels=QUESTION_FORM_LABELS)
    return page(
        "question.html.j2",
        status=status,
        session=session,
        exercise=await exercises.get_exercise(conn, exercise_id),
        number=number,
        question_id=question_id,
        form=form,
        draft=await _is_draft(conn, exercise_id),
        question_kinds=forms.QUESTION_KINDS,
    )


QUESTION_FORM_LABELS = forms.QUESTION_LABELS | {"question.version": "This question"}


@post("/exercises/{exercise_id:int}/questions/{question_id:int}/edit", status_code=303)
async def change_question(
    request: Request[Any, Any, Any], exercise_id: Id, question_id: Id, ctx: Ctx, conn: Conn
) -> Response[Any]:
    """Change a draft exercise's question (staff; as the API's PUT /exercises/{id}/questions/{question_id} with the
    version the page was opened at as If-Match); then the exercise's page, saying so (nothing, saved as it was)."""

    async def change(actor: Actor, data: QuestionIn, if_match: str | None) -> str:
        made = await engagement.change_question(conn, actor, exercise_id, question_id, if_match, data)
        return _said(f"/console/exercises/{exercise_id}", made.version, if_match, "question_changed=1") + "#questions"

    async def again(session: Session, form: FormState, status: int) -> Response[str]:
        return await _question_page(session, conn, exercise_id, question_id, form, status)

    question = (forms.question_body, QUESTION_FORM_LABELS, QuestionIn)
    return await _exercise_form(
        request, ctx, conn, question, engagement.question_problems, change, again, versioned_as="question.version"
    )


@post("/exercises/{exercise_id:int}/questions/{question_id:int}/move", status_code=303)
async def move_question(request: Request[Any, Any, Any], exercise_id: Id, question_id: Id, conn: Conn) -> Response[Any]:
    """A draft exercise's question moved up or down a place (staff; as the API's POST /exercises/{id}/questions/
    {question_id}/move with the place its button sends, `position`, and the place the page showed it at,
    `from_position`); then the exercise's questions, saying where it went. Refused as the API refuses it (published
    meanwhile, or the questions changed since the page was opened: 409), on the error page, which links back to
    them (BACK_TO)."""
    session, form = await posted(request, conn)
    admit(session.caller, STAFF)
    places: dict[str, int] = {}
    for name in ("position", "from_position"):
        typed = form.get(name, "")
        if (place := forms.read_id(typed.strip())) is None:
            said = f"{forms.quoted(typed)} is not a place among the questions (1 for the first)"
            raise InvalidInput.field(name, said)
        places[name] = place
    data = QuestionMove(**places)
    await engagement.move_question(conn, actor_of(request.scope), exercise_id, question_id, data)
    return see_other(f"/console/exercises/{exercise_id}?question_moved={data.position}#questions")


async def _is_draft(conn: Any, exercise_id: int) -> bool:
    """Whether the exercise's needs, questions and dates may still change as the API allows: not published for
    engagement (a draft, or one closed without being published)."""
    return not await engagement.is_published(conn, exercise_id)


async def _removal_page(
    session: Session,
    ctx: Any,
    conn: Any,
    exercise: Exercise,
    what: RemovalPage,
    *,
    blocked: str | None = None,
    refused: tuple[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    """The step before removing a part of a draft exercise (`what`: which, described): the button, or why not."""
    if blocked is None and not await _is_draft(conn, exercise.id):
        blocked = f"The exercise is published for market engagement: its {what.kind}s are fixed."
    back = f"go back to “{exercise.title}”"
    return page(
        "remove_part.html.j2",
        status=status,
        session=session,
        exercise=exercise,
        blocked=blocked,
        refused=refused,
        cancel=(
            f"/console/exercises/{exercise.id}#{what.kind}s",
            _capital(back) if blocked else f"Cancel: keep it, and {back}",
        ),
        **what._asdict(),
    )


class RemovalPage(NamedTuple):
    """What the removal page says of the part it removes."""

    kind: str  # "need" or "question": the exercise page's section (#needs, #questions) and its words
    name: str  # as a sentence names it: "the need “…”", "question 2"
    facts: list[tuple[str, str]]
    does: str  # what removing it does, after "It is taken out of the draft exercise: "
    action: str
    button: str
    version: int | None = None  # a versioned part's version, sent back as If-Match
    crumb: tuple[str, str] | None = None  # its own page, in the breadcrumbs


def _need_removal(need: Need, taxonomy: Any) -> RemovalPage:
    pathway = taxonomy.codes("pathways").get(need.pathway, need.pathway)
    return RemovalPage(
        kind="need",
        name=f"the need “{need.title}”",
        facts=[
            ("Pathway", pathway),
            ("Areas", and_list([taxonomy.codes("areas").get(a, a) for a in need.areas])),
            ("People a year", formatting.whole(need.annual_volume)),
            ("Budget a year", formatting.pounds(need.annual_budget)),
        ],
        does="it is no longer matched, and neither the notice nor the exercise’s reports show it.",
        action=f"/console/needs/{need.id}/remove",
        button="Remove this need",
        version=need.version,
        crumb=(f"/console/needs/{need.id}", need.title),
    )


async def _need_removal_page(
    session: Session, ctx: Any, conn: Any, need: Need, refused: tuple[str, str] | None = None, status: int = 200
) -> Response[str]:
    exercise = await exercises.get_exercise(conn, need.exercise_id)
    runs = len(await exercises.list_match_runs(conn, need.id))
    blocked = (
        f"It has {runs} stored match run{'s' if runs != 1 else ''}, kept as evidence of how providers were found: a "
        "need with runs cannot be removed."
        if runs
        else None
    )
    what = _need_removal(need, ctx.taxonomy)
    return await _removal_page(session, ctx, conn, exercise, what, blocked=blocked, refused=refused, status=status)


@get("/needs/{need_id:int}/remove")
async def remove_need_page(request: Request[Any, Any, Any], need_id: Id, ctx: Ctx, conn: Conn) -> Response[str]:
    """Staff: what removing a need from a draft exercise does, and the button that does it (a step of its own); why
    not, once the exercise is published or while the need has stored match runs."""
    session = await _staff(request, conn)
    return await _need_removal_page(session, ctx, conn, await exercises.get_need(conn, need_id))


@post("/needs/{need_id:int}/remove", status_code=303)
async def remove_need(request: Request[Any, Any, Any], need_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """As DELETE /needs/{id} with If-Match (the version the page was opened at): then the exercise's page, saying
    so. Refused as the API refuses it (changed since, published, runs stored, named by an appraisal's option): the
    page again as the need is now, saying why."""
    session, form = await posted(request, conn)
    admit(session.caller, STAFF)
    version = _opened_at(form, "version")
    need = await exercises.get_need(conn, need_id)
    try:
        await exercises.delete_need(conn, actor_of(request.scope), need_id, etag(version))
    except PreconditionFailed:
        said = (
            "This need was changed since you opened this page",
            f"You opened it at version {version}; it is now at version {need.version}. Nothing has been removed: "
            "here it is as it is now.",
        )
        return await _need_removal_page(session, ctx, conn, need, said, 412)
    except Conflict as exc:
        said = ("This need cannot be removed", _sentence(exc.message))
        return await _need_removal_page(session, ctx, conn, need, said, 409)
    return see_other(f"/console/exercises/{need.exercise_id}?removed=need#needs")


def _question_removal(number: int, question: Question, exercise_id: int) -> RemovalPage:
    kind = forms.QUESTION_KINDS.get(question.kind, question.kind)
    if question.choices:
        kind += ": " + ", ".join(question.choices)
    return RemovalPage(
        kind="question",
        name=f"question {number}",
        facts=[("Question", question.text), ("Answer", kind), ("Required", "Yes" if question.required else "No")],
        does="providers responding are not asked it.",
        action=f"/console/exercises/{exercise_id}/questions/{question.id}/remove",
        button="Remove this question",
    )


async def _question_of(conn: Any, caller: Caller, exercise_id: int, question_id: int) -> tuple[int, Question]:
    """The exercise's question and its number as the exercise's page lists it (from 1, in order)."""
    listed = await engagement.list_questions(conn, caller, exercise_id)
    found = next(((i, q) for i, q in enumerate(listed, 1) if q.id == question_id), None)
    if found is None:
        raise NotFound(f"exercise {exercise_id} has no question {question_id}")
    return found


@get("/exercises/{exercise_id:int}/questions/{question_id:int}/remove")
async def remove_question_page(
    request: Request[Any, Any, Any], exercise_id: Id, question_id: Id, ctx: Ctx, conn: Conn
) -> Response[str]:
    """Staff: what removing a question from a draft exercise does, and the button that does it; why not, once the
    exercise is published (its questions are fixed)."""
    session = await _staff(request, conn)
    number, question = await _question_of(conn, session.caller, exercise_id, question_id)
    exercise = await exercises.get_exercise(conn, exercise_id)
    return await _removal_page(session, ctx, conn, exercise, _question_removal(number, question, exercise_id))


@post("/exercises/{exercise_id:int}/questions/{question_id:int}/remove", status_code=303)
async def remove_question(
    request: Request[Any, Any, Any], exercise_id: Id, question_id: Id, ctx: Ctx, conn: Conn
) -> Response[Any]:
    """As DELETE /exercises/{id}/questions/{question_id}: then the exercise's page, saying so. Refused as the API
    refuses it (published meanwhile): the page again, saying why."""
    session, _ = await posted(request, conn)
    admit(session.caller, STAFF)
    number, question = await _question_of(conn, session.caller, exercise_id, question_id)
    try:
        await engagement.remove_question(conn, actor_of(request.scope), exercise_id, question_id)
    except Conflict as exc:
        exercise = await exercises.get_exercise(conn, exercise_id)
        said = ("This question cannot be removed", _sentence(exc.message))
        what = _question_removal(number, question, exercise_id)
        return await _removal_page(session, ctx, conn, exercise, what, refused=said, status=409)
    return see_other(f"/console/exercises/{exercise_id}?removed=question#questions")


@post("/exercises/{exercise_id:int}/match", status_code=303)
async def match_every_need(request: Request[Any, Any, Any], exercise_id: Id, state: State, ctx: Ctx) -> Response[Any]:
    """As POST /exercises/{id}/match: every need matched (or its stored run reused), for the report; then back to
    the exercise's page, or to the console page the form names (`back`: the report's page offers it too)."""
    _, form = await _costly(request, state, posting=True)
    await exercises.match_exercise(ctx, state.pool, state.match_pools, actor_of(request.scope), exercise_id)
    return see_other(_back(form, f"/console/exercises/{exercise_id}?matched=1"))


@get("/needs/{need_id:int}")
async def need_page(
    request: Request[Any, Any, Any], need_id: Id, ctx: Ctx, conn: Conn, changed: Flag = False, weighted: Flag = False
) -> Response[str]:
    """The need's page; `changed`: the need was just changed from its form, `weighted`: its weights (said at the
    top)."""
    session = await _reader(request, conn)
    return await _need_page(session, ctx, conn, need_id, changed=changed, weighted=weighted)


async def _need_page(
    session: Session,
    ctx: Any,
    conn: Any,
    need_id: int,
    *,
    form: FormState | None = None,
    status: int = 200,
    changed: bool = False,
    weighted: bool = False,
) -> Response[str]:
    """The need, its weights (with the form setting its own), runs and shortlist; while its exercise is a draft, the
    form changing it. `form`: a refused one, shown again as typed, the other form's boxes as stored."""
    need = await exercises.get_need(conn, need_id)
    exercise = await exercises.get_exercise(conn, need.exercise_id)
    runs = await exercises.list_match_runs(conn, need_id)
    shortlist = await service.shortlist(ctx, conn, session.caller, need_id)
    areas = ctx.taxonomy.codes("areas")
    stored = forms.need_values(need, areas) | forms.weights_values(
        need.weight_overrides.given() if need.weight_overrides else {}
    )
    shown = _kept_under(stored, form) if form else FormState(values=stored, labels=_need_form_labels(stored, areas))
    return page(
        "need.html.j2",
        status=status,
        changed=changed,
        weighted=weighted,
        form=shown,
        volume_areas=forms.volume_areas(need.areas, ctx.taxonomy.areas, shown.values),
        session=session,
        need=need,
        exercise=exercise,
        weights=service.need_weights(exercise, need),
        runs=runs,
        shortlist=shortlist,
        taxonomy=ctx.taxonomy,
        draft=await _is_draft(conn, exercise.id),
        genders=forms.GENDERS,
        sectors=forms.SECTORS,
        priority_rows=forms.priority_rows,
        weight_labels=forms.WEIGHT_LABELS,
    )


@post("/needs/{need_id:int}/match-runs", status_code=303)
async def run_match(request: Request[Any, Any, Any], need_id: Id, state: State, ctx: Ctx) -> Response[Any]:
    await _costly(request, state, posting=True)
    # ranked as deep as "Match every need" and the report rank (the page shows the first 50), so they reuse this run
    run, _, _ = await exercises.match_need(
        ctx, state.pool, state.match_pools, actor_of(request.scope), need_id, limit=ctx.settings.match_store_limit
    )
    return see_other(f"/console/match-runs/{run.id}")


@get("/match-runs/{run_id:int}")
async def match_run_page(request: Request[Any, Any, Any], run_id: Id, ctx: Ctx, conn: Conn) -> Response[str]:
    session = await _reader(request, conn)
    run = await exercises.get_match_run(conn, run_id, limit=50)
    exercise = await exercises.get_exercise(conn, run.exercise_id)  # named in the breadcrumbs
    shortlisted = {e.provider_id for e in await service.shortlist(ctx, conn, session.caller, run.need_id)}
    return page(
        "match_run.html.j2",
        session=session,
        run=run,
        exercise=exercise,
        shortlisted=shortlisted,
        taxonomy=ctx.taxonomy,
        threshold=REPORT_THRESHOLD,
    )


@get("/needs/{need_id:int}/compare")
async def compare_page(
    request: Request[Any, Any, Any], need_id: Id, ctx: Ctx, conn: Conn, provider: FromQuery[list[str] | None] = None
) -> Response[str]:
    session = await _reader(request, conn)
    need = await exercises.get_need(conn, need_id)
    exercise = await exercises.get_exercise(conn, need.exercise_id)  # named in the breadcrumbs
    run = await service.newest_run(conn, need_id)
    if run is None:
        said = Unprocessable(f"“{need.title}” has no match run yet: run a match on the need’s page first")
        return _error(422, said, session, back=(f"/console/needs/{need_id}", f"Go to “{need.title}”"))
    problems: list[FieldProblem] = []
    comparison = None
    try:
        comparison = service.compare(run, provider or [])
    except InvalidInput as exc:
        problems = exc.problems
    else:  # a provider the run did not rank or exclude, by its name (the run names only those it saw)
        columns = [
            c if c.in_run else msgspec.structs.replace(c, name=await _name_of(ctx, conn, session.caller, c.provider_id))
            for c in comparison.columns
        ]
        comparison = msgspec.structs.replace(comparison, columns=columns)
    shortlisted = {e.provider_id for e in await service.shortlist(ctx, conn, session.caller, need_id)}
    return page(
        "compare.html.j2",
        status=400 if problems else 200,
        session=session,
        exercise=exercise,
        need=need,
        run=run,
        comparison=comparison,
        form=FormState(values={}, unplaced=problems, labels={"provider": "Providers to compare"}),
        shortlisted=shortlisted,
        threshold=REPORT_THRESHOLD,
        here=f"/console/needs/{need_id}/compare?"  # where adding one to the shortlist comes back to
        + urlencode([("provider", c.provider_id) for c in (comparison.columns if comparison else [])]),
    )


@post("/needs/{need_id:int}/shortlist", status_code=303)
async def shortlist_add(request: Request[Any, Any, Any], need_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    _, form = await posted(request, conn)
    provider_id = forms.read_id(typed := form.get("provider_id", ""))
    if provider_id is None:
        said = f"choose a provider: {forms.not_an_id(typed, 'a provider')}" if typed else "choose a provider"
        raise InvalidInput.field("provider_id", said)
    await service.add_to_shortlist(ctx, conn, actor_of(request.scope), need_id, provider_id)
    return see_other(_back(form, f"/console/needs/{need_id}"))


@post("/needs/{need_id:int}/shortlist/{provider_id:int}/remove", status_code=303)
async def shortlist_remove(request: Request[Any, Any, Any], need_id: Id, provider_id: Id, conn: Conn) -> Response[Any]:
    _, form = await posted(request, conn)
    await service.remove_from_shortlist(conn, actor_of(request.scope), need_id, provider_id)
    return see_other(_back(form, f"/console/needs/{need_id}"))


def _back(form: Mapping[str, str], default: str) -> str:
    back = form.get("back", "")
    return back if back.startswith("/console/") and not back.startswith("/console//") else default


ReportFormat = Literal["html", "csv"]
REPORT_THRESHOLD = SUITABLE_SCORE
"""The suitable score the console's market report reads and freezes with (the API's default)."""
REPORT_PAGE_CSP = REPORT_CSP + "; form-action 'self'; base-uri 'none'"
"""The report page the console serves: the report's own policy, its forms posting only to the console."""


def _threshold(typed: str | None) -> float:
    """The suitable score a report page is asked for (`threshold`, as the API's): a number from 0 to 1 as a person
    types one (`forms.read_number`), or a percentage ("60%" is 0.6); the API's default when not given."""
    if typed is None or not typed.strip():
        return REPORT_THRESHOLD
    text = typed.strip()
    per_cent = text.endswith("%")
    found = forms.read_number(text.removesuffix("%").strip(), whole=False)
    if found is not None and per_cent:
        found = round(found / 100, 6)
    if found is None or not 0 <= found <= 1:
        raise InvalidInput.field(
            "threshold",
            f"{forms.quoted(typed)} is not a suitable score: enter a number from 0 to 1, such as 0.6, or a "
            "percentage, such as 60%",
        )
    return float(found)


@get("/exercises/{exercise_id:int}/report")
async def report(
    request: Request[Any, Any, Any],
    exercise_id: Id,
    state: State,
    ctx: Ctx,
    format: FromQuery[ReportFormat] = "html",
    threshold: Q = None,
) -> Response[Any]:
    """The market report as the API's GET /exercises/{id}/report renders it (CSV download, or the HTML page with
    the console's controls above it: the way back, the suitable score it counts with, and freezing it)."""
    session, _ = await _costly(request, state)
    try:
        counted = _threshold(threshold)
    except InvalidInput as exc:
        return _error(
            400, exc, session, back=(f"/console/exercises/{exercise_id}/report?format=html", "Back to the report")
        )
    made = await reports.make_report(ctx, state.pool, exercise_id, threshold=counted)
    if format == "csv":
        body = await reports.in_turn(state.report_builds, to_csv_bytes, made)
        return report_response(body, "csv", f"market-report-{exercise_id}")
    return await _report_page(state, session, made)


async def _report_page(
    state: State, session: Session, made: Any, *, refused: Unprocessable | None = None, status: int = 200
) -> Response[Any]:
    """The market report's page in the console: the report as the API renders it, and above it the freeze form,
    what freezing means, and, when freezing would be refused (a need with no stored run), why instead, in the
    console's words (the needs by name, not the API's and the command line's way to match them: the page has the
    button): `refused` when pressing the button was. Rendered in turn with the worker's other reports
    (`reports.in_turn`), as the API's are."""
    said = refused or reports.refusal(made)
    stale_ids = set(made.freshness.stale_need_ids) if made.freshness is not None else set()
    body = await reports.in_turn(
        state.report_builds,
        lambda: to_html(
            made,
            template="console/report.html.j2",
            csrf=session.csrf_token,
            can_write=can_write(session),
            refused="" if said is None else "; ".join(p.problem for p in said.problems) or said.message,
            unmatched=[] if said is None or made.freshness is None else made.freshness.not_matched,
            just_refused=refused is not None,
            stale=[(n.need_id, n.title) for n in made.needs if n.need_id in stale_ids],
            threshold=made.method.thresholds.suitable_score,
            default_threshold=REPORT_THRESHOLD,
        ),
    )
    response = report_response(body, "html", f"market-report-{made.exercise.id}")
    response.status_code = status
    response.headers["Content-Security-Policy"] = REPORT_PAGE_CSP
    return response


@post("/exercises/{exercise_id:int}/reports", status_code=303)
async def freeze(request: Request[Any, Any, Any], exercise_id: Id, state: State, ctx: Ctx) -> Response[Any]:
    """As POST /exercises/{id}/reports: the report stored as it is now, for good; then the exercise's page, saying
    so with the frozen report's links (the frozen report's page is its stored bytes, with no console around it).
    When the API would refuse it (422: a need with no stored run to report from), the report's page again, saying
    so."""
    session, form = await _costly(request, state, posting=True)
    try:
        threshold = _threshold(form.get("threshold"))
    except InvalidInput as exc:
        return _error(
            400, exc, session, back=(f"/console/exercises/{exercise_id}/report?format=html", "Back to the report")
        )
    try:
        frozen = await reports.freeze_report(ctx, state.pool, actor_of(request.scope), exercise_id, threshold=threshold)
    except Unprocessable as exc:
        made = await reports.make_report(ctx, state.pool, exercise_id, threshold=threshold)
        return await _report_page(state, session, made, refused=exc, status=422)
    return see_other(f"/console/exercises/{exercise_id}?frozen={frozen.id}")


@get("/reports/{report_id:int}")
async def frozen_report(
    request: Request[Any, Any, Any], report_id: Id, conn: Conn, format: FromQuery[ReportFormat] = "html"
) -> Response[Any]:
    await _reader(request, conn)
    fmt = format
    frozen, body = await reports.get_frozen(conn, report_id, fmt)
    return report_response(body, fmt, f"market-report-{frozen.exercise_id}-frozen-{frozen.id}")


# --- market engagement: providers respond, commissioners read and answer --------------------------------


def _provider(caller: Caller) -> int:
    """As the API's guard on responding and asking: a provider key (its own provider)."""
    admit(caller, ("provider",))
    assert caller.provider_id is not None  # a provider key always names its provider
    return caller.provider_id


async def _own_response(conn: Any, exercise_id: int, provider_id: int) -> Response_ | None:
    try:
        return await engagement.get_response(conn, exercise_id, provider_id)
    except NotFound:
        return None


@get("/open-exercises")
async def open_exercise_list(request: Request[Any, Any, Any], ctx: Ctx, conn: Conn) -> Response[str]:
    """As GET /providers/{id}/open-exercises for the signed-in provider; while its profile is pending or archived, with
    no link to a response form that would be refused, and why."""
    session = await signed_in(request, conn)
    provider_id = _provider(session.caller)
    found = await engagement.open_exercises(ctx, conn, session.caller, provider_id)
    status = await engagement.profile_status(conn, provider_id)
    return page(
        "open_exercises.html.j2",
        session=session,
        found=found,
        pending=status == "pending",
        archived=status == "archived",
    )


async def _notice_page(
    session: Session,
    ctx: Any,
    conn: Any,
    exercise_id: int,
    *,
    form: FormState | None = None,
    asked: bool = False,
    status: int = 200,
) -> Response[str]:
    notice = await engagement.notice(ctx, conn, exercise_id)
    own, pending, archived = None, False, False
    clarifications = await engagement.list_clarifications(conn, session.caller, exercise_id)
    if session.caller.role == "provider" and session.caller.provider_id is not None:
        own = await _own_response(conn, exercise_id, session.caller.provider_id)
        profile = await engagement.profile_status(conn, session.caller.provider_id)
        pending, archived = profile == "pending", profile == "archived"
    return page(
        "notice.html.j2",
        status=status,
        session=session,
        notice=notice,
        own=own,
        pending=pending,
        archived=archived,
        mine=[c for c in clarifications if c.provider_id is not None and c.answer is None],
        form=form or FormState(values={}),
        asked=asked,
    )


@get("/exercises/{exercise_id:int}/notice")
async def notice_page(
    request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn, asked: Flag = False
) -> Response[str]:
    """The public notice (anyone signed in), with the provider's own questions not yet answered."""
    session = await signed_in(request, conn)
    return await _notice_page(session, ctx, conn, exercise_id, asked=asked)


@post("/exercises/{exercise_id:int}/clarifications", status_code=200)
async def ask_clarification(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    session, form = await posted(request, conn)
    _provider(session.caller)
    values = {"question": form.get("question", "")}
    try:
        data = service.decode_form({"question": values["question"].strip()}, ClarificationIn)
        await engagement.ask(ctx, conn, actor_of(request.scope), exercise_id, data)
    except InvalidInput as exc:
        state_ = _placed(exc.problems, ("question",), values)
        state_.labels = {"question": "Your clarification question"}
    except Conflict as exc:
        state_ = FormState(values=values, problems=[FieldProblem(field="question", problem=exc.message)])
    else:
        return see_other(f"/console/exercises/{exercise_id}/notice?asked=1#clarifications")
    return await _notice_page(session, ctx, conn, exercise_id, form=state_, status=400)


async def _offer(ctx: Any, conn: Any, caller: Caller, provider_id: int, notice: Any, form: FormState) -> dict[str, Any]:
    """What the response form offers per need: the provider's active services in the need's pathway (a response
    may name no other),
    which needs match its services (as the open-exercises list finds them), and which needs show open (matching,
    or already answered or with a problem on this form)."""
    services = [s for s in await providers.list_services(ctx, conn, caller, provider_id) if s.status == "active"]
    found = await engagement.open_exercises(ctx, conn, caller, provider_id)
    matching = {n for x in found if x.exercise_id == notice.exercise_id for n in x.need_ids}
    by_name = sorted(services, key=lambda s: s.name)
    by_need = {n.id: [s for s in by_name if s.pathway == n.pathway] for n in notice.needs}
    ids = {str(n.id): n.id for n in notice.needs}
    named = [k for k, v in form.values.items() if v.strip()] + [p.field for p in form.problems]
    touched = {ids[k.split(".")[1]] for k in named if k.startswith("need.") and k.split(".")[1] in ids}
    partners = {n.id: forms.items(form.values, f"need.{n.id}.partner", forms.PARTNER) for n in notice.needs}
    partner_names: dict[str, str] = {}  # a directory partner's name beside its number
    for n in notice.needs:
        for i in partners[n.id]:
            typed = form.values.get(f"need.{n.id}.partner.{i}.provider_id", "").strip()
            if (pid := forms.read_id(typed)) is not None and typed not in partner_names:
                with contextlib.suppress(NotFound):
                    partner_names[typed] = (await service.provider(ctx, conn, caller, pid)).name
    shown = matching | touched
    capacity_areas = service.response_capacity_areas(ctx.taxonomy, notice, services, form.values)
    return {
        "services": services,
        "by_need": by_need,
        "matching": matching,
        "shown": shown,
        "partners": partners,
        "partner_names": partner_names,
        "capacity_areas": capacity_areas,
    }


@get("/exercises/{exercise_id:int}/respond")
async def response_form(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[str]:
    """The response form; while the provider's profile is pending, instead of a form that would be refused, when it
    can respond (once an admin has published its profile); while it is archived, that it cannot respond (and its
    response, if it made one, to read)."""
    session = await signed_in(request, conn)
    provider_id = _provider(session.caller)
    notice = await engagement.notice(ctx, conn, exercise_id)
    own = await _own_response(conn, exercise_id, provider_id)
    status = await engagement.profile_status(conn, provider_id)
    pending, archived = status == "pending", status == "archived"
    if pending or archived:
        return page(
            "respond.html.j2",
            session=session,
            notice=notice,
            own=own,
            pending=pending,
            archived=archived,
            posted=False,
            form=FormState(values={}),
            changed=None,
        )
    values = service.response_values(notice, own) if own is not None else {"revision": ""}
    form = FormState(values=values)
    offer = await _offer(ctx, conn, session.caller, provider_id, notice, form)
    form.labels = service.response_labels(notice, offer["capacity_areas"])
    return page(
        "respond.html.j2",
        session=session,
        notice=notice,
        own=own,
        pending=False,
        archived=False,
        posted=False,
        **offer,
        form=form,
        changed=None,
        changes=[],
        barriers=BARRIER_NAMES,
        asks={},
    )


BARRIER_NAMES = {
    "contract_size": "The contract is too large for us",
    "tupe": "TUPE (staff transfer) liabilities",
    "payment_by_results": "Payment by results",
    "insurance": "Insurance requirements",
    "timescale": "The timescale",
    "geography": "The geography",
}


NO_NEED_ANSWERED = "answer for at least one need: whether you would bid, or that you are not interested"
"""What a response answering no need is told (the API: `needs` must have at least one item), beside the first."""


@post("/exercises/{exercise_id:int}/respond", status_code=200)
async def save_response(
    request: Request[Any, Any, Any], exercise_id: Id, state: State, ctx: Ctx, conn: Conn
) -> Response[Any]:
    """Submit (no revision yet) or revise (If-Match: the revision the form was opened at) the provider's response;
    a partner named close to a directory provider's name is asked about first (nothing is saved meanwhile)."""
    session, form = await posted(request, conn)
    provider_id = _provider(session.caller)
    notice = await engagement.notice(ctx, conn, exercise_id)
    own = await _own_response(conn, exercise_id, provider_id)
    body, where = service.response_body(form, notice, own)
    asks, asking = await service.recognise_partners(ctx, conn, state.search_index, form, body, where, provider_id, own)
    values = dict(form)
    values.pop(CSRF_FIELD, None)
    changed = None
    changes: list[Change] = []
    status = 400
    revision = _opened_at(form, "revision") if form.get("revision", "").strip() else 0
    own_services = await providers.list_services(ctx, conn, session.caller, provider_id)
    labels = service.response_labels(
        notice, service.response_capacity_areas(ctx.taxonomy, notice, own_services, values)
    )
    try:
        data = await service.check_all(
            body,
            ResponseIn,
            ctx.taxonomy,
            lambda data: engagement.check_response(ctx, conn, session.caller, exercise_id, provider_id, data),
        )
        if asking:
            raise InvalidInput("a partner is named close to a directory provider", problems=asking)
        if revision:
            await engagement.revise_response(
                ctx, conn, actor_of(request.scope), exercise_id, provider_id, etag(revision), data
            )
        else:
            await engagement.submit_response(ctx, conn, actor_of(request.scope), exercise_id, data)
    except PreconditionFailed:
        changed = await _own_response(conn, exercise_id, provider_id)
        values["revision"] = str(changed.revision) if changed is not None else ""
        if changed is not None:
            opened = next(
                (r for r in await engagement.list_revisions(conn, exercise_id, provider_id) if r.revision == revision),
                None,
            )
            found = service.response_changes(notice, opened, changed)
            for c in found:
                if values.get(c.field, "").strip() == c.before.strip():  # left as opened: theirs now shows
                    values[c.field] = c.after
            areas = service.response_capacity_areas(ctx.taxonomy, notice, own_services, values)
            changes += [
                msgspec.structs.replace(c, field=service.change_label(notice, own_services, c.field, areas))
                for c in found
            ]
        state_, status = FormState(values={k: v for k, v in values.items() if v}), 409
    except (InvalidInput, Unprocessable) as exc:
        none = not body["needs"]  # the API's "must have at least one item", said as what to do
        said = [
            FieldProblem(field="needs", problem=NO_NEED_ANSWERED) if none and p.field == "needs" else p
            for p in _problems(exc)
        ]
        said += [p for p in asking if p not in said]
        state_ = service.place(said, where, values, labels)
    except Conflict as exc:
        state_, status = FormState(values=values, unplaced=[FieldProblem(field="response", problem=exc.message)]), 409
    else:
        return see_other(f"/console/exercises/{exercise_id}/responses/{provider_id}?saved=1")
    offer = await _offer(ctx, conn, session.caller, provider_id, notice, state_)
    state_.labels = service.response_labels(notice, offer["capacity_areas"])
    profile = await engagement.profile_status(conn, provider_id)
    return page(
        "respond.html.j2",
        status=status,
        session=session,
        notice=notice,
        own=own,
        pending=profile == "pending",
        archived=profile == "archived",
        posted=True,  # what was typed stays in the form, whatever the profile's status now
        **offer,
        form=state_,
        changed=changed,
        changes=changes,
        barriers=BARRIER_NAMES,
        asks=asks,
    )


@post("/exercises/{exercise_id:int}/withdraw", status_code=303)
async def withdraw(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    session, form = await posted(request, conn)
    provider_id = _provider(session.caller)
    revision = _opened_at(form, "revision")
    await engagement.withdraw_response(ctx, conn, actor_of(request.scope), exercise_id, provider_id, etag(revision))
    return see_other(f"/console/exercises/{exercise_id}/responses/{provider_id}?withdrawn=1")


@get("/exercises/{exercise_id:int}/responses/{provider_id:int}")
async def response_page(
    request: Request[Any, Any, Any],
    exercise_id: Id,
    provider_id: Id,
    ctx: Ctx,
    conn: Conn,
    saved: Flag = False,
    withdrawn: Flag = False,
) -> Response[str]:
    """One provider's response: that provider, or staff, and an auditor reading (as GET
    /exercises/{id}/responses/{provider_id})."""
    session = await signed_in(request, conn)
    admit(session.caller, STAFF, own_provider=True, provider_id=provider_id, reading=True)
    found = await engagement.get_response(conn, exercise_id, provider_id)
    exercise = await exercises.get_exercise(conn, exercise_id)
    questions = await engagement.list_questions(conn, session.caller, exercise_id)
    revisions = await engagement.list_revisions(conn, exercise_id, provider_id)
    notice, archived = None, False
    if session.caller.role == "provider":
        notice = await engagement.notice(ctx, conn, exercise_id)
        archived = await engagement.profile_status(conn, provider_id) == "archived"  # may withdraw, not revise
    named = {x.provider_id for n in found.needs for x in n.partners if x.provider_id is not None}
    try:  # services the response names that the profile no longer holds, marked as removed
        held = {s.id for s in await providers.list_services(ctx, conn, session.caller, provider_id)}
    except NotFound:
        held = None
    removed = set() if held is None else {sid for n in found.needs for sid in n.service_ids} - held
    return page(
        "response.html.j2",
        removed_services=removed,
        partner_names={pid: await _name_of(ctx, conn, session.caller, pid) for pid in sorted(named)},
        session=session,
        response=found,
        exercise=exercise,
        questions={q.id: q for q in questions},
        revisions=revisions,
        service_names={s["id"]: s["name"] for r in revisions[:1] for s in r.snapshot.get("services", [])},
        notice=notice,
        archived=archived,
        saved=saved,
        withdrawn=withdrawn,
        barriers=BARRIER_NAMES,
        taxonomy=ctx.taxonomy,
    )


@get("/exercises/{exercise_id:int}/publish")
async def publish_step(
    request: Request[Any, Any, Any],
    exercise_id: Id,
    ctx: Ctx,
    conn: Conn,
    budget_visibility: Annotated[
        BudgetVisibility, Parameter(description="what the notice is to show of each need's budget")
    ] = "hidden",
) -> Response[Any]:
    """Publishing cannot be undone: a step of its own, before it is done, showing what the notice will make public
    (each need with its budget as chosen, the questions, the dates) and what is fixed from then on; or why it
    cannot be published yet, without the button. Once published, the exercise's page."""
    session = await _staff(request, conn)
    exercise = await exercises.get_exercise(conn, exercise_id)
    if not await _is_draft(conn, exercise_id):
        return see_other(f"/console/exercises/{exercise_id}#engagement")
    return page(
        "publish.html.j2",
        session=session,
        exercise=exercise,
        visibility=budget_visibility,
        visibility_words=dict(PUBLISH_BUDGET_CHOICES),
        budgets={n.id: engagement.budget_shown(n, budget_visibility) for n in exercise.needs},
        questions=await engagement.list_questions(conn, session.caller, exercise_id),
        problems=engagement.publish_problems(exercise, ctx.clock.now()),
        taxonomy=ctx.taxonomy,
        question_kinds=forms.QUESTION_KINDS,
    )


PUBLISH_BUDGET_CHOICES = (
    ("hidden", "Nothing"),
    ("range", "The band it is in (for example £150,000 to £250,000)"),
    ("shown", "The figure"),
)
"""What the notice may show of each need's budget (PublishIn.budget_visibility), as the exercise's page offers it."""


@post("/exercises/{exercise_id:int}/publish", status_code=303)
async def publish_exercise(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> Response[Any]:
    """Publish the exercise for market engagement (staff; as the API's POST /exercises/{id}/publish, the exercise's
    version its publishing step showed as If-Match): its notice becomes public. Refused, the exercise's page, saying
    why."""
    session, form = await posted(request, conn)
    admit(session.caller, STAFF)
    values = {
        "budget_visibility": form.get("budget_visibility", ""),
        "exercise_version": form.get("exercise_version", ""),
    }
    labels = {"budget_visibility": "What the notice shows of each need's budget"}
    try:
        version = int(values["exercise_version"]) if values["exercise_version"].isdigit() else 0
        data = service.decode_form({"budget_visibility": values["budget_visibility"] or "hidden"}, PublishIn)
        await engagement.publish(ctx, conn, actor_of(request.scope), exercise_id, etag(version), data)
    except PreconditionFailed as exc:
        values["exercise_version"] = str(exc.current_version)
        problem = FieldProblem(
            field="exercise_version",
            problem=f"the exercise was changed since you opened this page (it is now at version {exc.current_version}):"
            " check it below, then publish again",
        )
        state_ = FormState(values=values, unplaced=[problem], labels=labels)
    except (InvalidInput, Unprocessable) as exc:
        state_ = service.place(_problems(exc), {"budget_visibility": "budget_visibility"}, values, labels)
    else:
        return see_other(f"/console/exercises/{exercise_id}?published=1#engagement")
    return await _exercise_page(session, ctx, conn, exercise_id, form=state_, status=400)


PUBLISHED_QUESTION_NEEDED = (
    "enter the question as every provider will read it beside your answer: reworded to name no one, or the question "
    "as asked if nothing in it identifies who asked"
)


@post("/exercises/{exercise_id:int}/clarifications/{clarification_id:int}/answer", status_code=200)
async def answer_clarification(
    request: Request[Any, Any, Any], exercise_id: Id, clarification_id: Id, ctx: Ctx, conn: Conn
) -> Response[Any]:
    """Answer a clarification and publish it, anonymised (commissioners; as the API's POST .../answer)."""
    session, form = await posted(request, conn)
    admit(session.caller, STAFF)
    c = f"c{clarification_id}"
    values = {
        f"{c}.answer": form.get(f"{c}.answer", ""),
        f"{c}.published_question": form.get(f"{c}.published_question", ""),
    }
    body: dict[str, Any] = {"answer": values[f"{c}.answer"].strip()}
    if published := values[f"{c}.published_question"].strip():
        body["published_question"] = published
    try:
        data = service.decode_form(body, AnswerIn)
        await engagement.answer(ctx, conn, actor_of(request.scope), exercise_id, clarification_id, data)
    except InvalidInput as exc:
        where = {"answer": f"{c}.answer", "published_question": f"{c}.published_question"}
        state_ = service.place(exc.problems, where, values)
        state_.problems = [  # the box the answer needs beside it, said as what to put in it
            msgspec.structs.replace(p, problem=PUBLISHED_QUESTION_NEEDED)
            if (p.field, p.problem) == (f"{c}.published_question", service.NEEDED_TOO)
            else p
            for p in state_.problems
        ]
        state_.labels = {  # in the form's order: the question as published, then the answer
            f"{c}.published_question": f"Clarification {clarification_id}: the question as everyone will read it",
            f"{c}.answer": f"Answer to clarification {clarification_id}",
        }
    else:
        return see_other(f"/console/exercises/{exercise_id}?answered={clarification_id}#clarifications")
    return await _exercise_page(session, ctx, conn, exercise_id, form=state_, status=400)


# --- options appraisals: read by staff, and changed by those the API lets change them --------------------------


async def _name_of(ctx: Any, conn: Any, caller: Caller, provider_id: int) -> str:
    try:
        return (await service.provider(ctx, conn, caller, provider_id)).name
    except NotFound:
        return f"provider {provider_id}"


async def _chosen_labels(conn: Any, summaries: list[AppraisalSummary]) -> dict[int, str]:
    """Each decided appraisal's chosen option by its label (a summary names only its key)."""
    labels = {}
    for x in summaries:
        if x.chosen_option is not None:
            a = await appraisals.get_appraisal(conn, x.id)
            options = {o.key: o.label or MODEL_LABELS.get(o.model, o.key) for o in a.options}
            labels[x.id] = options.get(x.chosen_option, x.chosen_option)
    return labels


APPRAISERS = STAFF
"""Who may change an appraisal in the console: the roles the API's guard on every appraisal change admits
(`appraisals.routes`: `staff`). Others read (as now) or are refused, as the API refuses them."""


def _may_appraise(caller: Caller) -> None:
    admit(caller, APPRAISERS)


def _appraiser(caller: Caller) -> bool:
    return caller.role in APPRAISERS


async def _appraising(request: Request[Any, Any, Any], conn: Any) -> tuple[Session, dict[str, str]]:
    """A POST changing an appraisal: its session and form, once the caller may change appraisals."""
    session, form = await posted(request, conn)
    _may_appraise(session.caller)
    return session, form


def _appraisal_form(values: dict[str, str] | None = None) -> FormState:
    return FormState(values=values or appraisal_forms.settings_values(), labels=dict(appraisal_forms.SETTINGS_LABELS))


@get("/appraisals")
async def appraisal_list(request: Request[Any, Any, Any], conn: Conn, page_number: PageNo = 1) -> Response[str]:
    session = await _reader(request, conn)
    return await _appraisal_list(session, conn, page_number, _appraisal_form())


async def _appraisal_list(
    session: Session, conn: Any, page_number: int, form: FormState, status: int = 200
) -> Response[str]:
    found = await appraisals.list_appraisals(conn, page=page_number, per_page=20)
    titles = {}
    for x in {a.exercise_id for a in found.items if a.exercise_id is not None}:
        titles[x] = (await exercises.get_exercise(conn, x)).title
    return page(
        "appraisals.html.j2",
        status=status,
        session=session,
        appraisals=found,
        chosen=await _chosen_labels(conn, found.items),
        titles=titles,
        form=form,
        may_change=_appraiser(session.caller),
    )


async def _start(
    request: Request[Any, Any, Any], ctx: Any, conn: Any, exercise_id: int | None
) -> tuple[Session, Response[Any] | FormState]:
    """Start an appraisal from the settings form (as POST /appraisals, or POST /exercises/{id}/appraisals): the
    new appraisal's page, or the form with its problems beside its boxes."""
    session, form = await _appraising(request, conn)
    values = {k: form.get(k, "") for k in appraisal_forms.SETTINGS_LABELS}
    body, where = appraisal_forms.settings_body(form)
    if exercise_id is not None:
        await exercises.get_exercise(conn, exercise_id)  # 404 before the form is read
        body["exercise_id"] = exercise_id
    try:
        data = await service.check_all(
            body, AppraisalIn, ctx.taxonomy, lambda data: service.appraisal_problems(conn, data)
        )
        made = await appraisals.create_appraisal(ctx, conn, actor_of(request.scope), data, exercise_id=exercise_id)
    except (InvalidInput, Unprocessable) as exc:
        return session, service.place(_problems(exc), where, values, appraisal_forms.SETTINGS_LABELS)
    return session, see_other(f"/console/appraisals/{made.id}?started=1")


@post("/appraisals", status_code=200)
async def start_appraisal(request: Request[Any, Any, Any], ctx: Ctx, conn: Conn) -> Response[Any]:
    """Start an options appraisal standing alone (as POST /appraisals)."""
    session, done = await _start(request, ctx, conn, None)
    if isinstance(done, Response):
        return done
    return await _appraisal_list(session, conn, 1, done, status=400)


@post("/exercises/{exercise_id:int}/appraisals", status_code=200)
async def start_exercise_appraisal(
    request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn
) -> Response[Any]:
    """Start an options appraisal of this exercise (as POST /exercises/{id}/appraisals)."""
    session, done = await _start(request, ctx, conn, exercise_id)
    if isinstance(done, Response):
        return done
    return await _exercise_page(session, ctx, conn, exercise_id, form=done, status=400)


Saved = Annotated[Literal["settings", "options", "criteria", "scores", "moderation", "costs"] | None, Parameter()]


@get("/appraisals/{appraisal_id:int}")
async def appraisal_page(
    request: Request[Any, Any, Any],
    appraisal_id: Id,
    conn: Conn,
    started: Flag = False,
    saved: Saved = None,
    decided: Flag = False,
) -> Response[str]:
    session = await _reader(request, conn)
    found = await appraisals.get_appraisal(conn, appraisal_id)
    values = {"version": str(found.version), "option": found.results.preferred or "" if found.results else ""}
    form = FormState(values=values, labels=dict(appraisal_forms.DECISION_LABELS))
    return await _appraisal_page(session, conn, found, form, started=started, saved=saved, decided=decided)


async def _appraisal_page(
    session: Session,
    conn: Any,
    found: Appraisal,
    form: FormState,
    *,
    status: int = 200,
    conflict: tuple[int, int] | None = None,
    started: bool = False,
    saved: str | None = None,
    decided: bool = False,
) -> Response[str]:
    exercise = await exercises.get_exercise(conn, found.exercise_id) if found.exercise_id is not None else None
    ranked = sorted(found.results.options, key=lambda o: (o.rank is None, o.rank or 0)) if found.results else []
    return page(
        "appraisal.html.j2",
        status=status,
        session=session,
        a=found,
        exercise=exercise,
        ranked=ranked,
        models=MODEL_LABELS,
        goes_to_market=GOES_TO_MARKET,
        may_change=_appraiser(session.caller) and found.decision is None,
        assessors=appraisal_forms.assessors(found),
        form=form,
        conflict=conflict,
        started=started,
        saved=PARTS[saved].saved if saved else None,
        decided=decided,
        costs=appraisal_forms.COST_CATEGORIES,
    )


def _unfrozen(a: Appraisal) -> None:
    """An appraisal's edit page is for one not decided yet: the service refuses any change once it is (409)."""
    if a.decision is not None:
        raise Conflict(f"appraisal {a.id} {appraisals.FROZEN}")


class _Part(NamedTuple):
    """One of an appraisal's forms: its page, what saving it says, and how its boxes are filled (`values`), named
    (`labels`) and read back as the API's body (`body`: the body, and where each of its paths shows on the form)."""

    heading: str
    template: str
    saved: str
    values: Callable[[Appraisal, str | None], dict[str, str]]
    labels: Callable[[Appraisal, Mapping[str, str]], dict[str, str]]
    body: Callable[[Mapping[str, str], Appraisal], tuple[Any, dict[str, str]]]
    doc: type[msgspec.Struct] | None
    """The PUT's body replacing the part (`{part: [...]}`); None for the settings, a PATCH."""


_F = appraisal_forms
PARTS: dict[str, _Part] = {
    "settings": _Part(
        "Settings",
        "appraisal_settings.html.j2",
        "The settings have been saved",
        lambda a, _: _F.settings_values(a),
        lambda a, _: dict(_F.SETTINGS_LABELS),
        lambda form, _: _F.settings_body(form),
        None,
    ),
    "options": _Part(
        "Options",
        "appraisal_options.html.j2",
        "The options have been saved",
        lambda a, _: _F.options_values(a),
        lambda a, values: _F.row_labels(values, "option"),
        lambda form, _: _F.options_body(form),
        OptionsDoc,
    ),
    "criteria": _Part(
        "Criteria and weights",
        "appraisal_criteria.html.j2",
        "The criteria and weights have been saved",
        lambda a, _: _F.criteria_values(a),
        lambda a, values: _F.row_labels(values, "criterion"),
        lambda form, _: _F.criteria_body(form),
        CriteriaDoc,
    ),
    "scores": _Part(
        "Assessors’ scores",
        "appraisal_scores.html.j2",
        "The assessor’s scores have been saved",
        _F.scores_values,
        lambda a, _: _F.grid_labels(a, "score", "rationale", "why"),
        _F.scores_body,
        ScoresDoc,
    ),
    "moderation": _Part(
        "Moderated scores",
        "appraisal_moderation.html.j2",
        "The moderated scores have been saved",
        lambda a, _: _F.moderation_values(a),
        lambda a, _: _F.grid_labels(a, "moderated", "note", "moderation note"),
        _F.moderation_body,
        ModerationDoc,
    ),
    "costs": _Part(
        "Cost lines",
        "appraisal_costs.html.j2",
        "The cost lines have been saved",
        lambda a, _: _F.costs_values(a),
        lambda a, values: _F.row_labels(values, "cost"),
        lambda form, _: _F.costs_body(form),
        CostsDoc,
    ),
}


def _part_page(
    session: Session,
    a: Appraisal,
    exercise: Any,
    part: str,
    form: FormState,
    *,
    conflict: tuple[int, int] | None = None,
    saved: bool = False,
) -> Response[str]:
    heading, template = PARTS[part].heading, PARTS[part].template
    status = 409 if conflict else (400 if form.problems or form.unplaced else 200)
    spreads = {(s.option, s.criterion): s for s in a.results.spreads} if a.results else {}
    return page(
        template,
        status=status,
        session=session,
        a=a,
        exercise=exercise,
        part=part,
        heading=heading,
        form=form,
        conflict=conflict,
        now=service.part_now(a, part) if conflict else [],
        saved=saved,
        models=MODEL_LABELS,
        lots_by=appraisal_forms.LOTS_BY,
        to_market=appraisal_forms.TO_MARKET,
        scales=appraisal_forms.SCALES,
        categories=appraisal_forms.COST_CATEGORIES,
        option_label=appraisal_forms.option_label,
        assessors=appraisal_forms.assessors(a),
        spreads=spreads,
        items=lambda prefix, fields: forms.items(form.values, prefix, fields),
        fields=appraisal_forms.TYPED,
    )


async def _exercise_of(conn: Any, a: Appraisal) -> Any:
    return await exercises.get_exercise(conn, a.exercise_id) if a.exercise_id is not None else None


async def _edit_part(
    request: Request[Any, Any, Any], conn: Any, appraisal_id: int, part: str, saved: bool, assessor: str | None = None
) -> Response[str]:
    session = await _staff(request, conn)
    _may_appraise(session.caller)
    a = await appraisals.get_appraisal(conn, appraisal_id)
    _unfrozen(a)
    if part == "scores" and assessor is not None and assessor not in appraisal_forms.assessors(a):
        raise NotFound(f"appraisal {appraisal_id} has no scores by {assessor!r}: choose an assessor from its list")
    values = PARTS[part].values(a, assessor)
    form = FormState(values=values, labels=PARTS[part].labels(a, values))
    return _part_page(session, a, await _exercise_of(conn, a), part, form, saved=saved)


def _where_costs_beside_years(problems: list[FieldProblem]) -> list[FieldProblem]:
    """On the settings form, fewer years than the cost lines run to (the service's `costs[i].year` problem) said
    once, beside the years box."""
    out, told = [], False
    for p in problems:
        if p.field.startswith("costs["):
            if not told:
                said = f"cost lines are entered for later years ({p.problem}): remove them first, or keep more years"
                out.append(FieldProblem(field="years", problem=said))
                told = True
        else:
            out.append(p)
    return out


async def _save_part(
    request: Request[Any, Any, Any], ctx: Any, conn: Any, appraisal_id: int, part: str
) -> Response[Any]:
    """Save one of an appraisal's forms as the API's PATCH (settings) or PUT (a part, replaced whole) does, under
    the version the form was opened at: the service's problems beside their boxes, nothing stored; a form opened
    before someone else's change refused (409), with what is held now, keeping what was typed."""
    session, form = await _appraising(request, conn)
    values = _posted_values(form)
    version = _opened_at(form, "version")
    a = await appraisals.get_appraisal(conn, appraisal_id)
    _unfrozen(a)
    doc, labels = PARTS[part].doc, PARTS[part].labels(a, values)
    body, where = PARTS[part].body(form, a)
    conflict = None
    actor = actor_of(request.scope)
    assessor = _text_of(form, "assessor")
    scored = part != "scores" or any(s["assessor"] == assessor for s in body)
    try:
        if a.version != version:  # opened before a change: refused as the service would refuse it (412)
            raise PreconditionFailed("changed since the form was opened", current_version=a.version)
        if not scored and not form.get("assessor_was"):  # a new assessor with nothing to save
            raise Unprocessable.field("assessor", "enter at least one score in the grid for this assessor")
        if doc is None:  # the settings
            patch = await service.check_all(
                body,
                AppraisalPatch,
                ctx.taxonomy,
                lambda d: service.appraisal_change_problems(
                    conn, appraisal_id, {f: v for f in d.__struct_fields__ if (v := getattr(d, f)) is not msgspec.UNSET}
                ),
            )
            await appraisals.update_appraisal(ctx, conn, actor, appraisal_id, etag(version), patch)
        else:
            replaced = await service.check_all(
                {part: body},
                doc,
                ctx.taxonomy,
                lambda d: service.appraisal_change_problems(conn, appraisal_id, {part: getattr(d, part)}),
            )
            await appraisals.replace_part(ctx, conn, actor, appraisal_id, etag(version), part, getattr(replaced, part))
    except PreconditionFailed as exc:
        values["version"] = str(exc.current_version)
        conflict = (version, exc.current_version)
        state_ = FormState(values=values, labels=labels)
    except (InvalidInput, Unprocessable) as exc:
        problems, beside = _problems(exc), list[FieldProblem]()
        if part in ("options", "criteria"):
            problems, beside = appraisal_forms.still_referred(problems, a, part, values)
        elif part == "settings":
            problems = _where_costs_beside_years(problems)
        elif part in ("scores", "moderation"):
            problems = appraisal_forms.on_its_scale(problems, body, a, part)
        state_ = service.place(problems, where, values, labels)
        state_.problems += beside
    else:
        if part == "scores" and scored:
            return see_other(f"/console/appraisals/{appraisal_id}/scores?assessor={quote(assessor)}&saved=1")
        if part == "scores":  # every score of the assessor's cleared: they have none to show
            return see_other(f"/console/appraisals/{appraisal_id}?saved=scores")
        then = form.get("then", "")
        anchor = {"options": "option", "criteria": "criterion", "costs": "cost"}.get(part)
        if then == "more" and anchor:
            return see_other(f"/console/appraisals/{appraisal_id}/{part}?saved=1#{anchor}-new")
        return see_other(f"/console/appraisals/{appraisal_id}?saved={part}")
    a = await appraisals.get_appraisal(conn, appraisal_id)
    return _part_page(session, a, await _exercise_of(conn, a), part, state_, conflict=conflict)


def _text_of(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").strip()


AssessorName = Annotated[str | None, Parameter(max_length=200, description="whose scores the grid shows")]


@get("/appraisals/{appraisal_id:int}/{part:str}")
async def edit_appraisal_part(
    request: Request[Any, Any, Any],
    appraisal_id: Id,
    part: FromPath[str],
    conn: Conn,
    saved: Flag = False,
    assessor: AssessorName = None,
) -> Response[str]:
    """An appraisal's settings, options, criteria, an assessor's scores (`assessor`; none: a new assessor's grid),
    the moderated scores or the cost lines, as a form."""
    if part not in PARTS:
        raise NotFound(f"no page {part!r} of an appraisal")
    return await _edit_part(request, conn, appraisal_id, part, saved, assessor if part == "scores" else None)


@post("/appraisals/{appraisal_id:int}/{part:str}", status_code=200)
async def save_appraisal_part(
    request: Request[Any, Any, Any], appraisal_id: Id, part: FromPath[str], ctx: Ctx, conn: Conn
) -> Response[Any]:
    if part == "decision":
        return await _decide(request, appraisal_id, ctx, request.app.state)
    if part not in PARTS:
        raise NotFound(f"no form {part!r} of an appraisal")
    return await _save_part(request, ctx, conn, appraisal_id, part)


async def _decide(request: Request[Any, Any, Any], appraisal_id: int, ctx: Any, state: State) -> Response[Any]:
    """Record the decision (as POST /appraisals/{id}/decision: which freezes the appraisal, and a market report,
    so it is counted as the API counts it, once the form decodes). The service's refusals (reasons required, the
    option not scored...) beside their boxes, keeping what was typed; a form opened before a change refused."""
    async with state.pool.acquire() as conn:
        session, form = await _appraising(request, conn)
    values = {k: form.get(k, "") for k in ("option", "decided_by", "reasons", "version")}
    version = _opened_at(form, "version")
    body, where = appraisal_forms.decision_body(form)
    conflict = None
    status = 400
    try:
        data = service.decode_form(body, DecisionIn)
        spend_budget(state, session.caller)
        await appraisals.decide(ctx, state.pool, actor_of(request.scope), appraisal_id, etag(version), data)
    except PreconditionFailed as exc:
        values["version"] = str(exc.current_version)
        conflict, status = (version, exc.current_version), 409
        state_ = FormState(values=values, labels=dict(appraisal_forms.DECISION_LABELS))
    except (InvalidInput, Unprocessable) as exc:
        status = 422 if isinstance(exc, Unprocessable) else 400
        state_ = service.place(_problems(exc), where, values, appraisal_forms.DECISION_LABELS)
    else:
        return see_other(f"/console/appraisals/{appraisal_id}?decided=1")
    async with state.pool.acquire() as conn:
        found = await appraisals.get_appraisal(conn, appraisal_id)
        return await _appraisal_page(session, conn, found, state_, status=status, conflict=conflict)


@get("/appraisals/{appraisal_id:int}/report")
async def appraisal_report(
    request: Request[Any, Any, Any], appraisal_id: Id, state: State, ctx: Ctx, format: FromQuery[ReportFormat] = "html"
) -> Response[Any]:
    """The appraisal report as the API's GET /appraisals/{id}/report renders it (printable page or CSV), the page
    with the console's way back above its cover (never printed), rendered in turn with the worker's other reports
    (`reports.in_turn`), holding no connection while it waits."""
    await _costly(request, state)
    fmt = format
    made = await appraisals.report_data(ctx, state.pool, appraisal_id)
    render_: Callable[[AppraisalReport], bytes | str] = (
        appraisal_csv if fmt == "csv" else partial(appraisal_html, template="console/appraisal_report.html.j2")
    )
    body = await reports.in_turn(state.report_builds, render_, made)
    return report_response(body, fmt, f"appraisal-{appraisal_id}")


# --- the audit log and the change history: admins and auditors read them -------------------------------------

Filter = Annotated[
    str | None, Parameter(max_length=200, description="read by the page, which says what is wrong beside its box")
]
LOG_LABELS = {
    "key_id": "Who",
    "provider_id": "Provider number",
    "outcome": "Outcome",
    "table": "Kind of record",
    "record_id": "Record",
    "since": "Since",
    "until": "Until",
}


def _log_page(template: str, session: Session, view: Any, given: dict[str, str], path: str) -> Response[str]:
    """The audit log's or the change history's page: its filters as given (each problem beside its box, 400, with
    no entries), the entries, and links to the other pages keeping the filters."""
    base = [(k, v) for k, v in given.items() if v]
    return page(
        template,
        status=400 if view.problems else 200,
        session=session,
        view=view,
        found=view.found,
        filtered=bool(base),
        form=FormState(values=given, problems=view.problems, labels=LOG_LABELS),
        page_link=lambda n: f"{path}?" + urlencode([*base, ("page", str(n))]),
        tables=service.RECORD_TABLES,
        nouns=service.RECORD_NOUNS,
        outcomes=service.OUTCOMES,
    )


@get("/audit")
async def audit_page(
    request: Request[Any, Any, Any],
    conn: Conn,
    key_id: Filter = None,
    provider_id: Filter = None,
    outcome: Filter = None,
    since: Filter = None,
    until: Filter = None,
    page_number: PageNo = 1,
) -> Response[str]:
    """The audit log (admins and auditors, as GET /audit): who did what and when, newest first, filtered as the API
    filters it; each write naming a record links to that record's change history."""
    session = await signed_in(request, conn)
    given = {"key_id": key_id, "provider_id": provider_id, "outcome": outcome, "since": since, "until": until}
    typed = {k: v.strip() for k, v in given.items() if v is not None}
    view = await service.audit_log(conn, session.caller, typed, page_number)
    return _log_page("audit.html.j2", session, view, typed, "/console/audit")


@get("/changes")
async def changes_page(
    request: Request[Any, Any, Any],
    conn: Conn,
    table: Filter = None,
    record_id: Filter = None,
    key_id: Filter = None,
    since: Filter = None,
    until: Filter = None,
    page_number: PageNo = 1,
) -> Response[str]:
    """The change history (admins and auditors, as GET /changes): each insert, update and delete of a record, with
    each changed field's value before and after, newest first, filtered as the API filters it."""
    session = await signed_in(request, conn)
    given = {"table": table, "record_id": record_id, "key_id": key_id, "since": since, "until": until}
    typed = {k: v.strip() for k, v in given.items() if v is not None}
    view = await service.change_history(conn, session.caller, typed, page_number)
    return _log_page("changes.html.j2", session, view, typed, "/console/changes")


# --- errors -------------------------------------------------------------------------------------------------


def _address_part(key: str) -> str:
    """A parameter of a page's address as a person names it (`provider_id` -> "provider number")."""
    return key.removesuffix("_id").replace("_", " ") + " number" if key.endswith("_id") else key.replace("_", " ")


TOO_LARGE = (
    "the form is more than the console can read: shorten the longest text you typed (no box takes more than a few "
    "thousand characters), or open the page again"
)


def _as_the_app_says(request: Request[Any, Any, Any], exc: Exception) -> tuple[DomainError, int, dict[str, str]]:
    """An error that is no domain error (a body too large to read, a value the database refused, the database out
    of reach) as the app's own handler (marketplace.http) answers it, for a page to say: its words, status and the
    headers to keep (Retry-After; Allow, which a 405 must carry)."""
    handler = next(EXCEPTION_HANDLERS[c] for c in type(exc).__mro__ if c in EXCEPTION_HANDLERS)
    answered = handler(request, exc)
    body = answered.content if isinstance(answered.content, ErrorBody) else None
    problems = body.errors if body is not None and len(body.errors) > 1 else []  # one: the message says it
    said = DomainError(body.message if body else "an unexpected error occurred", problems=problems)
    status = answered.status_code or 500
    if status == 413:
        said = DomainError(TOO_LARGE)
    kept = {k.title(): str(v) for k, v in answered.headers.items() if k.lower() in ("retry-after", "allow")}
    allowed = {m.strip() for m in kept.get("Allow", "").split(",") if m.strip()}
    if "GET" in allowed:  # every console page takes HEAD as it takes GET (http.head_as_get)
        kept["Allow"] = ", ".join(sorted(allowed | {"HEAD"}))
    return said, status, kept


FIELD_WORDS = {
    "provider_id": "Provider",
    "provider": "Provider",
    "query": "The address",
    "body": "The form",
    "threshold": "Suitable score",
}
"""A problem's field as an error page names it, where its name in words would not say it."""


def _told(error: DomainError) -> tuple[str, list[str]]:
    """What an error page says, once: its message as a sentence, and its problems (each `Field: problem`) as a list;
    a message that only names its problems is said by them (one problem: the sentence)."""
    problems = [
        f"{FIELD_WORDS.get(p.field) or _capital(_address_part(p.field))}: {p.problem}"
        + (f" (did you mean {p.suggestion}?)" if p.suggestion and "did you mean" not in p.problem else "")
        for p in error.problems
    ]
    if error.problems and error.message == "; ".join(f"{p.field}: {p.problem}" for p in error.problems):
        return (_sentence(problems[0]), []) if len(problems) == 1 else ("", problems)
    return _sentence(error.message), problems


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    return _capital(text) + ("" if text[-1:] in (".", "?", "!") else ".")


def _error(
    status: int, error: DomainError, session: Session | None, back: tuple[str, str] | None = None
) -> Response[str]:
    said, problems = _told(error)
    return page(
        "error.html.j2", status=status, session=session, said=said, problems=problems, status_code=status, back=back
    )


class ErrorPage(Response[str]):
    """A console error page, made as it is sent: with the signed-in header, as every page has it. The session is the
    one the failing page found, or else looked up then (an exception handler cannot wait for the database); none
    for an error of the server's own (5xx), when the database may be what failed."""

    def __init__(self, request: Request[Any, Any, Any], status: int, error: DomainError, headers: dict[str, str]):
        super().__init__("", status_code=status, media_type=MediaType.HTML, headers=headers)
        self.status, self.error, self.extra = status, error, headers
        self.back = _back_from(request) if request.method == "POST" else None
        self.session: Session | None = request.scope.get("state", {}).get(SESSION_KEY)
        self.session_id = request.cookies.get(SESSION_COOKIE) if self.session is None and status < 500 else None

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> Any:
        async def send_page(scope: Any, receive: Any, send: Any) -> None:
            session = self.session
            if session is None and self.session_id:
                try:
                    async with asyncio.timeout(2):
                        session = await service.session_of(request.app.state.pool, self.session_id)
                except Exception:  # without its header, the page still says what went wrong
                    session = None
            made = _error(self.status, self.error, session, back=self.back)
            made.headers.update(self.extra)
            await made.to_asgi_response(app, request, **kwargs)(scope, receive, send)

        return send_page


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every error under /console as a console page (never the API's JSON): a domain error with its own message, a
    query or path parameter it cannot take in plain words, anything else as the app's handler says it."""
    if isinstance(exc, SignInNeeded):
        where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other("/console/sign-in?next=" + quote(where if request.method == "GET" else "/console/home"))
    if isinstance(exc, ValidationException):  # a number in the address out of range, say: in plain words
        problems = [
            FieldProblem(
                field=_address_part(str(p.get("key") or "query")),
                problem=messages.plain_words(str(p.get("message", "invalid value")), form=True)[0],
            )
            for p in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(p, dict)
        ]
        exc = InvalidInput("this page's address has a value the console cannot take", problems=problems)
    if not isinstance(exc, DomainError):
        said, status, headers = _as_the_app_says(request, exc)
        return ErrorPage(request, status, said, headers)
    if isinstance(exc, UriTooLong):  # its message says what its one problem says again
        exc = UriTooLong(exc.message)
    if isinstance(exc, Forbidden) and exc.allowed_roles:  # whom the page is for, in words
        whom = and_list([PEOPLE.get(r, r) for r in exc.allowed_roles])
        exc = Forbidden(
            f"This page is for {whom}; you are signed in as {ONE_OF.get(exc.caller.role, exc.caller.role)}",
            caller=exc.caller,
            provider_id=exc.provider_id,
            allowed_roles=exc.allowed_roles,
        )
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else {}
    return ErrorPage(request, status_of(exc), exc, headers)


BACK_TO = {
    "/exercises/{exercise_id:int}/appraisals": "/console/exercises/{exercise_id}",
    "/exercises/{exercise_id:int}/clarifications": "/console/exercises/{exercise_id}/notice#clarifications",
    "/exercises/{exercise_id:int}/close": "/console/exercises/{exercise_id}#engagement",
    "/exercises/{exercise_id:int}/deadline": "/console/exercises/{exercise_id}#engagement",
    "/exercises/{exercise_id:int}/edit": "/console/exercises/{exercise_id}#change",
    "/exercises/{exercise_id:int}/weights": "/console/exercises/{exercise_id}#weights",
    "/exercises/{exercise_id:int}/clarifications/{clarification_id:int}/answer": (
        "/console/exercises/{exercise_id}#clarifications"
    ),
    "/exercises/{exercise_id:int}/match": "/console/exercises/{exercise_id}",
    "/exercises/{exercise_id:int}/needs": "/console/exercises/{exercise_id}#needs",
    "/exercises/{exercise_id:int}/questions": "/console/exercises/{exercise_id}#questions",
    "/exercises/{exercise_id:int}/questions/{question_id:int}/move": "/console/exercises/{exercise_id}#questions",
    "/exercises/{exercise_id:int}/reports": "/console/exercises/{exercise_id}",
    "/exercises/{exercise_id:int}/withdraw": "/console/exercises/{exercise_id}/notice",
    "/needs/{need_id:int}/edit": "/console/needs/{need_id}#change",
    "/needs/{need_id:int}/weights": "/console/needs/{need_id}#weights",
    "/needs/{need_id:int}/match-runs": "/console/needs/{need_id}",
    "/needs/{need_id:int}/shortlist": "/console/needs/{need_id}",
    "/needs/{need_id:int}/shortlist/{provider_id:int}/remove": "/console/needs/{need_id}",
    "/providers/{provider_id:int}/confirm": "/console/providers/{provider_id}",
    "/providers/{provider_id:int}/publish": "/console/providers/{provider_id}",
    "/sign-out": "/console/",
}
"""Where the form posting to each POST-only address lives. A page showing a form's problems is the answer to that
POST, at its address: reloading it, or coming back to it, asks for the address again (GET), which goes back to
the form's page (303) rather than to a page saying the address takes POST only."""


def _back_from(request: Request[Any, Any, Any]) -> tuple[str, str] | None:
    """Where an error page answering a form's POST links back to: the form's page (BACK_TO), so that a refusal is
    never a dead end; None for an address BACK_TO does not name."""
    handler = request.scope.get("route_handler")
    for path in getattr(handler, "paths", ()):
        if (target := BACK_TO.get(path)) is not None:
            try:
                return target.format(**request.path_params), "Back to the page you were on"
            except (KeyError, IndexError):
                return None
    return None


def _back_to_the_form(path: str, target: str) -> HTTPRouteHandler:
    async def back(request: Request[Any, Any, Any]) -> Response[Any]:
        return see_other(target.format(**request.path_params))

    back.__name__ = back.__qualname__ = "back_from_" + "_".join(re.findall(r"[a-z]+", path.replace(":int", "")))
    return get(path, include_in_schema=False)(back)


ROUTES = [
    console_root,
    sign_in_form,
    sign_in,
    sign_out,
    asset,
    home,
    search,
    provider_page,
    edit_profile,
    save_profile,
    edit_service,
    save_service,
    confirm,
    publish,
    archive_page,
    archive,
    exercise_list,
    start_exercise,
    add_need,
    add_question,
    change_exercise,
    close_exercise,
    change_exercise_weights,
    change_need_weights,
    move_deadline,
    change_need,
    remove_need_page,
    remove_need,
    question_page,
    change_question,
    move_question,
    remove_question_page,
    remove_question,
    exercise_page,
    match_every_need,
    need_page,
    run_match,
    publish_exercise,
    publish_step,
    match_run_page,
    compare_page,
    shortlist_add,
    shortlist_remove,
    report,
    freeze,
    frozen_report,
    open_exercise_list,
    notice_page,
    ask_clarification,
    response_form,
    save_response,
    withdraw,
    response_page,
    answer_clarification,
    appraisal_list,
    start_appraisal,
    start_exercise_appraisal,
    appraisal_page,
    appraisal_report,
    edit_appraisal_part,
    save_appraisal_part,
    audit_page,
    changes_page,
    *(_back_to_the_form(path, target) for path, target in BACK_TO.items()),
]

CONSOLE = Router(
    path="/console",
    route_handlers=ROUTES,
    include_in_schema=False,
    exception_handlers={**dict.fromkeys(EXCEPTION_HANDLERS, error_page), SignInNeeded: error_page},
)
"""Every exception the app handles is handled here too, as a page (`error_page`): a router's handler for a class
takes its place only for that class, so each is named."""
