"""Market engagement (issue 14) through the real app on real PostgreSQL: publishing a UK2-style notice, questions,
responses revised until the deadline (Europe/London) and refused after it, who sees what, clarifications, finding
open exercises, the report's market-response section and the OCDS release package."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import asyncpg
import pytest
from conftest import TELFORD_NEED, Keys, app_settings, held
from litestar.testing import AsyncTestClient

import matching
from marketplace import db
from marketplace.app import create_app
from marketplace.clock import Clock
from marketplace.engagement import service as engagement_service
from marketplace.engagement.models import PublishIn, QuestionMove
from marketplace.exercises import queries as exercise_queries
from marketplace.types import Actor, Caller


class MovableClock(Clock):
    """The app's clock, set by the test (the deadline passes when the test says so)."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at


BEFORE = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
DURING = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
LAST_MINUTE = dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC)  # GMT in winter: still 31 December in London
AFTER = dt.datetime(2027, 1, 1, 0, 0, 1, tzinfo=dt.UTC)

NEED = {**TELFORD_NEED, "contract_years": 3}


@dataclass
class World:
    client: AsyncTestClient
    clock: MovableClock
    keys: Keys
    dsn: str
    commissioner: dict[str, str]


@asynccontextmanager
async def world_on(dsn: str) -> AsyncIterator[World]:
    """The app on `dsn`'s database with a clock the test moves (at BEFORE), and a commissioner's key."""
    clock = MovableClock(BEFORE)
    async with AsyncTestClient(app=create_app(app_settings(dsn), clock=clock)) as client:
        keys = Keys(dsn)
        yield World(client, clock, keys, dsn, await keys.headers("commissioner"))


@pytest.fixture
async def world(fresh_db: str) -> AsyncIterator[World]:
    async with world_on(fresh_db) as w:
        yield w


async def providers_with(dsn: str, pathway: str, area: str, n: int = 2) -> list[tuple[int, int]]:
    """(provider id, one of its active services) for `n` published providers with an active service in `pathway`
    covering exactly `area`."""
    conn = await db.connect(dsn)
    try:
        rows = await conn.fetch(
            """select distinct on (p.id) p.id, s.id as service_id
               from provider p join service s on s.provider_id = p.id
               join service_area a on a.service_id = s.id
               where p.status = 'published' and s.status = 'active' and s.pathway_code = $1 and a.area_code = $2
               order by p.id, s.id limit $3""",
            pathway,
            area,
            n,
        )
    finally:
        await conn.close()
    assert len(rows) == n
    return [(r["id"], r["service_id"]) for r in rows]


async def draft_exercise(w: World, need: dict[str, Any] = NEED) -> tuple[int, int]:
    """A draft exercise with one need (`need`), opening 1 December 2026 and closing 31 December 2026: (exercise id,
    need id)."""
    c, h = w.client, w.commissioner
    x = await c.post(
        "/exercises",
        headers=h,
        json={
            "title": "Telford accommodation engagement",
            "commissioning_body": "Telford & Wrekin Council",
            "description": "Preliminary market engagement for adult accommodation.",
            "opens_on": "2026-12-01",
            "closes_on": "2026-12-31",
        },
    )
    assert x.status_code == 201, x.text
    made = await c.post(f"/exercises/{x.json()['id']}/needs", headers=h, json=need)
    assert made.status_code == 201, made.text
    return x.json()["id"], made.json()["id"]


async def make_exercise(
    w: World, *, questions: list[dict] | None = None, visibility: str = "shown", need: dict[str, Any] = NEED
) -> tuple[int, int]:
    """An exercise with one need (`need`) and questions, published (opens 1 December 2026, closes 31 December 2026)."""
    c, h = w.client, w.commissioner
    exercise_id, need_id = await draft_exercise(w, need)
    for q in questions or []:
        r = await c.post(f"/exercises/{exercise_id}/questions", headers=h, json=q)
        assert r.status_code == 201, r.text
    etag = (await c.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
    published = await c.post(
        f"/exercises/{exercise_id}/publish", headers={**h, "If-Match": etag}, json={"budget_visibility": visibility}
    )
    assert published.status_code == 201, published.text
    assert published.headers["location"] == f"/exercises/{exercise_id}/notice"
    return exercise_id, need_id


QUESTIONS = [
    {"kind": "text", "text": "Describe your experience of similar contracts.", "required": True, "word_limit": 10},
    {"kind": "yes_no", "text": "Could you mobilise by April 2027?", "required": True},
    {"kind": "number", "text": "How many staff would deliver it?"},
    {"kind": "single_choice", "text": "Preferred contract length", "choices": ["3 years", "5 years"]},
    {"kind": "multiple_choice", "text": "Payment models you would accept", "choices": ["block", "spot", "pbr"]},
]


def answers(qs: list[dict], text: str = "Ten years of supported housing in Telford.") -> list[dict]:
    return [
        {"question_id": qs[0]["id"], "value": text},
        {"question_id": qs[1]["id"], "value": True},
        {"question_id": qs[2]["id"], "value": 12},
        {"question_id": qs[3]["id"], "value": "5 years"},
        {"question_id": qs[4]["id"], "value": ["block", "pbr"]},
    ]


def response(need_id: int, service_id: int, qs: list[dict], **changes) -> dict:
    need = {
        "need_id": need_id,
        "intent": "lead",
        "service_ids": [service_id],
        "capacity": [{"area": "E06000020", "service_users_per_year": 30}],
        "unit_cost": 1800,
        "partners": [{"name": "Wrekin Housing Group"}],
        "barriers": ["tupe", "payment_by_results"],
        "barriers_text": "TUPE liabilities are unclear.",
        **changes,
    }
    return {"needs": [need], "answers": answers(qs)}


def leading(need_id: int, service_ids: list[int], capacity: dict[str, int] | None = None, **more: Any) -> dict:
    """A response leading on one need with `service_ids` (and no answers), stating `capacity` (area -> service users
    a year) when given; `more`: the need's other fields (`unit_cost`...)."""
    need: dict[str, Any] = {"need_id": need_id, "intent": "lead", "service_ids": service_ids}
    if capacity is not None:
        need["capacity"] = [{"area": area, "service_users_per_year": n} for area, n in capacity.items()]
    return {"needs": [{**need, **more}]}


async def add_service(
    c: AsyncTestClient,
    provider_id: int,
    headers: dict[str, str],
    name: str,
    description: str,
    areas: list[str],
    pathway: str = "ACCOM",
) -> int:
    """A new service of the provider's for adults, in `pathway` across `areas`: its id."""
    made = await c.post(
        f"/providers/{provider_id}/services",
        headers=headers,
        json={"pathway": pathway, "name": name, "description": description, "cohorts": ["ADULTS"], "areas": areas},
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def districts_service(c: AsyncTestClient, provider_id: int, headers: dict[str, str]) -> int:
    """A new accommodation service of the provider's in two of Worcestershire's districts (Redditch, Worcester), not
    the whole county: its id."""
    return await add_service(
        c, provider_id, headers, "Redditch and Worcester move-on flats", "Move-on flats.", ["E07000236", "E07000237"]
    )


LANTERNS = {
    "name": "Wrekin Lanterns Housing CIC",
    "legal_form": "cic",
    "services": [
        {
            "pathway": "ACCOM",
            "name": "Lanterns shared houses",
            "description": "Shared houses for adults leaving prison.",
            "cohorts": ["ADULTS"],
            "areas": ["E06000020"],
        }
    ],
}
"""A registration (a pending provider, until an admin publishes it) with one service in the exercises' areas."""


async def test_the_whole_flow_publish_read_respond_revise_deadline_refuse_and_analyse(world):
    w = world
    c = w.client
    (p1, s1), (p2, s2) = await providers_with(w.dsn, "ACCOM", "E06000020")
    a, b = await w.keys.headers("provider", p1), await w.keys.headers("provider", p2)

    exercise_id, need_id = await make_exercise(w, questions=QUESTIONS)

    # anyone reads the notice: needs, the budget as chosen, questions, the deadline in Europe/London
    notice = (await c.get(f"/exercises/{exercise_id}/notice")).json()
    assert notice["state"] == "not_yet_open"
    assert notice["deadline"] == "2027-01-01T00:00:00Z"  # the end of 31 December in London (GMT)
    assert "Europe/London" in notice["deadline_rule"]
    assert notice["needs"][0]["budget"] == {"visibility": "shown", "amount": 120000, "per_service_user": 2000}
    assert notice["needs"][0]["contract_years"] == 3
    qs = notice["questions"]
    assert [q["kind"] for q in qs] == [q["kind"] for q in QUESTIONS]

    # too early: refused, nothing stored
    early = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=response(need_id, s1, qs))
    assert early.status_code == 409 and "opens" in early.json()["message"]

    w.clock.at = DURING
    assert (await c.get(f"/exercises/{exercise_id}/notice")).json()["state"] == "open"
    first = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=response(need_id, s1, qs))
    assert first.status_code == 201, first.text
    assert first.headers["etag"] == '"v1"' and first.json()["status"] == "submitted"
    assert (await c.get(first.headers["location"], headers=a)).json() == first.json()
    again = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=response(need_id, s1, qs))
    assert again.status_code == 409

    # revise (If-Match), at the last minute of the last day in London
    w.clock.at = LAST_MINUTE
    path = f"/exercises/{exercise_id}/responses/{p1}"
    assert (await c.put(path, headers=a, json=response(need_id, s1, qs))).status_code == 428
    stale = await c.put(path, headers={**a, "If-Match": '"v7"'}, json=response(need_id, s1, qs))
    assert stale.status_code == 412
    revised = await c.put(
        path, headers={**a, "If-Match": '"v1"'}, json=response(need_id, s1, qs, unit_cost=1700, intent="either")
    )
    assert revised.status_code == 200, revised.text
    assert revised.headers["etag"] == '"v2"' and revised.json()["needs"][0]["unit_cost"] == 1700
    second = await c.post(
        f"/exercises/{exercise_id}/responses",
        headers=b,
        json=response(need_id, s2, qs, intent="partner", unit_cost=2100, partners=[{"provider_id": p1}]),
    )
    assert second.status_code == 201, second.text

    # the deadline passes: the response is read-only, a late change and a late submission are refused
    w.clock.at = AFTER
    late = await c.put(path, headers={**a, "If-Match": '"v2"'}, json=response(need_id, s1, qs, unit_cost=1))
    assert late.status_code == 409
    assert "the deadline 2027-01-01T00:00:00+00:00" in late.json()["message"] and "has passed" in late.json()["message"]
    third_key = await w.keys.headers("provider", 3)
    assert (
        await c.post(f"/exercises/{exercise_id}/responses", headers=third_key, json=response(need_id, s1, qs))
    ).status_code == 409
    withdraw = await c.post(f"{path}/withdraw", headers={**a, "If-Match": '"v2"'})
    assert withdraw.status_code == 409
    assert (await c.get(path, headers=a)).json()["needs"][0]["unit_cost"] == 1700

    # every revision kept, each with the profile and services it relied on
    revisions = (await c.get(f"{path}/revisions", headers=w.commissioner)).json()
    assert [r["revision"] for r in revisions] == [2, 1]
    assert revisions[1]["needs"][0]["unit_cost"] == 1800
    assert revisions[0]["snapshot"]["id"] == p1 and any(s["id"] == s1 for s in revisions[0]["snapshot"]["services"])
    stored = [dt.datetime.fromisoformat(r["recorded_at"]) for r in revisions]  # the database's clock, beside the app's
    assert stored[0] >= stored[1] and stored[0].tzinfo is not None

    # the commissioner's analysis
    listed = (await c.get(f"/exercises/{exercise_id}/responses", headers=w.commissioner)).json()
    assert listed["total"] == 2
    conn = await db.connect(w.dsn)
    try:
        audit = await conn.fetch(
            "select detail from audit_log where detail like '%exercise ' || $1::text || '%'", str(exercise_id)
        )
    finally:
        await conn.close()
    details = " | ".join(r["detail"] for r in audit)
    assert "published exercise" in details and "revised the response" in details

    # the report's market-response section, in JSON, CSV and HTML, beside the matching's stored runs
    assert (await c.post(f"/exercises/{exercise_id}/match", headers=w.commissioner)).status_code == 201
    report = (await c.get(f"/exercises/{exercise_id}/report", headers=w.commissioner)).json()
    (mr,) = report["market_response"]["needs"]
    assert (mr["responses"], mr["intent"]) == (2, {"lead": 0, "partner": 1, "either": 1, "not_interested": 0})
    assert (mr["offered_capacity"], mr["capacity_to_volume"]) == (60, 1.0)
    assert mr["costs"] == {
        "responses": 2,
        "minimum": 1700.0,
        "median": 1900.0,
        "maximum": 2100.0,
        "budget_per_service_user": 2000.0,
        "median_to_budget": 0.95,
    }
    assert mr["barriers"]["tupe"] == 2 and mr["barriers"]["insurance"] == 0
    assert {(x["lead_provider_id"], x["partners"][0]) for x in mr["consortia"]} >= {(p1, "Wrekin Housing Group")}
    assert [cell["area"] for cell in mr["cells"]] == ["E06000020"] and mr["cells"][0]["responses"] == 2
    suitable = {p["provider_id"] for n in report["needs"] for p in n["providers"] if p["meets_threshold"]}
    assert {x["provider_id"] for x in mr["suitable_non_responders"]} == suitable - {p1, p2}
    csv_text = (await c.get(f"/exercises/{exercise_id}/report?format=csv", headers=w.commissioner)).text
    rows = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    (need_row,) = [r for r in rows if r["row_type"] == "response_need"]
    assert (need_row["responses"], need_row["cost_median_gbp"], need_row["intent_partner"]) == ("2", "1900", "1")
    assert [r["area_code"] for r in rows if r["row_type"] == "response_cell"] == ["E06000020"]
    html = (await c.get(f"/exercises/{exercise_id}/report?format=html", headers=w.commissioner)).text
    assert 'id="market-response"' in html and "Wrekin Housing Group" in html and "£1,900" in html
    assert '<a href="#market-response">Market response</a>' in html  # listed in the contents
    assert "responses closed at the end of 31 December 2026, UK time." in html  # the deadline as the notice says it
    w.clock.at = LAST_MINUTE  # a report made while responses are taken says so
    html = (await c.get(f"/exercises/{exercise_id}/report?format=html", headers=w.commissioner)).text
    assert "responses are taken until the end of 31 December 2026, UK time (this report was made before then)" in html


