"""Market engagement: the public notice, questions, responses, clarifications, open exercises and OCDS."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, post, put
from litestar import Response as HttpResponse
from litestar.datastructures import ResponseHeader
from litestar.params import JSONBody

from marketplace.accounts.auth import STAFF, allow, staff
from marketplace.concurrency import etag
from marketplace.engagement import service
from marketplace.engagement.models import (
    DEADLINE_RULE,
    AnswerIn,
    Clarification,
    ClarificationIn,
    Notice,
    OcdsPackage,
    OpenExercise,
    PublishIn,
    Question,
    QuestionIn,
    QuestionMove,
    Response,
    ResponseIn,
    ResponsePage,
    ResponseRevision,
)
from marketplace.http import NEEDS_KEY, ActorDep, Conn, Ctx, Id, IfMatch, PageNumber, PerPage, RouteDoc, errors_doc
from marketplace.types import NoBody

TAGS = ["market engagement"]
ETAG = [ResponseHeader(name="ETag", description='The response\'s revision, e.g. "v3"', documentation_only=True)]
QUESTION_ETAG = [ResponseHeader(name="ETag", description='The question\'s version, e.g. "v2"', documentation_only=True)]
PUBLIC: dict[str, Any] = {"tags": TAGS}
"""Anyone may call (a key is optional; a bad one is still refused)."""
STAFF_ONLY = RouteDoc(tags=TAGS, security=NEEDS_KEY, guards=[staff])
PROVIDER_ONLY = RouteDoc(tags=TAGS, security=NEEDS_KEY, guards=[allow("provider")])
STAFF_OR_PROVIDER = RouteDoc(tags=TAGS, security=NEEDS_KEY, guards=[allow(*STAFF, "provider")])
OWN_OR_STAFF = RouteDoc(tags=TAGS, security=NEEDS_KEY, guards=[allow(*STAFF, own_provider=True)])
OWN_ONLY = RouteDoc(tags=TAGS, security=NEEDS_KEY, guards=[allow(own_provider=True)])


def revisioned(r: Response, status_code: int = 200) -> HttpResponse[Response]:
    """A response with its revision as the ETag; a new one (201) with its address as the Location."""
    location = {"Location": f"/exercises/{r.exercise_id}/responses/{r.provider_id}"} if status_code == 201 else {}
    return HttpResponse(r, status_code=status_code, headers={"ETag": etag(r.revision), **location})


@post(
    "/exercises/{exercise_id:int}/publish",
    summary="Publish the exercise for market engagement (If-Match: the exercise's ETag)",
    status_code=201,
    responses=errors_doc(400, 403, 404, 409, 412, 422, 428),
    description="Makes the exercise's public notice (GET /exercises/{id}/notice) readable by anyone and opens it to "
    "responses and clarification questions between `opens_on` and `closes_on`. The exercise needs both dates (the "
    "deadline not yet passed) and at least one need; its questions are fixed from now on. `budget_visibility`: each "
    "need's budget is shown, shown as the fixed band it is in (e.g. £150,000 to £250,000), or hidden. " + DEADLINE_RULE,
    **STAFF_ONLY,
)
async def publish(
    exercise_id: Id, data: JSONBody[PublishIn], ctx: Ctx, conn: Conn, actor: ActorDep, if_match: IfMatch = None
) -> HttpResponse[Notice]:
    notice = await service.publish(ctx, conn, actor, exercise_id, if_match, data)
    return HttpResponse(notice, status_code=201, headers={"Location": f"/exercises/{exercise_id}/notice"})


@get(
    "/exercises/{exercise_id:int}/notice",
    summary="The public notice of an exercise open for engagement (UK2-style; anyone)",
    responses=errors_doc(400, 404),
    description="Title, description, commissioning body, needs (pathway, areas, volume, contract length, cohorts, the "
    "budget as the commissioner chose to show it), questions, the deadline and the clarification log (anonymised). "
    "404 until the exercise is published. " + DEADLINE_RULE,
    **PUBLIC,
)
async def get_notice(exercise_id: Id, ctx: Ctx, conn: Conn) -> Notice:
    return await service.notice(ctx, conn, exercise_id)


@get(
    "/exercises/{exercise_id:int}/questions",
    summary="The exercise's questions (anyone once published; staff before)",
    responses=errors_doc(400, 404),
    **PUBLIC,
)
async def list_questions(exercise_id: Id, conn: Conn, actor: ActorDep) -> list[Question]:
    return await service.list_questions(conn, actor.caller, exercise_id)


@post(
    "/exercises/{exercise_id:int}/questions",
    summary="Add a question (before publishing)",
    status_code=201,
    responses=errors_doc(400, 403, 404, 409, 422),
    description="Free text (with a word limit, default 500), yes/no, a number, or a single or multiple choice; each "
    "required or optional. Questions are fixed once the exercise is published (409).",
    **STAFF_ONLY,
)
async def add_question(exercise_id: Id, data: JSONBody[QuestionIn], conn: Conn, actor: ActorDep) -> Question:
    return await service.add_question(conn, actor, exercise_id, data)


@put(
    "/exercises/{exercise_id:int}/questions/{question_id:int}",
    summary="Change a question (before publishing; If-Match)",
    response_headers=QUESTION_ETAG,
    responses=errors_doc(400, 403, 404, 409, 412, 422, 428),
    description="The question replaced whole, as POST .../questions takes it (a field left out takes its default); "
    'its place among the questions is kept. If-Match: its `version` as an ETag ("v1"), as the question list gives '
    "it; 412 when it changed since. Questions are fixed once the exercise is published (409).",
    **STAFF_ONLY,
)
async def change_question(
    exercise_id: Id, question_id: Id, data: JSONBody[QuestionIn], conn: Conn, actor: ActorDep, if_match: IfMatch = None
) -> HttpResponse[Question]:
    changed = await service.change_question(conn, actor, exercise_id, question_id, if_match, data)
    return HttpResponse(changed, headers={"ETag": etag(changed.version)})


@post(
    "/exercises/{exercise_id:int}/questions/{question_id:int}/move",
    summary="Move a question to another place among the exercise's questions (before publishing)",
    status_code=200,
    responses=errors_doc(400, 403, 404, 409, 422),
    description="`position`: its place, 1 the first (422 beyond the last); the others keep their order around it and "
    "the questions are numbered 1, 2, ... again. `from_position` (optional): the place the question was listed at "
    "when the move was chosen; 409, nothing moved, when it is elsewhere now (the list changed meanwhile). Returns the "
    "questions in their new order. No question's `version` changes: a move changes no question's content. Questions "
    "are fixed once the exercise is published (409).",
    **STAFF_ONLY,
)
async def move_question(
    exercise_id: Id, question_id: Id, data: JSONBody[QuestionMove], conn: Conn, actor: ActorDep
) -> list[Question]:
    return await service.move_question(conn, actor, exercise_id, question_id, data)


@delete(
    "/exercises/{exercise_id:int}/questions/{question_id:int}",
    summary="Remove a question (before publishing)",
    status_code=204,
    responses=errors_doc(400, 403, 404, 409),
    **STAFF_ONLY,
)
async def remove_question(exercise_id: Id, question_id: Id, conn: Conn, actor: ActorDep) -> None:
    await service.remove_question(conn, actor, exercise_id, question_id)


RESPONSE_RULES = (
    " Per need: intent (lead, partner, either, not_interested), the provider's own active services it would deliver "
    "with, capacity per area (within the need's areas, each covered whole by the services named: the districts they "
    "cover when they cover only some of a county's), an indicative unit cost (pounds per service user), partners "
    "(directory providers by id, or organisations outside it by name: a published provider's own name is refused, "
    "with its id to give instead) and barriers to bidding (a tick-list and text); answers to the questions (word "
    "limits, choices and required questions checked: 422 naming the field). "
    "Each submission is kept as a revision, with the provider's profile and services as they were. " + DEADLINE_RULE
)


@post(
    "/exercises/{exercise_id:int}/responses",
    summary="Respond to an exercise (a provider key, once; then revise with PUT)",
    status_code=201,
    response_headers=ETAG,
    responses=errors_doc(400, 403, 404, 409, 422),
    description="The caller's provider responds to a published exercise open for engagement. Only a provider in the "
    "directory responds: a pending profile (not yet checked and published by an admin) or an archived one is a 409."
    + RESPONSE_RULES,
    **PROVIDER_ONLY,
)
async def submit_response(
    exercise_id: Id, data: JSONBody[ResponseIn], ctx: Ctx, conn: Conn, actor: ActorDep
) -> HttpResponse[Response]:
    return revisioned(await service.submit_response(ctx, conn, actor, exercise_id, data), 201)


@get(
    "/exercises/{exercise_id:int}/responses",
    summary="Responses: every one for commissioners, a provider's own for a provider key",
    responses=errors_doc(400, 403, 404),
    description="Current responses (each provider's newest revision, withdrawn ones marked), by provider name. A "
    "provider key sees its own response only, never another provider's.",
    **STAFF_OR_PROVIDER,
)
async def list_responses(
    exercise_id: Id, conn: Conn, actor: ActorDep, page: PageNumber = 1, per_page: PerPage = 20
) -> ResponsePage:
    return await service.list_responses(conn, actor.caller, exercise_id, page=page, per_page=per_page)


@get(
    "/exercises/{exercise_id:int}/responses/{provider_id:int}",
    summary="One provider's response (that provider, or commissioners)",
    response_headers=ETAG,
    responses=errors_doc(400, 403, 404),
    **OWN_OR_STAFF,
)
async def get_response(exercise_id: Id, provider_id: Id, conn: Conn) -> HttpResponse[Response]:
    return revisioned(await service.get_response(conn, exercise_id, provider_id))


@put(
    "/exercises/{exercise_id:int}/responses/{provider_id:int}",
    summary="Revise a response (its provider; If-Match) until the deadline",
    response_headers=ETAG,
    responses=errors_doc(400, 403, 404, 409, 412, 422, 428),
    description="Replaces the response with a new revision (a withdrawn response is submitted again)." + RESPONSE_RULES,
    **OWN_ONLY,
)
async def revise_response(
    exercise_id: Id,
    provider_id: Id,
    data: JSONBody[ResponseIn],
    ctx: Ctx,
    conn: Conn,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> HttpResponse[Response]:
    return revisioned(await service.revise_response(ctx, conn, actor, exercise_id, provider_id, if_match, data))


@post(
    "/exercises/{exercise_id:int}/responses/{provider_id:int}/withdraw",
    summary="Withdraw a response (its provider; If-Match) until the deadline",
    status_code=200,
    response_headers=ETAG,
    responses=errors_doc(400, 403, 404, 409, 412, 428),
    description="Adds a withdrawn revision (what was said before stays in the revisions). It takes no input: no "
    "body, or `{}`. " + DEADLINE_RULE,
    **OWN_ONLY,
)
async def withdraw_response(
    exercise_id: Id,
    provider_id: Id,
    ctx: Ctx,
    conn: Conn,
    actor: ActorDep,
    if_match: IfMatch = None,
    data: JSONBody[NoBody | None] = None,
) -> HttpResponse[Response]:
    return revisioned(await service.withdraw_response(ctx, conn, actor, exercise_id, provider_id, if_match))


@get(
    "/exercises/{exercise_id:int}/responses/{provider_id:int}/revisions",
    summary="Every revision of a response, newest first, with the profile snapshot each relied on",
    responses=errors_doc(400, 403, 404),
    **OWN_OR_STAFF,
)
async def list_revisions(exercise_id: Id, provider_id: Id, conn: Conn) -> list[ResponseRevision]:
    return await service.list_revisions(conn, exercise_id, provider_id)


@get(
    "/exercises/{exercise_id:int}/clarifications",
    summary="Clarifications: the published log for anyone, plus a provider's own questions, or all for staff",
    responses=errors_doc(400, 404),
    description="Anyone: answered clarifications, anonymised (`provider_id` null). A provider key: those and its own "
    "questions, answered or not. Commissioners: every question, with who asked.",
    **PUBLIC,
)
async def list_clarifications(exercise_id: Id, conn: Conn, actor: ActorDep) -> list[Clarification]:
    return await service.list_clarifications(conn, actor.caller, exercise_id)


@post(
    "/exercises/{exercise_id:int}/clarifications",
    summary="Ask a clarification question (a provider key; private until answered)",
    status_code=201,
    responses=errors_doc(400, 403, 404, 409),
    description="Until the deadline. The commissioner's answer is published to every provider with the question as "
    "the commissioner words it, never naming who asked (Procurement Act 2023, s.16: no supplier gets an unfair "
    "advantage); write the question without your organisation's name where you can. " + DEADLINE_RULE,
    **PROVIDER_ONLY,
)
async def ask(exercise_id: Id, data: JSONBody[ClarificationIn], ctx: Ctx, conn: Conn, actor: ActorDep) -> Clarification:
    return await service.ask(ctx, conn, actor, exercise_id, data)


@post(
    "/exercises/{exercise_id:int}/clarifications/{clarification_id:int}/answer",
    summary="Answer a clarification and publish it, anonymised, to everyone",
    status_code=200,
    responses=errors_doc(400, 403, 404, 409),
    description="`published_question` (required) is the question as everyone reads it beside the answer, word for "
    "word: reword it to leave out anything that identifies who asked (their name, staff, places), or give the question "
    "as asked when nothing in it does. The asker's `provider_id` is never published. Answered once.",
    **STAFF_ONLY,
)
async def answer(
    exercise_id: Id, clarification_id: Id, data: JSONBody[AnswerIn], ctx: Ctx, conn: Conn, actor: ActorDep
) -> Clarification:
    return await service.answer(ctx, conn, actor, exercise_id, clarification_id, data)


@get(
    "/providers/{provider_id:int}/open-exercises",
    summary="Exercises open for engagement whose needs match the provider's services, newest first",
    responses=errors_doc(400, 403, 404),
    description="Published exercises open now with a need in the pathway of one of the provider's active services, in "
    "an area that service covers (a service area inside the need's area, or containing it, counts). The provider "
    "itself, or commissioners.",
    **OWN_OR_STAFF,
)
async def open_exercises(provider_id: Id, ctx: Ctx, conn: Conn, actor: ActorDep) -> list[OpenExercise]:
    return await service.open_exercises(ctx, conn, actor.caller, provider_id)


@get(
    "/exercises/{exercise_id:int}/ocds",
    summary="The engagement notice as an OCDS 1.1 release package (Find a Tender's UK2 shape; anyone)",
    responses=errors_doc(400, 404),
    description="Every release the notice has had, oldest first: the first tagged `planning`, each after it "
    "`planningUpdate` (each move of the closing date, with its amendment in `tender.amendments`: date, rationale, "
    "the releases before and after; and the deadline passing, the milestone then `met`). The buyer "
    "as a party; an engagement milestone due at the deadline; the notice as a "
    "`marketEngagementNotice` document with noticeType UK2; one item per need with its CPV classification and "
    "delivery locations as ONS GSS URIs; values in GBP only where the budget is public. Declares the UK extension "
    "as Find a Tender does. Never holds match runs or responses. 404 until published.",
    **PUBLIC,
)
async def ocds(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> OcdsPackage:
    return await service.ocds(ctx, conn, exercise_id, base_url=str(request.base_url))


@get(
    "/exercises/{exercise_id:int}/ocds/record",
    summary="The engagement notice as an OCDS 1.1 record package: every release and the compiled release (anyone)",
    responses=errors_doc(400, 404),
    description="One record for the notice's ocid: its releases embedded (as GET /exercises/{id}/ocds gives them, "
    "oldest first) and `compiledRelease`, the releases merged as OCDS merges them (tag `compiled`: the notice as it "
    "now stands, every amendment in `tender.amendments`). 404 until published.",
    **PUBLIC,
)
async def ocds_record(request: Request[Any, Any, Any], exercise_id: Id, ctx: Ctx, conn: Conn) -> OcdsPackage:
    return await service.ocds_record(ctx, conn, exercise_id, base_url=str(request.base_url))


ROUTES = [
    publish,
    get_notice,
    list_questions,
    add_question,
    change_question,
    move_question,
    remove_question,
    submit_response,
    list_responses,
    get_response,
    revise_response,
    withdraw_response,
    list_revisions,
    list_clarifications,
    ask,
    answer,
    open_exercises,
    ocds,
    ocds_record,
]