class Responding(NamedTuple):
    first: tuple[int, int]
    second: tuple[int, int]
    """Two published providers with an accommodation service in Telford: (provider id, service id)."""
    exercise_id: int
    need_id: int
    questions: list[dict]
    key: dict[str, str]
    """The first provider's key."""


async def responding(w: World, questions: list[dict] = QUESTIONS, need: dict[str, Any] = NEED) -> Responding:
    """An exercise with one need (`need`) asking `questions`, published and open (the clock moved into its window),
    and who may respond."""
    first, second = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, need_id = await make_exercise(w, questions=questions, need=need)
    w.clock.at = DURING
    qs = (await w.client.get(f"/exercises/{exercise_id}/questions")).json()
    return Responding(first, second, exercise_id, need_id, qs, await w.keys.headers("provider", first[0]))


async def test_a_directory_provider_named_as_a_partner_is_told_to_be_given_by_its_number(world):
    """A provider typed a partner that is in the directory by its name, as an outside organisation: stored so, the
    market response counted the consortium's partner as outside the directory and did not link it. A partner named
    exactly as a published provider (case, spacing and accents aside) is refused with that provider's number to give
    instead; given by its number, the response is taken and the report links it. A pending provider's name is no
    directory provider's: taken as an outside organisation."""
    w = world
    c = w.client
    (p1, s1), (p2, _s2), exercise_id, need_id, qs, a = await responding(w)
    other = (await c.get(f"/providers/{p2}")).json()["name"]
    body = response(need_id, s1, qs, partners=[{"name": "Telford Foyer"}, {"name": f"  {other.upper()} "}])
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "needs[0].partners[1].name" and error["suggestion"] == str(p2), error
    assert f"{other} (provider {p2})" in error["problem"] and f"directory number, {p2}," in error["problem"], error
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=a)).status_code == 404  # nothing stored

    body = response(need_id, s1, qs, partners=[{"name": "Telford Foyer"}, {"provider_id": p2}])
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 201, r.text
    assert {"provider_id": p2} in r.json()["needs"][0]["partners"], r.text
    conn = await db.connect(w.dsn)
    try:
        await conn.execute("update provider set status = 'pending' where id = $1", p2)
    finally:
        await conn.close()
    body = response(need_id, s1, qs, partners=[{"name": other}])
    path = f"/exercises/{exercise_id}/responses/{p1}"
    r = await c.put(path, headers={**a, "If-Match": r.headers["etag"]}, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["needs"][0]["partners"] == [{"name": other}]


async def test_a_response_is_checked_against_the_exercise_its_services_and_the_questions(world):
    w = world
    c = w.client
    (p1, s1), (_p2, s2), exercise_id, need_id, qs, a = await responding(w)
    own_name = (await c.get(f"/providers/{p1}")).json()["name"]
    bad_answers = answers(qs, text="one two three four five six seven eight nine ten eleven")
    bad_answers[3]["value"] = "7 years"
    bad_answers[4]["value"] = ["block", "barter"]
    bad_answers[1]["value"] = "yes"
    body = response(
        need_id,
        s2,  # another provider's service
        qs,
        capacity=[{"area": "E06000019", "service_users_per_year": 5}],  # Herefordshire: outside the need
        partners=[{"provider_id": p1}, {"name": "  " + own_name.upper()}],  # itself, by id and by name
    )
    body["answers"] = bad_answers
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 422, r.text
    fields = {e["field"]: e["problem"] for e in r.json()["errors"]}
    assert fields["needs[0].partners[1].name"] == "that is your own organisation"
    assert "not one of your services" in fields["needs[0].service_ids[0]"]
    assert "not within the need's areas" in fields["needs[0].capacity[0].area"]
    assert "your own organisation" in fields["needs[0].partners[0].provider_id"]
    assert "over the limit of 10" in fields["answers[0].value"]
    assert fields["answers[1].value"] == "expected true or false"
    assert "not one of the choices" in fields["answers[3].value"]
    assert "barter" in fields["answers[4].value"]
    # a required question left out
    body = response(need_id, s1, qs)
    body["answers"] = body["answers"][1:]
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "answers"
    # an unknown barrier is the schema's 400
    r = await c.post(
        f"/exercises/{exercise_id}/responses", headers=a, json=response(need_id, s1, qs, barriers=["weather"])
    )
    assert r.status_code == 400
    # nothing stored
    listed = (await c.get(f"/exercises/{exercise_id}/responses", headers=w.commissioner)).json()
    assert listed["total"] == 0
    # questions are fixed once published
    r = await c.post(f"/exercises/{exercise_id}/questions", headers=w.commissioner, json=QUESTIONS[1])
    assert r.status_code == 409


async def test_a_response_delivers_with_services_in_the_need_s_pathway_and_states_capacity_where_they_deliver(world):
    """A need across Telford and Herefordshire: the provider's Telford accommodation service fits it; its
    employment service does not (another pathway), and places stated in Herefordshire, where the service named does
    not deliver, are refused. Nothing is stored."""
    w = world
    c = w.client
    (p1, s1), _, exercise_id, need_id, _, a = await responding(w, [], {**NEED, "areas": ["E06000020", "E06000019"]})
    other = await add_service(c, p1, a, "Jobs club", "Weekly jobs club.", ["E06000020"], pathway="ETE")
    body = leading(need_id, [s1, other], {"E06000020": 20, "E06000019": 10})
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 422, r.text
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert set(errors) == {"needs[0].service_ids[1]", "needs[0].capacity[1].area"}
    wrong_pathway = errors["needs[0].service_ids[1]"]
    assert "Education, training and employment pathway" in wrong_pathway["problem"], wrong_pathway
    assert "Accommodation" in wrong_pathway["problem"] and s1 in wrong_pathway["allowed"]
    assert other not in wrong_pathway["allowed"]
    nowhere = errors["needs[0].capacity[1].area"]
    assert "none of the services named" in nowhere["problem"] and nowhere["allowed"] == ["E06000020"]
    assert (await c.get(f"/exercises/{exercise_id}/responses", headers=w.commissioner)).json()["total"] == 0
    # the same response with its own pathway's service and its places where it delivers is taken
    body["needs"][0]["service_ids"] = [s1]
    body["needs"][0]["capacity"] = body["needs"][0]["capacity"][:1]
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 201, r.text


async def test_a_response_naming_a_question_or_need_twice_or_not_of_the_exercise_is_refused(world):
    w = world
    c = w.client
    (_, s1), _, exercise_id, need_id, qs, a = await responding(w)
    body = response(need_id, s1, qs)
    body["answers"] += [body["answers"][2], {"question_id": 999999, "value": "x"}]
    body["needs"] += [body["needs"][0], {**body["needs"][0], "need_id": 999999}]
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 422, r.text
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert set(errors) == {"answers[5].question_id", "answers[6].question_id", "needs[1].need_id", "needs[2].need_id"}
    assert errors["answers[5].question_id"]["problem"] == "answered twice"
    assert errors["answers[6].question_id"]["problem"] == "not a question of this exercise"
    assert errors["answers[6].question_id"]["allowed"] == [q["id"] for q in qs]
    assert errors["needs[1].need_id"]["problem"] == "this need is answered twice"
    assert errors["needs[2].need_id"]["problem"] == "not a need of this exercise"
    assert errors["needs[2].need_id"]["allowed"] == [need_id]
    listed = (await c.get(f"/exercises/{exercise_id}/responses", headers=w.commissioner)).json()
    assert listed["total"] == 0


async def test_who_sees_what(world):
    w = world
    c = w.client
    (p1, s1), (p2, _s2) = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, need_id = await make_exercise(w, questions=QUESTIONS[1:2], visibility="hidden")
    w.clock.at = DURING
    qs = (await c.get(f"/exercises/{exercise_id}/questions")).json()
    a, b = await w.keys.headers("provider", p1), await w.keys.headers("provider", p2)
    body = {
        "needs": [{"need_id": need_id, "intent": "lead", "service_ids": [s1]}],
        "answers": [{"question_id": qs[0]["id"], "value": False}],
    }
    assert (await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)).status_code == 201
    asked = await c.post(f"/exercises/{exercise_id}/clarifications", headers=a, json={"question": "Is TUPE expected?"})
    assert asked.status_code == 201, asked.text
    path = f"/exercises/{exercise_id}/responses/{p1}"

    # provider B never reads A's response or A's private question
    assert (await c.get(path, headers=b)).status_code == 403
    assert (await c.get(f"{path}/revisions", headers=b)).status_code == 403
    assert (await c.put(path, headers={**b, "If-Match": '"v1"'}, json=body)).status_code == 403
    assert (await c.post(f"{path}/withdraw", headers={**b, "If-Match": '"v1"'})).status_code == 403
    assert (await c.get(f"/exercises/{exercise_id}/responses", headers=b)).json()["total"] == 0
    assert (await c.get(f"/exercises/{exercise_id}/clarifications", headers=b)).json() == []
    # A sees its own
    assert (await c.get(path, headers=a)).status_code == 200
    assert (await c.get(f"/exercises/{exercise_id}/responses", headers=a)).json()["total"] == 1
    mine = (await c.get(f"/exercises/{exercise_id}/clarifications", headers=a)).json()
    assert [m["question"] for m in mine] == ["Is TUPE expected?"] and mine[0]["provider_id"] == p1
    # anonymous callers read only the public part
    assert (await c.get(f"/exercises/{exercise_id}/notice")).status_code == 200
    assert (await c.get(f"/exercises/{exercise_id}/notice")).json()["needs"][0]["budget"] == {"visibility": "hidden"}
    assert (await c.get(f"/exercises/{exercise_id}/ocds")).status_code == 200
    assert (await c.get(f"/exercises/{exercise_id}/clarifications")).json() == []
    for method, url in [
        ("GET", path),
        ("GET", f"{path}/revisions"),
        ("GET", f"/exercises/{exercise_id}/responses"),
        ("POST", f"/exercises/{exercise_id}/responses"),
        ("POST", f"/exercises/{exercise_id}/clarifications"),
        ("GET", f"/providers/{p1}/open-exercises"),
        ("POST", f"/exercises/{exercise_id}/publish"),
        ("POST", f"/exercises/{exercise_id}/questions"),
    ]:
        assert (await c.request(method, url, json={})).status_code == 401, (method, url)
    # commissioners see all; they answer and publish, anonymised
    staff_view = (await c.get(f"/exercises/{exercise_id}/clarifications", headers=w.commissioner)).json()
    assert staff_view[0]["provider_id"] == p1
    answered = await c.post(
        f"/exercises/{exercise_id}/clarifications/{asked.json()['id']}/answer",
        headers=w.commissioner,
        json={"answer": "No staff transfer is expected.", "published_question": "Will TUPE apply?"},
    )
    assert answered.status_code == 200, answered.text
    public = (await c.get(f"/exercises/{exercise_id}/clarifications")).json()
    assert public == [
        {**public[0], "provider_id": None, "question": "Will TUPE apply?", "answer": "No staff transfer is expected."}
    ]
    assert (await c.get(f"/exercises/{exercise_id}/clarifications", headers=b)).json()[0]["provider_id"] is None
    log = (await c.get(f"/exercises/{exercise_id}/notice")).json()["clarifications"]
    assert [(x["question"], x["answer"]) for x in log] == [("Will TUPE apply?", "No staff transfer is expected.")]
    again = await c.post(
        f"/exercises/{exercise_id}/clarifications/{asked.json()['id']}/answer",
        headers=w.commissioner,
        json={"answer": "x", "published_question": "Will TUPE apply?"},
    )
    assert again.status_code == 409
    # providers may not publish, answer or set questions
    assert (await c.post(f"/exercises/{exercise_id}/questions", headers=a, json=QUESTIONS[1])).status_code == 403
    # a commissioner does not respond as a provider
    assert (await c.post(f"/exercises/{exercise_id}/responses", headers=w.commissioner, json=body)).status_code == 403


async def test_a_provider_finds_open_exercises_matching_its_services(world):
    w = world
    c = w.client
    (p1, s1), (p2, _) = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, need_id = await make_exercise(w)
    a = await w.keys.headers("provider", p1)

    def ids(found: list[dict]) -> list[int]:
        return [f["exercise_id"] for f in found]

    assert exercise_id not in ids((await c.get(f"/providers/{p1}/open-exercises", headers=a)).json())  # not yet open
    w.clock.at = DURING
    found = (await c.get(f"/providers/{p1}/open-exercises", headers=a)).json()
    assert ids(found)[0] == exercise_id  # newest first (before the sample exercise, published in October, if it fits)
    assert set(ids(found)) <= {exercise_id, 1}
    assert found[0]["need_ids"] == [need_id] and s1 in found[0]["service_ids"] and found[0]["responded"] is False
    other = await w.keys.headers("provider", p2)
    assert (await c.get(f"/providers/{p1}/open-exercises", headers=other)).status_code == 403
    w.clock.at = AFTER
    assert exercise_id not in ids((await c.get(f"/providers/{p1}/open-exercises", headers=a)).json())


@pytest.mark.parametrize("visibility", ["shown", "range", "hidden"])
async def test_the_ocds_release_package_is_valid_and_shaped_like_a_uk2_notice(world, visibility):
    from standards_schemas import UK_EXTENSION_DEPENDENCIES, assert_valid_ocds

    w = world
    c = w.client
    exercise_id, need_id = await make_exercise(w, questions=QUESTIONS, visibility=visibility)
    (p1, s1), _ = await providers_with(w.dsn, "ACCOM", "E06000020")
    w.clock.at = DURING
    qs = (await c.get(f"/exercises/{exercise_id}/questions")).json()
    r = await c.post(
        f"/exercises/{exercise_id}/responses",
        headers=await w.keys.headers("provider", p1),
        json=response(need_id, s1, qs),
    )
    assert r.status_code == 201
    package = (await c.get(f"/exercises/{exercise_id}/ocds")).json()
    assert_valid_ocds(package)
    assert (
        "https://raw.githubusercontent.com/cabinetoffice/ocds_uk_extension/main/extension.json" in package["extensions"]
    )
    assert all(
        any(d in url for d in (*UK_EXTENSION_DEPENDENCIES, "ocds_uk_extension")) for url in package["extensions"]
    )
    release = package["releases"][0]
    assert release["ocid"] == f"ocds-prvsn1-{exercise_id}" and release["tag"] == ["planning"]
    assert release["parties"][0]["roles"] == ["buyer"] and release["buyer"]["name"] == "Telford & Wrekin Council"
    (milestone,) = release["planning"]["milestones"]
    assert milestone["type"] == "engagement" and milestone["dueDate"] == "2027-01-01T00:00:00+00:00"
    (document,) = release["planning"]["documents"]
    assert (document["documentType"], document["noticeType"]) == ("marketEngagementNotice", "UK2")
    assert release["tender"]["status"] == "planning"
    assert release["tender"]["contractPeriod"] == {"durationInDays": 3 * 365}  # the term the value is over
    (item,) = release["tender"]["items"]
    assert item["classification"] == {
        "scheme": "CPV",
        "id": "85311000",
        "description": "Social work services with accommodation",
    }
    assert item["deliveryLocations"] == [
        {"description": "Telford and Wrekin", "uri": "http://statistics.data.gov.uk/id/statistical-geography/E06000020"}
    ]
    text = r.text + str(package)
    assert "Wrekin Housing Group" not in str(package) and "match" not in str(package).lower()  # no responses or runs
    assert "Wrekin Housing Group" in text
    if visibility == "shown":
        assert release["tender"]["value"] == {"amount": 360000, "currency": "GBP"}
        assert item["unit"]["value"] == {"amount": 2000, "currency": "GBP"}
    elif visibility == "range":
        # £120,000 a year is in the band £100,000 to £150,000 (fixed bands: the range says nothing more), 3 years
        assert release["tender"]["minValue"] == {"amount": 300000, "currency": "GBP"}
        assert release["tender"]["value"] == {"amount": 450000, "currency": "GBP"}
        notice_need = (await c.get(f"/exercises/{exercise_id}/notice")).json()["needs"][0]
        assert notice_need["budget"] == {"visibility": "range", "minimum": 100000, "maximum": 150000}
    else:
        assert "value" not in release["tender"] and "minValue" not in release["tender"] and "value" not in item["unit"]


async def test_the_ocds_release_is_a_new_one_when_what_it_shows_changes(world):
    """The release's id and date are those of the content it carries: moving the closing date later (the one change
    of the notice allowed once published) and the deadline passing (the milestone is met) each make a new release,
    dated by the app's clock; the commissioner's own settings changing does not. The package holds every release
    made, oldest first, the earlier ones as they were byte for byte: the first tagged `planning`, each after it
    `planningUpdate`, a move of the closing date with its amendment (the moves before it too) in tender.amendments."""
    from standards_schemas import assert_valid_ocds

    w = world
    c, h = w.client, w.commissioner
    exercise_id, _ = await make_exercise(w)  # published at BEFORE
    ocid = f"ocds-prvsn1-{exercise_id}"

    async def releases() -> list[dict]:
        package = (await c.get(f"/exercises/{exercise_id}/ocds")).json()
        assert_valid_ocds(package)
        assert package["publishedDate"] == package["releases"][-1]["date"]
        assert [r["date"] for r in package["releases"]] == sorted(r["date"] for r in package["releases"])
        return package["releases"]

    def same(a: list[dict], b: list[dict]) -> bool:  # as served: the same keys in the same order, the same values
        return json.dumps(a) == json.dumps(b)

    async def patch(changes: dict) -> dict:
        etag = (await c.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
        r = await c.patch(f"/exercises/{exercise_id}", headers={**h, "If-Match": etag}, json=changes)
        assert r.status_code == 200, r.text
        return r.json()

    (published,) = await releases()
    assert published["date"] == "2026-11-30T12:00:00Z" and published["tag"] == ["planning"]
    assert published["id"] == f"{ocid}-uk2-20261130T120000Z" and "amendments" not in published["tender"]
    w.clock.at = DURING
    weighed = await patch({"default_weights": {"quality": 40, "pathway_fit": 30, "coverage": 30}})
    assert weighed["updated_at"] == "2026-12-10T12:00:00Z"  # the app's clock, not the database's
    assert same(await releases(), [published])  # not in the release: the same release
    w.clock.at = DURING + dt.timedelta(hours=1)
    moved = await patch({"closes_on": "2027-01-15"})
    assert moved["updated_at"] == "2026-12-10T13:00:00Z"
    first, later = await releases()
    assert same([first], [published])  # the earlier release is still served, as it was
    assert later["id"] == f"{ocid}-uk2-20261210T130000Z" and later["date"] == "2026-12-10T13:00:00Z"
    assert later["tag"] == ["planningUpdate"]
    (milestone,) = later["planning"]["milestones"]
    assert (milestone["dueDate"], milestone["status"]) == ("2027-01-16T00:00:00+00:00", "scheduled")
    assert later["planning"]["documents"][0]["datePublished"] == "2026-11-30T12:00:00Z"  # the notice's first day
    assert later["tender"]["amendments"] == [
        {
            "id": "1",
            "date": "2026-12-10T13:00:00Z",
            "rationale": "closing date moved from 2026-12-31 to 2027-01-15",
            "description": "Responses are due by 2027-01-16T00:00:00+00:00 (the end of 2027-01-15, Europe/London), "
            "no longer by 2027-01-01T00:00:00+00:00.",
            "amendsReleaseID": published["id"],
            "releaseID": later["id"],
        }
    ]
    w.clock.at = dt.datetime(2027, 1, 20, 9, 0, tzinfo=dt.UTC)
    *before, met = await releases()
    assert same(before, [published, later])
    (milestone,) = met["planning"]["milestones"]
    assert milestone["status"] == "met" and met["tag"] == ["planningUpdate"]
    assert met["id"] == f"{ocid}-uk2-20270116T000000Z" and met["date"] == "2027-01-16T00:00:00Z"
    assert met["tender"]["amendments"] == later["tender"]["amendments"]  # no new amendment: nothing was changed
    # moved again once closed (it opens again): the amendment amends the release of the milestone met
    reopened = await patch({"closes_on": "2027-02-10"})
    assert reopened["closes_on"] == "2027-02-10"
    *before, again = await releases()
    assert same(before, [published, later, met])
    assert again["id"] == f"{ocid}-uk2-20270120T090000Z" and again["tag"] == ["planningUpdate"]
    assert again["planning"]["milestones"][0]["status"] == "scheduled"
    assert [a["id"] for a in again["tender"]["amendments"]] == ["1", "2"]
    second = again["tender"]["amendments"][1]
    assert second["rationale"] == "closing date moved from 2027-01-15 to 2027-02-10"
    assert (second["amendsReleaseID"], second["releaseID"], second["date"]) == (
        met["id"],
        again["id"],
        "2027-01-20T09:00:00Z",
    )

    # the record: every release, and the notice as it now stands compiled from them
    r = await c.get(f"/exercises/{exercise_id}/ocds/record")
    assert r.status_code == 200, r.text
    record_package = r.json()
    assert_valid_ocds(record_package, record=True)
    (record,) = record_package["records"]
    assert record["ocid"] == ocid and same(record["releases"], [published, later, met, again])
    assert record_package["packages"][0].endswith(f"/exercises/{exercise_id}/ocds")
    compiled = record["compiledRelease"]
    assert compiled["tag"] == ["compiled"] and compiled["date"] == again["date"]
    assert compiled["id"] == f"{ocid}-{again['date']}"
    assert {k: v for k, v in compiled.items() if k not in ("id", "date", "tag")} == {
        k: v for k, v in again.items() if k not in ("id", "date", "tag")
    }
    assert (await c.get("/exercises/999999/ocds/record")).status_code == 404


def test_the_ocds_validator_checks_date_times_and_uris() -> None:
    """jsonschema checks `date-time` and `uri` only with packages not installed here: the test helper's own checkers
    do, so a date without its zone fails validation instead of passing unread."""
    from standards_schemas import assert_valid_ocds

    package = {
        "uri": "http://example.org/exercises/1/ocds",
        "version": "1.1",
        "publishedDate": "2027-01-16T00:00:00Z",
        "publisher": {"name": "Provision marketplace"},
        "releases": [
            {
                "ocid": "ocds-prvsn1-1",
                "id": "ocds-prvsn1-1-uk2-20270116T000000Z",
                "date": "2027-01-16T00:00:00Z",
                "tag": ["planning"],
                "initiationType": "tender",
            }
        ],
    }
    assert_valid_ocds(package)
    for field, wrong in (("publishedDate", "2027-01-16"), ("publishedDate", "2027-01-16T00:00:00"), ("uri", "a b")):
        with pytest.raises(AssertionError, match=field):
            assert_valid_ocds({**package, field: wrong})
    with pytest.raises(AssertionError, match="date"):
        assert_valid_ocds({**package, "releases": [{**package["releases"][0], "date": "2027-02-30T00:00:00Z"}]})


async def test_the_seeded_sample_exercise_has_responses_silence_and_a_clarification(client, keys):
    commissioner = await keys.headers("commissioner")
    notice = (await client.get("/exercises/1/notice")).json()
    assert len(notice["questions"]) == 5  # (open or closed by now: the seed dates it inside the window)
    assert all(n["budget"]["visibility"] == "range" for n in notice["needs"])
    # the desired outcomes each need lists, by code and name, from the pathway's vocabulary
    vocabulary = {d["code"]: d["name"] for d in (await client.get("/desired-outcomes")).json()}
    shown = [d for n in notice["needs"] for d in n["desired_outcomes"]]
    assert shown and all(vocabulary[d["code"]] == d["name"] for d in shown)
    assert [c["question"] for c in notice["clarifications"]] == [
        "Would the partnership accept a bid covering only part of a need's areas?"
    ]
    responses = (await client.get("/exercises/1/responses?per_page=100", headers=commissioner)).json()
    assert responses["total"] >= 4
    assert (await client.post("/exercises/1/match", headers=commissioner)).status_code == 201
    report = (await client.get("/exercises/1/report", headers=commissioner)).json()
    mr = report["market_response"]
    answered = [n for n in mr["needs"] if n["responses"]]
    assert len(answered) >= 3
    assert any(n["suitable_non_responders"] for n in mr["needs"]), "some suitable providers stayed silent"
    assert sum(sum(n["barriers"].values()) for n in mr["needs"]) > 0
    html = (await client.get("/exercises/1/report?format=html", headers=commissioner)).text
    assert "Market response" in html and "only part of a need" in html


# (method, path template, body) -> the status each caller gets; {x}: the exercise, {a}: provider A (who responded
# and asked a question), {c}: A's clarification
EVERYONE = {"anonymous": 200, "A": 200, "B": 200, "commissioner": 200, "admin": 200}
SIGNED_IN = {"anonymous": 401, "A": 200, "B": 200, "commissioner": 200, "admin": 200}
A_AND_STAFF = {"anonymous": 401, "A": 200, "B": 403, "commissioner": 200, "admin": 200}
MATRIX = [
    ("GET", "/exercises/{x}/notice", None, EVERYONE),
    ("GET", "/exercises/{x}/questions", None, EVERYONE),
    ("GET", "/exercises/{x}/ocds", None, EVERYONE),
    ("GET", "/exercises/{x}/responses/{a}", None, A_AND_STAFF),
    ("GET", "/exercises/{x}/responses/{a}/revisions", None, A_AND_STAFF),
    ("GET", "/exercises/{x}/responses", None, SIGNED_IN),
    ("GET", "/providers/{a}/open-exercises", None, A_AND_STAFF),
    (
        "POST",
        "/exercises/{x}/clarifications/{c}/answer",
        {"answer": "Yes.", "published_question": "Is TUPE expected to apply?"},
        {"anonymous": 401, "A": 403, "B": 403, "commissioner": 200, "admin": 409},
    ),
    (
        "POST",
        "/exercises/{x}/questions",
        {"kind": "yes_no", "text": "Late question?"},
        {"anonymous": 401, "A": 403, "B": 403, "commissioner": 409, "admin": 409},
    ),
    (
        "POST",
        "/exercises/{x}/clarifications",
        {"question": "Another question?"},
        {"anonymous": 401, "A": 201, "B": 201, "commissioner": 403, "admin": 403},
    ),
]


async def test_authorisation_matrix_for_engagement(world):
    w = world
    c = w.client
    (p1, s1), (p2, _) = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, need_id = await make_exercise(w)
    w.clock.at = DURING
    callers = {
        "anonymous": {},
        "A": await w.keys.headers("provider", p1),
        "B": await w.keys.headers("provider", p2),
        "commissioner": w.commissioner,
        "admin": await w.keys.headers("admin"),
    }
    body = leading(need_id, [s1])
    assert (await c.post(f"/exercises/{exercise_id}/responses", headers=callers["A"], json=body)).status_code == 201
    asked = await c.post(f"/exercises/{exercise_id}/clarifications", headers=callers["A"], json={"question": "TUPE?"})
    for method, template, payload, expected in MATRIX:
        path = template.format(x=exercise_id, a=p1, c=asked.json()["id"])
        for who, headers in callers.items():
            r = await c.request(method, path, headers=headers, json=payload)
            assert r.status_code == expected[who], (method, path, who, r.text)
            if who == "B" and r.status_code == 200:
                assert "TUPE?" not in r.text and '"provider_id":' + str(p1) not in r.text.replace(" ", "")


class Submitted(NamedTuple):
    provider_id: int
    service_id: int
    exercise_id: int
    need_id: int
    headers: dict[str, str]
    path: str
    body: dict[str, Any]


async def submitted(w: World) -> Submitted:
    """An open exercise with one need and a provider's response to it, submitted (version 1): what a withdrawal
    needs."""
    (p1, s1), _, exercise_id, need_id, _, a = await responding(w, [])
    body = leading(need_id, [s1], unit_cost=1500)
    assert (await w.client.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)).status_code == 201
    return Submitted(p1, s1, exercise_id, need_id, a, f"/exercises/{exercise_id}/responses/{p1}", body)


async def test_a_response_is_withdrawn_and_submitted_again_before_the_deadline(world):
    w = world
    c = w.client
    p1, s1, exercise_id, need_id, a, path, body = await submitted(w)
    w.clock.at = DURING + dt.timedelta(days=1)
    withdrawn = await c.post(f"{path}/withdraw", headers={**a, "If-Match": '"v1"'})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.headers["etag"] == '"v2"'
    # it says when it was submitted and, apart, when it was withdrawn
    assert (withdrawn.json()["submitted_at"], withdrawn.json()["withdrawn_at"]) == (
        "2026-12-10T12:00:00Z",
        "2026-12-11T12:00:00Z",
    )
    assert (await c.post(f"{path}/withdraw", headers={**a, "If-Match": '"v2"'})).status_code == 409
    mr = (await c.get(f"/exercises/{exercise_id}/report", headers=w.commissioner)).json()["market_response"]
    assert (mr["responses"], mr["withdrawn"], mr["needs"][0]["responses"]) == (0, 1, 0)
    # not interested: nothing to deliver with, so nothing of that may be given
    wrong = {"needs": [{"need_id": need_id, "intent": "not_interested", "service_ids": [s1]}]}
    r = await c.put(path, headers={**a, "If-Match": '"v2"'}, json=wrong)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "needs[0].service_ids"
    w.clock.at = DURING + dt.timedelta(days=2)
    again = await c.put(path, headers={**a, "If-Match": '"v2"'}, json=body)
    assert again.status_code == 200 and again.json()["status"] == "submitted" and again.headers["etag"] == '"v3"'
    assert (again.json()["submitted_at"], again.json()["withdrawn_at"]) == ("2026-12-12T12:00:00Z", None)
    revisions = (await c.get(f"{path}/revisions", headers=a)).json()
    assert [(r["status"], r["submitted_at"][:10], (r["withdrawn_at"] or "")[:10]) for r in revisions] == [
        ("submitted", "2026-12-12", ""),
        ("withdrawn", "2026-12-10", "2026-12-11"),
        ("submitted", "2026-12-10", ""),
    ]
    conn = await db.connect(w.dsn)
    try:
        details = [r["detail"] for r in await conn.fetch("select detail from audit_log where provider_id = $1", p1)]
    finally:
        await conn.close()
    assert any(d.startswith("withdrew the response") for d in details)


async def test_open_exercises_say_whether_the_provider_s_own_response_was_withdrawn(world):
    """GET /providers/{id}/open-exercises said only whether a response stood (`responded`), so a provider that had
    withdrawn one read the same as one that never responded. Each exercise now has `response_status` too: null with
    no response, "submitted" while it stands, "withdrawn" once withdrawn; `responded` means what it did."""
    w = world
    c = w.client
    p1, _, exercise_id, _, a, path, body = await submitted(w)
    _, (p2, _) = await providers_with(w.dsn, "ACCOM", "E06000020")
    b = await w.keys.headers("provider", p2)

    async def row(provider_id: int, headers: dict[str, str]) -> tuple[bool, str | None]:
        found = (await c.get(f"/providers/{provider_id}/open-exercises", headers=headers)).json()
        (x,) = [x for x in found if x["exercise_id"] == exercise_id]
        return x["responded"], x["response_status"]

    assert await row(p2, b) == (False, None)
    assert await row(p1, a) == (True, "submitted")
    assert (await c.post(f"{path}/withdraw", headers={**a, "If-Match": '"v1"'})).status_code == 200
    assert await row(p1, a) == (False, "withdrawn")
    assert await row(p1, w.commissioner) == (False, "withdrawn")  # commissioners read it as the provider does
    assert (await c.put(path, headers={**a, "If-Match": '"v2"'}, json=body)).status_code == 200
    assert await row(p1, a) == (True, "submitted")


async def test_the_same_response_again_is_no_new_revision(world):
    """Sending the response as it stands (a form saved unchanged) adds no revision: 200 with the response as it is,
    its ETag unmoved, no audit row; If-Match is still checked. After a withdrawal the same body is submitted again."""
    w = world
    c = w.client
    (p1, s1), _, exercise_id, need_id, qs, a = await responding(w)
    path = f"/exercises/{exercise_id}/responses/{p1}"
    body = response(need_id, s1, qs)
    first = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert first.status_code == 201 and first.headers["etag"] == '"v1"'
    w.clock.at = DURING + dt.timedelta(days=1)
    again = await c.put(path, headers={**a, "If-Match": '"v1"'}, json=body)
    assert again.status_code == 200 and again.headers["etag"] == '"v1"'
    assert again.json() == first.json()  # the same revision, submitted when it was
    assert (await c.put(path, headers={**a, "If-Match": '"v9"'}, json=body)).status_code == 412
    assert [r["revision"] for r in (await c.get(f"{path}/revisions", headers=a)).json()] == [1]
    conn = await db.connect(w.dsn)
    try:
        revised = "select count(*) from audit_log where provider_id = $1 and detail like 'revised the response%'"
        assert await conn.fetchval(revised, p1) == 0
    finally:
        await conn.close()
    assert (await c.post(f"{path}/withdraw", headers={**a, "If-Match": '"v1"'})).status_code == 200
    resubmitted = await c.put(path, headers={**a, "If-Match": '"v2"'}, json=body)
    assert resubmitted.status_code == 200 and resubmitted.headers["etag"] == '"v3"'
    assert resubmitted.json()["status"] == "submitted"


async def test_the_same_response_with_its_sets_in_another_order_is_no_new_revision(world):
    """A response's needs and answers, and in a need its services, capacity by area, partners and barriers, and a
    multiple-choice answer's choices are sets (each once): the response sent again with them in another order says
    what it said: 200, its ETag unmoved, no revision. Anything else changed is a revision, kept as sent."""
    w = world
    c = w.client
    (p1, s1), _, exercise_id, need_id, qs, a = await responding(w, need={**NEED, "areas": ["E06000020", "E06000051"]})
    shropshire = await add_service(
        c,
        p1,
        a,
        "Shropshire floating support",
        "Tenancy support across Shropshire and Telford.",
        ["E06000051", "E06000020"],
    )
    services = [s1, shropshire]
    body = response(
        need_id,
        services[0],
        qs,
        service_ids=services[:2],
        capacity=[
            {"area": "E06000020", "service_users_per_year": 30},
            {"area": "E06000051", "service_users_per_year": 10},
        ],
        partners=[{"name": "Wrekin Housing Group"}, {"provider_id": p1 + 1}, {"name": "Telford Foyer"}],
    )
    first = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert first.status_code == 201, first.text
    path = f"/exercises/{exercise_id}/responses/{p1}"
    (need,) = body["needs"]
    reordered = {
        "needs": [
            {
                **need,
                "service_ids": need["service_ids"][::-1],
                "capacity": need["capacity"][::-1],
                "partners": need["partners"][::-1],
                "barriers": need["barriers"][::-1],
            }
        ],
        "answers": [*body["answers"][:0:-1], body["answers"][0]],
    }
    reordered["answers"][0] = {**reordered["answers"][0], "value": ["pbr", "block"]}  # the multiple-choice answer
    assert reordered["answers"][0]["question_id"] == qs[4]["id"]
    again = await c.put(path, headers={**a, "If-Match": '"v1"'}, json=reordered)
    assert again.status_code == 200 and again.headers["etag"] == '"v1"', again.text
    assert again.json() == first.json()
    assert [r["revision"] for r in (await c.get(f"{path}/revisions", headers=a)).json()] == [1]
    # a real change is a revision, stored as sent
    reordered["needs"][0]["barriers"] = ["tupe"]
    revised = await c.put(path, headers={**a, "If-Match": '"v1"'}, json=reordered)
    assert revised.status_code == 200 and revised.headers["etag"] == '"v2"', revised.text
    assert revised.json()["needs"] == reordered["needs"]


async def test_a_withdrawal_takes_no_fields(world):
    """Withdrawing takes no input: no body or {}; a field in it is refused naming it (400), never ignored, and nothing
    is stored."""
    c = world.client
    done = await submitted(world)
    a, path = done.headers, done.path
    r = await c.post(f"{path}/withdraw", headers={**a, "If-Match": '"v1"'}, json={"reason": "we cannot bid"})
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [{"field": "reason", "problem": "unknown field"}]
    r = await c.post(f"{path}/withdraw", headers={**a, "If-Match": '"v1"'}, json=["reason"])
    assert r.status_code == 400, r.text
    still = await c.get(path, headers=a)
    assert (still.json()["status"], still.headers["etag"]) == ("submitted", '"v1"')
    r = await c.post(f"{path}/withdraw", headers={**a, "If-Match": '"v1"'}, json={})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"


def test_deadlines_are_the_end_of_the_closing_day_in_london_summer_or_winter():
    from marketplace.engagement.service import deadline_of, opens_at

    assert deadline_of(dt.date(2027, 7, 30)).astimezone(dt.UTC) == dt.datetime(2027, 7, 30, 23, 0, tzinfo=dt.UTC)
    assert deadline_of(dt.date(2027, 1, 29)).astimezone(dt.UTC) == dt.datetime(2027, 1, 30, 0, 0, tzinfo=dt.UTC)
    assert opens_at(dt.date(2027, 6, 1)).astimezone(dt.UTC) == dt.datetime(2027, 5, 31, 23, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ({"kind": "single_choice", "text": "Pick", "choices": ["only one"]}, "choices"),
        ({"kind": "multiple_choice", "text": "Pick", "choices": ["a", "a", "b"]}, "choices[1]"),
        ({"kind": "multiple_choice", "text": "Pick", "choices": ["a", " a ", "b"]}, "choices[1]"),  # trimmed, the same
        ({"kind": "single_choice", "text": "Pick", "choices": ["a", "b", "b\n"]}, "choices[2]"),
        ({"kind": "single_choice", "text": "Pick", "choices": ["a", " ", "b"]}, "choices[1]"),  # blank once trimmed
        ({"kind": "single_choice", "text": "Pick", "choices": ["a", " a"]}, "choices"),  # one choice, given twice
        ({"kind": "yes_no", "text": "Yes?", "word_limit": 5}, "word_limit"),
        ({"kind": "number", "text": "How many?", "choices": ["1", "2"]}, "choices"),
        ({"kind": "text", "text": "Say", "minimum": 0}, "minimum"),  # a number question's settings only
        ({"kind": "yes_no", "text": "Yes?", "whole_number": True}, "whole_number"),
        ({"kind": "number", "text": "How many?", "minimum": 10, "maximum": 5}, "maximum"),
        ({"kind": "number", "text": "How many?", "minimum": 0.2, "maximum": 0.8, "whole_number": True}, "maximum"),
    ],
)
async def test_a_question_that_cannot_be_answered_as_set_is_refused(world, question, field):
    w = world
    x = await w.client.post("/exercises", headers=w.commissioner, json={"title": "Q", "commissioning_body": "B"})
    r = await w.client.post(f"/exercises/{x.json()['id']}/questions", headers=w.commissioner, json=question)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    assert (await w.client.get(f"/exercises/{x.json()['id']}/questions", headers=w.commissioner)).json() == []


async def test_a_draft_s_question_is_changed_in_place_under_if_match_until_published(world):
    """A question set wrongly was removed and added again (going to the end of the list). PUT replaces it whole in
    its place, under If-Match (its version): without it 428, a stale one 412, one that cannot be answered as set
    422, each with nothing stored; the change is audited and in the change history (once: given again as it is,
    nothing changes); once published, 409."""
    w, c, h = world, world.client, world.commissioner
    exercise_id, _ = await draft_exercise(w)
    base = f"/exercises/{exercise_id}/questions"
    first = (await c.post(base, headers=h, json={"kind": "text", "text": "Your experience?"})).json()
    second = (await c.post(base, headers=h, json={"kind": "yes_no", "text": "Can you start in April?"})).json()
    assert (first["version"], second["version"]) == (1, 1)
    path = f"{base}/{first['id']}"
    pick = {"kind": "single_choice", "text": "Which areas?", "required": True, "choices": [" Telford ", "Wrekin"]}
    assert (await c.put(path, headers=h, json=pick)).status_code == 428
    refused = await c.put(path, headers={**h, "If-Match": '"v1"'}, json={**pick, "choices": ["Telford"]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "choices"
    assert (await c.get(base, headers=h)).json() == [first, second]  # nothing stored
    changed = await c.put(path, headers={**h, "If-Match": '"v1"'}, json=pick)
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"v2"'
    assert changed.json() == {
        **first,
        "kind": "single_choice",
        "text": "Which areas?",
        "required": True,
        "word_limit": None,  # a text question's setting, gone with its kind
        "choices": ["Telford", "Wrekin"],
        "version": 2,
    }
    assert (await c.get(base, headers=h)).json() == [changed.json(), second]  # in its place
    same = await c.put(path, headers={**h, "If-Match": '"v2"'}, json={**pick, "choices": ["Telford", "Wrekin "]})
    assert same.status_code == 200 and same.json() == changed.json()  # as it is: nothing changes, not its version
    stale = await c.put(path, headers={**h, "If-Match": '"v1"'}, json={**pick, "text": "Which area?"})
    assert stale.status_code == 412 and (await c.get(base, headers=h)).json()[0]["text"] == "Which areas?"
    other_exercise, _ = await draft_exercise(w)
    other = await c.post(f"/exercises/{other_exercise}/questions", headers=h, json={"kind": "yes_no", "text": "?"})
    elsewhere = await c.put(f"{base}/{other.json()['id']}", headers={**h, "If-Match": '"v1"'}, json=pick)
    assert elsewhere.status_code == 404  # another exercise's question
    assert (await c.get(f"/exercises/{other_exercise}/questions", headers=h)).json() == [other.json()]
    # given as it is stored (the default word limit, spaces around the text): nothing changes
    third = (await c.post(base, headers=h, json={"kind": "text", "text": "Say more"})).json()
    as_stored = {"kind": "text", "text": "  Say more ", "word_limit": 500}
    for given in (as_stored, {"kind": "text", "text": "Say more"}):
        kept = await c.put(f"{base}/{third['id']}", headers={**h, "If-Match": '"v1"'}, json=given)
        assert kept.status_code == 200 and kept.json() == third
    broken = await c.put(
        path, headers={**h, "If-Match": '"v2"'}, json={**pick, "choices": ["Telford\nWrekin", "x", "y"]}
    )
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "choices[0]"  # a choice is one line
    auditor = await w.keys.headers("auditor")
    history = await c.get(
        "/changes", params={"table": "engagement_question", "record_id": first["id"]}, headers=auditor
    )
    update = [e for e in history.json()["items"] if e["operation"] == "update"]
    assert len(update) == 1 and {ch["field"] for ch in update[0]["changes"]} >= {"kind", "text", "choices", "version"}
    audit = await c.get("/audit", params={"outcome": "write"}, headers=auditor)
    details = [e["detail"] for e in audit.json()["items"]]
    assert details.count(f"changed question {first['id']} of exercise {exercise_id}") == 1  # the no-op not audited
    assert not any(d.startswith(f"changed question {third['id']} ") for d in details)

    etag = (await c.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
    published = await c.post(
        f"/exercises/{exercise_id}/publish", headers={**h, "If-Match": etag}, json={"budget_visibility": "shown"}
    )
    assert published.status_code == 201, published.text
    late = await c.put(path, headers={**h, "If-Match": '"v2"'}, json={**pick, "text": "Late"})
    assert late.status_code == 409 and "questions are fixed" in late.json()["message"]
    assert (await c.get(base, headers=h)).json()[0]["text"] == "Which areas?"


async def test_a_draft_s_question_is_moved_to_another_place_the_others_keeping_their_order(world):
    """A question asked last that belongs first was removed and added again, and so went last again. A move puts it at
    a place (1 the first); the questions are numbered 1, 2, ... again, gaps left by removals closed, and no version
    changes. Beyond the last place 422 and place 0 400, each with nothing stored; another exercise's question 404;
    moved to its own place nothing changes, unaudited; chosen from a list (`from_position`) that has changed since,
    409; two moves at once, the second waits for the first and moves from the order it left; once published, 409."""
    w, c, h = world, world.client, world.commissioner
    exercise_id, _ = await draft_exercise(w)
    base = f"/exercises/{exercise_id}/questions"
    made = [
        (await c.post(base, headers=h, json={"kind": "yes_no", "text": f"Question {n}?"})).json() for n in range(1, 6)
    ]
    assert (await c.delete(f"{base}/{made[1]['id']}", headers=h)).status_code == 204
    a, c3, d, e = made[0], made[2], made[3], made[4]
    assert [q["position"] for q in (await c.get(base, headers=h)).json()] == [1, 3, 4, 5]  # a gap where 2 was
    moved = await c.post(f"{base}/{e['id']}/move", headers=h, json={"position": 1})
    assert moved.status_code == 200, moved.text
    in_order = [{**q, "position": n} for n, q in enumerate((e, a, c3, d), start=1)]  # versions as they were
    assert moved.json() == in_order and (await c.get(base, headers=h)).json() == in_order
    # two neighbours swap places (their places unique only once the statement is done)
    swapped = await c.post(f"{base}/{a['id']}/move", headers=h, json={"position": 3})
    assert [q["id"] for q in swapped.json()] == [e["id"], c3["id"], a["id"], d["id"]]
    for body, status, field in (
        ({"position": 5}, 422, "position"),
        ({"position": 0}, 400, "position"),
        ({}, 400, "position"),
    ):
        refused = await c.post(f"{base}/{d['id']}/move", headers=h, json=body)
        assert refused.status_code == status and refused.json()["errors"][0]["field"] == field, refused.text
    too_far = await c.post(f"{base}/{d['id']}/move", headers=h, json={"position": 5})
    assert too_far.json()["errors"][0]["problem"] == f"must be 4 or less: exercise {exercise_id} has 4 questions"
    assert [q["id"] for q in (await c.get(base, headers=h)).json()] == [e["id"], c3["id"], a["id"], d["id"]]
    other_exercise, _ = await draft_exercise(w)
    other = await c.post(f"/exercises/{other_exercise}/questions", headers=h, json={"kind": "yes_no", "text": "?"})
    assert (await c.post(f"{base}/{other.json()['id']}/move", headers=h, json={"position": 1})).status_code == 404
    kept = await c.post(f"{base}/{c3['id']}/move", headers=h, json={"position": 2})  # where it is
    assert kept.status_code == 200 and [q["id"] for q in kept.json()] == [e["id"], c3["id"], a["id"], d["id"]]
    # chosen from a list (`from_position`): moved only if it is still where the list showed it
    listed = await c.post(f"{base}/{d['id']}/move", headers=h, json={"position": 3, "from_position": 3})
    assert listed.status_code == 409 and "is question 4 of exercise" in listed.json()["message"]
    assert [q["id"] for q in (await c.get(base, headers=h)).json()] == [e["id"], c3["id"], a["id"], d["id"]]
    huge = await c.post(f"{base}/{d['id']}/move", headers=h, json={"position": 10_001})
    assert huge.status_code == 422 and huge.json()["errors"][0]["problem"].startswith("must be 4 or less")
    # two moves at once, each on its own connection: the second waits for the first's lock on the exercise's
    # questions, then reads the order the first left (without the lock it would renumber from the order it read
    # before, and d would not be first)
    actor = Actor(caller=Caller(role="commissioner"), request_id="race", method="POST", path="/move")
    first, second = await db.connect(w.dsn), await db.connect(w.dsn)
    try:
        async with first.transaction():
            await engagement_service.move_question(first, actor, exercise_id, d["id"], QuestionMove(position=1))
            waiting = asyncio.create_task(
                engagement_service.move_question(second, actor, exercise_id, e["id"], QuestionMove(position=4))
            )
            await asyncio.sleep(0.3)
            assert not waiting.done()  # held until the first commits
        await waiting
    finally:
        await first.close()
        await second.close()
    after = (await c.get(base, headers=h)).json()
    assert [q["id"] for q in after] == [d["id"], c3["id"], a["id"], e["id"]]
    assert [q["position"] for q in after] == [1, 2, 3, 4]

    auditor = await w.keys.headers("auditor")
    audit = await c.get("/audit", params={"outcome": "write"}, headers=auditor)
    moves = [x["detail"] for x in audit.json()["items"] if x["detail"].startswith("moved question")]
    assert sorted(moves) == sorted(
        [
            f"moved question {e['id']} of exercise {exercise_id} to place 1 of 4",
            f"moved question {a['id']} of exercise {exercise_id} to place 3 of 4",
            f"moved question {d['id']} of exercise {exercise_id} to place 1 of 4",
            f"moved question {e['id']} of exercise {exercise_id} to place 4 of 4",
        ]
    ), moves  # refused moves and the one to its own place are not
    history = await c.get("/changes", params={"table": "engagement_question", "record_id": e["id"]}, headers=auditor)
    renumbered = [x for x in history.json()["items"] if x["operation"] == "update"]
    assert renumbered and all({ch["field"] for ch in x["changes"]} == {"position"} for x in renumbered)

    etag = (await c.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
    published = await c.post(
        f"/exercises/{exercise_id}/publish", headers={**h, "If-Match": etag}, json={"budget_visibility": "shown"}
    )
    assert published.status_code == 201, published.text
    late = await c.post(f"{base}/{a['id']}/move", headers=h, json={"position": 1})
    assert late.status_code == 409 and "questions are fixed" in late.json()["message"]
    assert (await c.get(base, headers=h)).json() == after


async def test_a_number_question_takes_answers_within_its_bounds_and_whole_when_it_says_so(world):
    """A question "How many paid staff?" set as a whole number from 0 to 50: 2.5, -1 and 51 are refused saying
    what it takes; 12.0 is taken. The settings are shown with the question."""
    w = world
    c = w.client
    staff = {"kind": "number", "text": "How many paid staff?", "minimum": 0, "maximum": 50, "whole_number": True}
    (_, s1), _, exercise_id, need_id, (q,), a = await responding(w, [staff])
    assert (q["minimum"], q["maximum"], q["whole_number"]) == (0, 50, True)
    path = f"/exercises/{exercise_id}/responses"
    need = {"need_id": need_id, "intent": "lead", "service_ids": [s1]}
    for value, got in ((2.5, "2.5"), (-1, "-1"), (51, "51"), ("12", None)):
        r = await c.post(path, headers=a, json={"needs": [need], "answers": [{"question_id": q["id"], "value": value}]})
        assert r.status_code == 422, r.text
        wanted = "a whole number from 0 to 50"
        assert r.json()["errors"] == [
            {"field": "answers[0].value", "problem": f"must be {wanted}; got {got}" if got else f"expected {wanted}"}
        ]
    assert (await c.get(path, headers=w.commissioner)).json()["total"] == 0
    r = await c.post(path, headers=a, json={"needs": [need], "answers": [{"question_id": q["id"], "value": 12.0}]})
    assert r.status_code == 201, r.text
    assert r.json()["answers"] == [{"question_id": q["id"], "value": 12.0}]


async def test_choices_are_kept_trimmed_and_an_answer_matches_its_choice_trimmed(world):
    """A question's choices are kept without their outer spaces ("a" and " a " are one choice: given twice, the
    second is refused naming it, `choices[1]`). A provider's answer names a choice the same way: " 3 years" is the
    choice "3 years" and is kept as the choice is; two ways of writing one choice are one choice given twice; and the
    response sent again, its choices written either way, is no new revision."""
    w = world
    c = w.client
    x = await c.post("/exercises", headers=w.commissioner, json={"title": "Q", "commissioning_body": "B"})
    r = await c.post(
        f"/exercises/{x.json()['id']}/questions",
        headers=w.commissioner,
        json={"kind": "multiple_choice", "text": "Pick", "choices": ["a", "b", " a "]},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "choices[2]", "problem": "the same choice as choices[0] (spaces around a choice do not count)"}
    ]
    (p1, s1), _ = await providers_with(w.dsn, "ACCOM", "E06000020")
    questions = [
        {"kind": "single_choice", "text": "Preferred contract length", "choices": [" 3 years ", "5 years"]},
        {"kind": "multiple_choice", "text": "Payment models", "choices": ["block ", " spot", "pbr"]},
    ]
    exercise_id, need_id = await make_exercise(w, questions=questions)
    qs = (await c.get(f"/exercises/{exercise_id}/questions")).json()
    assert [q["choices"] for q in qs] == [["3 years", "5 years"], ["block", "spot", "pbr"]]
    w.clock.at = DURING
    a = await w.keys.headers("provider", p1)
    need = {"need_id": need_id, "intent": "lead", "service_ids": [s1]}
    twice = [{"question_id": qs[1]["id"], "value": ["block", " block"]}]
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json={"needs": [need], "answers": twice})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "answers[0].value", r.text
    typed = [{"question_id": qs[0]["id"], "value": " 3 years"}, {"question_id": qs[1]["id"], "value": ["spot ", "pbr"]}]
    first = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json={"needs": [need], "answers": typed})
    assert first.status_code == 201, first.text
    assert first.json()["answers"] == [
        {"question_id": qs[0]["id"], "value": "3 years"},
        {"question_id": qs[1]["id"], "value": ["spot", "pbr"]},
    ]
    again = [{"question_id": qs[0]["id"], "value": "3 years "}, {"question_id": qs[1]["id"], "value": ["pbr", "spot"]}]
    path = f"/exercises/{exercise_id}/responses/{p1}"
    r = await c.put(path, headers={**a, "If-Match": '"v1"'}, json={"needs": [need], "answers": again})
    assert r.status_code == 200 and r.headers["etag"] == '"v1"' and r.json() == first.json(), r.text


async def test_publishing_needs_dates_a_need_and_the_current_etag(world):
    w = world
    c, h = w.client, w.commissioner
    x = (await c.post("/exercises", headers=h, json={"title": "Q", "commissioning_body": "B"})).json()
    r = await c.post(f"/exercises/{x['id']}/publish", headers={**h, "If-Match": '"v1"'}, json={})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"opens_on", "closes_on", "needs"}
    assert (await c.post(f"/exercises/{x['id']}/publish", headers=h, json={})).status_code == 428
    assert (
        await c.post(f"/exercises/{x['id']}/publish", headers={**h, "If-Match": '"v9"'}, json={})
    ).status_code == 412
    assert (await c.get(f"/exercises/{x['id']}/notice")).status_code == 404
    assert (await c.get(f"/exercises/{x['id']}/ocds")).status_code == 404
    exercise_id, _ = await make_exercise(w)
    etag = (await c.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
    assert (await c.get(f"/exercises/{exercise_id}", headers=h)).json()["status"] == "engagement_open"
    again = await c.post(f"/exercises/{exercise_id}/publish", headers={**h, "If-Match": etag}, json={})
    assert again.status_code == 409
    # the publishing request's audit rows (the publication and the status it opened) each say what it answered
    conn = await db.connect(w.dsn)
    try:
        rows = await conn.fetch(
            """select detail, status from audit_log where request_id = (select request_id from audit_log
               where detail = $1)""",
            f"published exercise {exercise_id} for market engagement",
        )
    finally:
        await conn.close()
    assert sorted((r["detail"], r["status"]) for r in rows) == [
        (f"published exercise {exercise_id} for market engagement", 201),
        (f"updated exercise {exercise_id}", 201),
    ]


async def test_a_published_exercises_status_follows_its_publication_and_deadline(world):
    """A commissioner could PATCH any status: a published exercise back to draft while its notice stayed public, or
    closed while it still took responses; an unpublished one engagement_open with no notice at all."""
    w = world
    c, h = w.client, w.commissioner
    exercise_id, _ = await make_exercise(w)  # published, closing at the end of 2026-12-31 (London)

    async def status(to: str):
        etag = (await c.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
        return await c.patch(f"/exercises/{exercise_id}", headers={**h, "If-Match": etag}, json={"status": to})

    r = await status("draft")
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "status"
    assert "cannot go back to draft" in r.json()["errors"][0]["problem"]
    r = await status("closed")
    assert (
        r.status_code == 409 and "takes responses until 2027-01-01T00:00:00+00:00" in r.json()["errors"][0]["problem"]
    )
    assert (await c.get(f"/exercises/{exercise_id}", headers=h)).json()["status"] == "engagement_open"
    w.clock.at = AFTER
    r = await status("closed")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = await status("engagement_open")
    assert r.status_code == 409 and "move closes_on later" in r.json()["errors"][0]["problem"]


async def test_what_a_published_notice_shows_cannot_change_but_the_evaluation_settings_can(world):
    """Providers answered the engagement on the notice's needs: the needs evaluated stay those needs. The closing
    date may move later (never earlier); the commissioner's own weights and priorities may change."""
    w = world
    c, h = w.client, w.commissioner
    exercise_id, need_id = await make_exercise(w)

    async def patch(path: str, body: dict):
        etag = (await c.get(path, headers=h)).headers["etag"]
        return await c.patch(path, headers={**h, "If-Match": etag}, json=body)

    before = (await c.get(f"/needs/{need_id}", headers=h)).json()
    for body, field in [
        ({"areas": ["E06000051"]}, "areas"),
        ({"annual_volume": 61}, "annual_volume"),
        ({"annual_budget": 1}, "annual_budget"),
        ({"title": "Something else"}, "title"),
        ({"desired_outcomes": ["ACCOM_KEEP"]}, "desired_outcomes"),
    ]:
        r = await patch(f"/needs/{need_id}", body)
        assert r.status_code == 409, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
        assert "published" in r.json()["errors"][0]["problem"] and "clarification" in r.json()["errors"][0]["problem"]
    assert (await c.get(f"/needs/{need_id}", headers=h)).json() == before  # nothing stored
    notice_need = (await c.get(f"/exercises/{exercise_id}/notice")).json()["needs"][0]
    assert notice_need["areas"] == NEED["areas"] and notice_need["annual_volume"] == NEED["annual_volume"]
    # the commissioner's own evaluation settings
    r = await patch(f"/needs/{need_id}", {"local_priorities": [{"text": "tenancy sustainment", "weight": 1}]})
    assert r.status_code == 200, r.text
    r = await patch(f"/needs/{need_id}", {"weight_overrides": {"pathway_fit": 50, "coverage": 50}})
    assert r.status_code == 200, r.text
    # no need added or taken away
    added = await c.post(f"/exercises/{exercise_id}/needs", headers=h, json=NEED)
    assert added.status_code == 409 and added.json()["errors"][0]["field"] == "needs"
    etag = (await c.get(f"/needs/{need_id}", headers=h)).headers["etag"]
    removed = await c.delete(f"/needs/{need_id}", headers={**h, "If-Match": etag})
    assert removed.status_code == 409 and (await c.get(f"/needs/{need_id}", headers=h)).status_code == 200
    # the exercise: its notice fixed, its closing date later only
    for body, field in [
        ({"title": "Renamed"}, "title"),
        ({"opens_on": "2026-12-02"}, "opens_on"),
        ({"closes_on": "2026-12-30"}, "closes_on"),
        ({"closes_on": None}, "closes_on"),
    ]:
        r = await patch(f"/exercises/{exercise_id}", body)
        assert r.status_code == 409, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
    later = await patch(f"/exercises/{exercise_id}", {"closes_on": "2027-01-15"})
    assert later.status_code == 200, later.text
    assert (await c.get(f"/exercises/{exercise_id}/notice")).json()["closes_on"] == "2027-01-15"
    # its status follows its publication: it closes at its deadline, not while its notice takes responses
    assert (await patch(f"/exercises/{exercise_id}", {"status": "closed"})).status_code == 409


async def test_answers_partners_and_questions_a_response_cannot_hold_are_refused_naming_the_field(world):
    """A text answer is plain text of at most 20,000 characters, a number answer within a trillion either way, a
    partner named once; a blank clarification question is the schema's 400 naming it (the database's check used to
    answer 409, naming its constraint). Nothing is stored."""
    w = world
    c = w.client
    (_p1, s1), (p2, _s2), exercise_id, need_id, qs, a = await responding(w)
    for index, value, words in [
        (0, "x" * 20_001, "20,000 characters or fewer"),
        (0, "a\u0007b", "without control or text-direction characters"),
        (0, "a\u0000b", "without control or text-direction characters"),
        (2, 1e308, "a number from -1,000,000,000,000 to 1,000,000,000,000"),
        (2, -1e13, "from -1,000,000,000,000 to"),
    ]:
        body = response(need_id, s1, qs)
        body["answers"][index]["value"] = value
        r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
        assert r.status_code == 422, r.text
        assert words in {e["field"]: e["problem"] for e in r.json()["errors"]}[f"answers[{index}].value"]
    for partners in (
        [{"provider_id": p2}, {"provider_id": p2}],
        [{"name": "Wrekin Housing Group"}, {"name": "wrekin housing group "}],
    ):
        r = await c.post(
            f"/exercises/{exercise_id}/responses", headers=a, json=response(need_id, s1, qs, partners=partners)
        )
        assert r.status_code == 422, r.text
        assert {e["field"]: e["problem"] for e in r.json()["errors"]}["needs[0].partners[1]"] == (
            "this partner appears twice"
        )
    assert (await c.get(f"/exercises/{exercise_id}/responses", headers=w.commissioner)).json()["total"] == 0
    r = await c.post(f"/exercises/{exercise_id}/clarifications", headers=a, json={"question": " \n\t "})
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["question"]
    assert "at least one visible character" in r.json()["errors"][0]["problem"]


def whole_parts(values: list[float]) -> list[int] | None:
    """The market response's areas' figures as the report rounds them."""
    return matching.largest_remainder(values, round(math.fsum(values)))


def test_whole_parts_add_up_to_the_whole() -> None:
    assert whole_parts([675.0, *[112.5] * 6]) == [675, 113, 113, 113, 112, 112, 112]
    assert sum(whole_parts([230 / 9] * 9) or []) == 230 and sum(whole_parts([350 / 9] * 9) or []) == 350
    assert whole_parts([]) == [] and whole_parts([2.0, 3.0]) == [2, 3]


async def test_the_seeded_market_response_s_areas_add_up_to_each_need_s_offer(read_client, read_keys):
    """The seeded exercise's need 2 offered 1,350 a year, and its areas read 675 + 6 x 112 = 1,347: each area's
    figure was rounded alone."""
    h = await read_keys.headers("commissioner")
    report = (await read_client.get("/exercises/1/report", headers=h)).json()
    needs = report["market_response"]["needs"]
    assert any(any(c["offered_capacity"] for c in n["cells"]) for n in needs)
    for n in needs:
        assert sum(c["offered_capacity"] for c in n["cells"]) == n["offered_capacity"], n


async def test_a_need_changed_while_its_exercise_is_published_is_in_the_notice_or_refused(world):
    """A tester sent PATCH /needs/{id} and POST /exercises/{id}/publish at once: one time in ten both answered 2xx and
    the notice (and its OCDS release, dated at publication) showed the need as changed after it was published. Now a
    need being changed holds its exercise, so publishing waits and shows the change; and a need changed while its
    exercise is being published waits, then is refused (409)."""
    w = world
    h = w.commissioner
    exercise_id, need_id = await draft_exercise(w)
    etag = (await w.client.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]

    async def change_need(conn: asyncpg.Connection) -> None:  # a need being changed: its transaction open
        assert await exercise_queries.lock_need(conn, need_id) is not None
        await conn.execute("update need set title = 'Changed title', version = version + 1 where id = $1", need_id)

    changing = held(w.dsn, change_need, 1.0)
    started = time.monotonic()
    published = await w.client.post(
        f"/exercises/{exercise_id}/publish", headers={**h, "If-Match": etag}, json={"budget_visibility": "shown"}
    )
    waited = time.monotonic() - started
    changing.thread.join()
    assert not changing.failed, changing.failed
    assert published.status_code == 201, published.text
    assert [n["title"] for n in published.json()["needs"]] == ["Changed title"]
    assert waited > 0.5, "published while a need was being changed"

    exercise_id, need_id = await draft_exercise(w)
    etag = (await w.client.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
    actor = Actor(caller=Caller(role="commissioner"), request_id="race", method="POST", path="/publish")

    async def publish(conn: asyncpg.Connection) -> None:  # an exercise being published: its transaction open
        ctx = w.client.app.state.ctx
        await engagement_service.publish(ctx, conn, actor, exercise_id, etag, PublishIn(budget_visibility="shown"))

    publishing = held(w.dsn, publish, 1.0)
    started = time.monotonic()
    changed = await w.client.patch(f"/needs/{need_id}", headers={**h, "If-Match": '"v1"'}, json={"title": "Late"})
    waited = time.monotonic() - started
    publishing.thread.join()
    assert not publishing.failed, publishing.failed
    assert changed.status_code == 409, changed.text
    assert waited > 0.5, "a need changed while its exercise was being published"
    notice = (await w.client.get(f"/exercises/{exercise_id}/notice")).json()
    assert [n["title"] for n in notice["needs"]] == [NEED["title"]]


async def test_capacity_for_a_county_the_services_cover_only_part_of_is_refused_naming_the_districts(world):
    """A tester's district provider (Redditch and Worcester) had to state a Worcestershire figure, which the market
    response then spread over all six districts, four of which it does not serve. A figure for an area is counted
    across all of it, so one for an area the services named cover only part of is refused (422 naming the field and
    the districts they cover); the districts' own figures are taken and count where they are."""
    w = world
    c = w.client
    (p1, s1), _, exercise_id, need_id, _, a = await responding(w, [], {**NEED, "areas": ["E10000034", "E06000020"]})
    districts = await districts_service(c, p1, a)
    body = leading(need_id, [s1, districts], {"E06000020": 20, "E10000034": 60})
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "needs[0].capacity[1].area"
    assert "cover only part of Worcestershire: Redditch and Worcester" in error["problem"], error
    assert error["allowed"] == ["E07000236", "E07000237"]
    # Telford, which a service named covers whole, was never the problem; the districts' own figures are taken
    body["needs"][0]["capacity"][1:] = [
        {"area": "E07000236", "service_users_per_year": 40},
        {"area": "E07000237", "service_users_per_year": 20},
    ]
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert r.status_code == 201, r.text
    (mr,) = (await c.get(f"/exercises/{exercise_id}/report", headers=w.commissioner)).json()["market_response"]["needs"]
    cells = {cell["area"]: (cell["responses"], cell["offered_capacity"]) for cell in mr["cells"]}
    assert cells["E07000236"] == (1, 40) and cells["E07000237"] == (1, 20) and cells["E06000020"] == (1, 20)
    assert cells["E07000234"] == (0, 0), "Bromsgrove, which the provider does not serve, has no offer"


async def test_a_pending_provider_cannot_respond_until_an_admin_publishes_it(world):
    """A tester registered anonymously, got a key for a pending (unchecked) profile and submitted a response, which
    counted in the commissioner's figures. Only published providers respond now (409 saying so); a pending
    provider may still ask a clarification question, which counts in no figure."""
    w = world
    c = w.client
    exercise_id, need_id = await make_exercise(w)
    w.clock.at = DURING
    registered = await c.post("/registrations", json=LANTERNS)
    assert registered.status_code == 201, registered.text
    body = registered.json()
    pid, service_id = body["provider"]["id"], body["provider"]["services"][0]["id"]
    mine = {"Authorization": f"Bearer {body['api_key']['key']}"}
    answer = leading(need_id, [service_id], unit_cost=1500)
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=mine, json=answer)
    assert r.status_code == 409, r.text
    assert "pending" in r.json()["message"] and "must be published before it can respond" in r.json()["message"]
    assert (await c.get(f"/exercises/{exercise_id}/responses", headers=w.commissioner)).json()["total"] == 0
    asked = await c.post(
        f"/exercises/{exercise_id}/clarifications", headers=mine, json={"question": "Is a new provider welcome?"}
    )
    assert asked.status_code == 201, asked.text
    # published by an admin, it responds and counts
    assert (await c.post(f"/providers/{pid}/publish", headers=await w.keys.headers("admin"))).status_code == 200
    r = await c.post(f"/exercises/{exercise_id}/responses", headers=mine, json=answer)
    assert r.status_code == 201, r.text
    mr = (await c.get(f"/exercises/{exercise_id}/report", headers=w.commissioner)).json()["market_response"]
    assert mr["responses"] == 1 and mr["needs"][0]["responses"] == 1


async def test_a_clarification_is_answered_only_with_the_question_as_it_will_be_published(world):
    """A tester's question named the asking provider ("Ask from Wrekin Gateway, our staff list attached") and was
    published word for word because the commissioner answered without `published_question`. Answering now needs it
    (400 naming the field), so what everyone reads is always a text the commissioner wrote or chose."""
    w = world
    c = w.client
    _, _, exercise_id, _, _, a = await responding(w, [])
    asked = await c.post(
        f"/exercises/{exercise_id}/clarifications",
        headers=a,
        json={"question": "Is TUPE expected to apply? Ask from Wrekin Gateway, our staff list attached."},
    )
    assert asked.status_code == 201, asked.text
    path = f"/exercises/{exercise_id}/clarifications/{asked.json()['id']}/answer"
    r = await c.post(path, headers=w.commissioner, json={"answer": "No staff transfer is expected."})
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["field"] == "published_question"
    assert (await c.get(f"/exercises/{exercise_id}/clarifications")).json() == []  # nothing published
    r = await c.post(
        path,
        headers=w.commissioner,
        json={"answer": "No staff transfer is expected.", "published_question": "Is TUPE expected to apply?"},
    )
    assert r.status_code == 200, r.text
    (public,) = (await c.get(f"/exercises/{exercise_id}/notice")).json()["clarifications"]
    assert public["question"] == "Is TUPE expected to apply?" and "Wrekin" not in json.dumps(public)


async def test_revising_a_response_naming_a_service_since_removed_says_it_was_removed(world):
    """A tester removed a service its submitted response named; the next revision sent as it stood was a 422 "not
    one of your services", without saying why. It now says the service was removed from the profile (by its name
    as the response's snapshot held it), and the response's page marks it."""
    w = world
    c = w.client
    (p1, s1), _, exercise_id, need_id, _, a = await responding(w, [])
    gone = await add_service(c, p1, a, "Telford night shelter", "Night shelter beds.", ["E06000020"])
    body = leading(need_id, [s1, gone], unit_cost=1500)
    made = await c.post(f"/exercises/{exercise_id}/responses", headers=a, json=body)
    assert made.status_code == 201, made.text
    etag = (await c.get(f"/providers/{p1}/services/{gone}", headers=a)).headers["etag"]
    removed = await c.delete(f"/providers/{p1}/services/{gone}", headers={**a, "If-Match": etag})
    assert removed.status_code == 204, removed.text
    body["needs"][0]["unit_cost"] = 1400
    r = await c.put(
        f"/exercises/{exercise_id}/responses/{p1}", headers={**a, "If-Match": made.headers["etag"]}, json=body
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "needs[0].service_ids[1]"
    assert f"service {gone} (Telford night shelter) has been removed from your profile" in error["problem"]
    assert s1 in error["allowed"]
    # a number that was never the provider's is still just not one of its services
    body["needs"][0]["service_ids"] = [s1, 99999999]
    r = await c.put(
        f"/exercises/{exercise_id}/responses/{p1}", headers={**a, "If-Match": made.headers["etag"]}, json=body
    )
    assert r.status_code == 422 and r.json()["errors"][0]["problem"] == "not one of your services", r.text
    # the response's page marks the service as removed
    from test_console import sign_in

    _, key = await w.keys.make("commissioner")
    await sign_in(c, key)
    page = await c.get(f"/console/exercises/{exercise_id}/responses/{p1}")
    assert page.status_code == 200
    assert 'Telford night shelter <strong class="tag tag--red">removed from the profile since</strong>' in page.text


async def test_an_archived_provider_s_response_is_listed_not_counted_and_it_may_still_withdraw(world):
    """A tester's archived provider kept counting in the market response, and the README said an archived provider
    "answers no market engagement" although withdrawing worked. Its submitted response is now left out of every
    figure and listed as not counted, with why (JSON and HTML); it may still withdraw it (and not revise it)."""
    w = world
    c = w.client
    (p1, s1), (p2, s2) = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, need_id = await make_exercise(w)
    w.clock.at = DURING
    a, b = await w.keys.headers("provider", p1), await w.keys.headers("provider", p2)
    etags = {}
    for key, sid, pid in ((a, s1, p1), (b, s2, p2)):
        body = leading(need_id, [sid], {"E06000020": 30}, unit_cost=1500)
        r = await c.post(f"/exercises/{exercise_id}/responses", headers=key, json=body)
        assert r.status_code == 201, r.text
        etags[pid] = (r.headers["etag"], body)
    archived = await c.post(f"/providers/{p1}/archive", headers=await w.keys.headers("admin"))
    assert archived.status_code == 200, archived.text
    report = f"/exercises/{exercise_id}/report"
    mr = (await c.get(report, headers=w.commissioner)).json()["market_response"]
    assert mr["responses"] == 1
    (need,) = mr["needs"]
    assert (need["responses"], need["offered_capacity"]) == (1, 30)
    (left_out,) = mr["not_counted"]
    assert (left_out["provider_id"], left_out["status"]) == (p1, "archived")
    assert "not counted" in left_out["reason"]
    html = (await c.get(report, headers=w.commissioner, params={"format": "html"})).text
    assert "Not counted in any figure below" in html and "archived (out of the directory) since responding" in html
    # archived, it cannot revise its response (409), but it may withdraw it
    etag, body = etags[p1]
    path = f"/exercises/{exercise_id}/responses/{p1}"
    assert (await c.put(path, headers={**a, "If-Match": etag}, json=body)).status_code == 409
    withdrawn = await c.post(f"{path}/withdraw", headers={**a, "If-Match": etag})
    assert withdrawn.status_code == 200, withdrawn.text
    mr = (await c.get(report, headers=w.commissioner)).json()["market_response"]
    assert (mr["responses"], mr["withdrawn"], mr["not_counted"]) == (1, 1, [])


async def test_a_response_not_counted_is_a_row_of_the_report_s_csv_and_workbook_with_when_and_why(world):
    """A tester auditing the market response from the spreadsheet could not see that a response was left out: the
    JSON and HTML list a response whose provider was archived since (or is pending) as not counted, but the CSV and
    the xlsx made from it did not. Each is now a `not_counted_response` row (a `not_counted_responses` sheet): the
    provider, when the response was submitted, the provider's status and why; the columns before stay as they were,
    and a report frozen before keeps its stored bytes."""
    from openpyxl import load_workbook

    from marketplace.reports.spreadsheet import CSV_HEADER

    w = world
    c = w.client
    (p1, s1), (p2, s2) = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, need_id = await make_exercise(w)
    w.clock.at = DURING
    for pid, sid in ((p1, s1), (p2, s2)):
        body = leading(need_id, [sid], {"E06000020": 30}, unit_cost=1500)
        r = await c.post(
            f"/exercises/{exercise_id}/responses", headers=await w.keys.headers("provider", pid), json=body
        )
        assert r.status_code == 201, r.text
    assert (await c.post(f"/exercises/{exercise_id}/match", headers=w.commissioner)).status_code == 201
    frozen_before = await c.post(f"/exercises/{exercise_id}/reports", headers=w.commissioner)
    assert frozen_before.status_code == 201, frozen_before.text
    w.clock.at = DURING + dt.timedelta(days=1)
    archived = await c.post(f"/providers/{p1}/archive", headers=await w.keys.headers("admin"))
    assert archived.status_code == 200, archived.text
    report = f"/exercises/{exercise_id}/report"
    (left_out,) = (await c.get(report, headers=w.commissioner)).json()["market_response"]["not_counted"]
    assert left_out["submitted_at"] == "2026-12-10T12:00:00Z"

    text = (await c.get(report, headers=w.commissioner, params={"format": "csv"})).content.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert header == CSV_HEADER
    later = [header.index(c) for c in ("submitted_at", "not_counted_reason", "barrier_notes", "question_id", "answer")]
    assert later == sorted(later) and later[-1] == len(header) - 1  # columns added later stand at the end, in turn
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    (row,) = [r for r in rows if r["row_type"] == "not_counted_response"]
    assert row["provider_id"] == str(p1) and row["provider_name"] == left_out["name"]
    assert (row["submitted_at"], row["provider_status"]) == ("2026-12-10T12:00:00Z", "archived")
    assert row["not_counted_reason"] == left_out["reason"] and "not counted" in row["not_counted_reason"]
    assert rows[-1] is row  # after every row there was before, which keep the new columns empty
    assert all(r["submitted_at"] == r["not_counted_reason"] == "" for r in rows if r is not row)
    (need_row,) = [r for r in rows if r["row_type"] == "response_need"]
    assert (need_row["responses"], need_row["offered_capacity"], need_row["provider_id"]) == ("1", "30", "")

    xlsx = (await c.get(report, headers=w.commissioner, params={"format": "xlsx"})).content
    book = load_workbook(io.BytesIO(xlsx))
    (listed,) = list(book["not_counted_responses"].iter_rows(min_row=2, values_only=True))
    cells = dict(zip(header, listed, strict=True))
    assert (cells["provider_id"], cells["provider_name"], cells["provider_status"]) == (
        p1,
        left_out["name"],
        "archived",
    )
    assert cells["submitted_at"] == "2026-12-10T12:00:00Z" and cells["not_counted_reason"] == left_out["reason"]

    # a report frozen before the provider was archived is served as it was stored, byte for byte
    location = frozen_before.headers["location"]
    conn = await db.connect(w.dsn)
    try:
        stored = await conn.fetchval("select report_csv from frozen_report where id = $1", int(location.split("/")[-1]))
    finally:
        await conn.close()
    served = (await c.get(location, headers=w.commissioner, params={"format": "csv"})).content
    assert served == bytes(stored) and b"\r\nnot_counted_response," not in served


async def test_the_report_summarises_the_answers_to_the_questions_and_the_csv_lists_each(client, keys):
    """Answers to the exercise's questions (the preferred contract length, payment models, staff, mobilising) were in
    no report or export: only one response at a time. The market report counts each choice, yes and no, gives the
    numbers' range and median, lists every answer by provider, and the CSV has a row for each."""
    staff = await keys.headers("commissioner")
    responses = (await client.get("/exercises/1/responses", headers=staff, params={"per_page": 100})).json()["items"]
    questions = (await client.get("/exercises/1/questions", headers=staff)).json()
    counted = [r for r in responses if r["status"] == "submitted"]
    assert counted and all(r["answers"] for r in counted), "the sample's responses answer its questions"
    report = (await client.get("/exercises/1/report", headers=staff)).json()
    summaries = {q["question_id"]: q for q in report["market_response"]["questions"]}
    assert [q["question_id"] for q in report["market_response"]["questions"]] == [q["id"] for q in questions]
    for q in questions:
        given = [a["value"] for r in counted for a in r["answers"] if a["question_id"] == q["id"]]
        summary = summaries[q["id"]]
        assert summary["answered"] == len(given) == len(summary["answers"]), q
        if q["kind"] == "yes_no":
            assert summary["counts"] == {"yes": given.count(True), "no": given.count(False)}
        elif q["kind"] == "single_choice":
            assert summary["counts"] == {c: given.count(c) for c in q["choices"]}
        elif q["kind"] == "multiple_choice":
            assert summary["counts"] == {c: sum(c in v for v in given) for c in q["choices"]}
        elif q["kind"] == "number":
            assert (summary["minimum"], summary["maximum"]) == (min(given), max(given))
    html = (await client.get("/exercises/1/report", headers=staff, params={"format": "html"})).text
    assert "Answers to the questions" in html
    rows = list(
        csv.DictReader(
            io.StringIO(
                (await client.get("/exercises/1/report", headers=staff, params={"format": "csv"})).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    answers = [r for r in rows if r["row_type"] == "response_answer"]
    assert len(answers) == sum(len(r["answers"]) for r in counted)
    yes_no = next(q for q in questions if q["kind"] == "yes_no")
    one = next(r for r in counted if any(a["question_id"] == yes_no["id"] for a in r["answers"]))
    said = next(a["value"] for a in one["answers"] if a["question_id"] == yes_no["id"])
    (row,) = [
        x for x in answers if x["question_id"] == str(yes_no["id"]) and x["provider_id"] == str(one["provider_id"])
    ]
    assert (row["question"], row["question_kind"], row["answer"]) == (yes_no["text"], "yes_no", "yes" if said else "no")
    # the workbook shows them once, as the CSV's rows
    from openpyxl import load_workbook

    xlsx = (await client.get("/exercises/1/report", headers=staff, params={"format": "xlsx"})).content
    names = load_workbook(io.BytesIO(xlsx), read_only=True).sheetnames
    assert "response_answers" in names and "market_response questions" not in names, names


def test_capacity_offered_for_a_county_is_spread_over_its_districts_by_population_as_the_grid_spreads_users():
    """Capacity offered for a whole county was split evenly over its districts while the report's grid beside it
    split the expected service users by population: Malvern Hills showed 30 offered against 26 expected, where a
    population split gives 24. Both now go by population (evenly only without population figures)."""
    people = {"county": 0, "big": 300, "small": 100}
    tree = matching.AreaTree({"county": None, "big": "county", "small": "county"}, population=people)
    shares = {leaf: engagement_service.leaf_share(tree, "county", leaf) for leaf in ("big", "small")}
    assert shares == {"big": 0.75, "small": 0.25}
    assert engagement_service.leaf_share(tree, "small", "small") == 1.0
    flat = matching.AreaTree({"county": None, "big": "county", "small": "county"})
    assert engagement_service.leaf_share(flat, "county", "big") == 0.5


def test_two_providers_naming_each_other_are_one_consortium_led_by_the_one_that_said_it_would_lead():
    """Kingfisher (intent lead, partner Meadowsweet) and Meadowsweet (intent partner, partner Kingfisher) showed as
    two consortia, one of them "led" by Meadowsweet, which said it would be a partner."""
    from marketplace.engagement.models import ConsortiumPartner, NeedResponse, Response

    def response(pid: int, name: str, intent: str) -> tuple[Response, NeedResponse]:
        said = NeedResponse(need_id=7, intent=intent)  # type: ignore[arg-type]
        at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        return Response(1, pid, name, "submitted", 1, at, None, [said], []), said

    kingfisher, meadowsweet, heron = (
        response(4, "Kingfisher Trust", "lead"),
        response(22, "Meadowsweet", "partner"),
        response(9, "Heron CIC", "partner"),
    )
    both = engagement_service.consortia_of(
        [
            (*meadowsweet, [ConsortiumPartner("Kingfisher Trust", 4)]),  # the partner's response came first
            (*kingfisher, [ConsortiumPartner("Meadowsweet", 22)]),
            (*heron, [ConsortiumPartner("Outside Counselling Ltd")]),
        ]
    )
    assert [(c.lead_name, c.partner_names, c.declared_by, c.lead_declared) for c in both] == [
        ("Kingfisher Trust", ["Meadowsweet"], [22, 4], True),
        ("Heron CIC", ["Outside Counselling Ltd"], [9], False),
    ]
    assert both[0].in_words == "Kingfisher Trust with Meadowsweet (declared by both)"
    assert both[1].in_words == (
        "Heron CIC with Outside Counselling Ltd (no member said it would lead; Heron CIC declared it as a partner)"
    )


async def test_a_marked_closed_exercise_s_deadline_moves_later_only_as_it_opens_again(world: World) -> None:
    """An exercise marked closed after its deadline keeps the deadline it closed at: moving it later alone would take
    responses again under a closed status (409 naming closes_on, nothing stored); given with status engagement_open,
    it opens again."""
    w = world
    c, h = w.client, w.commissioner
    exercise_id, _ = await make_exercise(w)  # closes on 31 December 2026
    w.clock.at = AFTER

    async def patch(changes: dict) -> Any:
        etag = (await c.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
        return await c.patch(f"/exercises/{exercise_id}", headers={**h, "If-Match": etag}, json=changes)

    closed = await patch({"status": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    moved = await patch({"closes_on": "2027-02-26"})
    assert moved.status_code == 409, moved.text
    assert [e["field"] for e in moved.json()["errors"]] == ["closes_on"] and "engagement_open" in moved.text
    notice = (await c.get(f"/exercises/{exercise_id}/notice")).json()
    assert (notice["closes_on"], notice["state"]) == ("2026-12-31", "closed")
    reopened = await patch({"closes_on": "2027-02-26", "status": "engagement_open"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "engagement_open", reopened.text
    assert (await c.get(f"/exercises/{exercise_id}/notice")).json()["state"] == "open"
