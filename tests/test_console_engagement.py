"""The console's market-engagement and options-appraisal pages (issue 17, after issues 14 and 15) through the real
app on real PostgreSQL: a provider responds through the form (the API's problems beside the fields), revises,
meets a conflict, withdraws, asks a clarification and is refused after the deadline; it cannot read another
provider's response; a commissioner reads the responses and answers a clarification; appraisal pages are for staff."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from html import unescape

import pytest
from test_console import sign_in
from test_engagement import (
    AFTER,
    DURING,
    LANTERNS,
    NEED,
    QUESTIONS,
    World,
    districts_service,
    draft_exercise,
    make_exercise,
    providers_with,
    world_on,
)

from marketplace import db
from marketplace.console.routes import NO_NEED_ANSWERED
from marketplace.engagement.service import budget_band
from marketplace.formatting import pounds


@pytest.fixture
async def world(fresh_db: str) -> AsyncIterator[World]:
    """As test_engagement's: the app on a fresh database with a clock the test moves."""
    async with world_on(fresh_db) as w:
        yield w


def fid(name: str) -> str:
    return "f-" + name.replace(".", "-")


async def ready(w: World) -> tuple[int, int, list[dict], int, int, int]:
    """A published exercise (one need in Telford, the questions), open now; two providers with a service there."""
    (p1, s1), (p2, _) = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, need_id = await make_exercise(w, questions=QUESTIONS)
    w.clock.at = DURING
    qs = (await w.client.get(f"/exercises/{exercise_id}/notice")).json()["questions"]
    return exercise_id, need_id, qs, p1, s1, p2


async def provider_signed_in(w: World, provider_id: int) -> tuple[str, dict[str, str]]:
    """A new key of the provider signed in to the console: the session's CSRF token, and the key's API headers."""
    _, key = await w.keys.make("provider", provider_id)
    return await sign_in(w.client, key), {"Authorization": f"Bearer {key}"}


def good_form(csrf: str, need_id: int, service_id: int, qs: list[dict], **changes: str) -> dict[str, str]:
    n = f"need.{need_id}"
    form = {
        "csrf_token": csrf,
        "revision": "",
        f"{n}.intent": "lead",
        f"{n}.service.{service_id}": "on",
        f"{n}.capacity.E06000020": "30",
        f"{n}.unit_cost": "1800",
        f"{n}.barrier.tupe": "on",
        f"{n}.barriers_text": "TUPE liabilities are unclear.",
        f"answer.{qs[0]['id']}": "Ten years of supported housing in Telford.",
        f"answer.{qs[1]['id']}": "yes",
        f"answer.{qs[2]['id']}": "12",
        f"answer.{qs[3]['id']}": "5 years",
        f"answer.{qs[4]['id']}.0": "on",
        f"answer.{qs[4]['id']}.2": "on",
    }
    return form | changes


async def test_a_provider_responds_revises_withdraws_and_asks_through_the_console(world: World) -> None:
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, p2 = await ready(w)
    csrf, api = await provider_signed_in(w, p1)

    listed = await c.get("/console/open-exercises")
    assert listed.status_code == 200 and f'href="/console/exercises/{exercise_id}/notice"' in listed.text
    notice = await c.get(f"/console/exercises/{exercise_id}/notice")
    assert notice.status_code == 200
    assert (
        "Accommodation for adults in Telford" in notice.text and "The end of 31 December 2026, UK time" in notice.text
    )
    blank = await c.get(f"/console/exercises/{exercise_id}/respond")
    assert blank.status_code == 200 and f'name="need.{need_id}.service.{s1}"' in blank.text
    # only services in the need's pathway are offered: a response may name no other
    own = (await c.get(f"/providers/{p1}/services", headers=api)).json()
    elsewhere = [s["id"] for s in own if s["pathway"] != "ACCOM" and s["status"] == "active"]
    assert elsewhere, "the provider has an active service in another pathway"
    assert not any(f'name="need.{need_id}.service.{k}"' in blank.text for k in elsewhere)

    # a cost that is not a number: the API's problem beside the field, in the summary, nothing stored
    bad = await c.post(
        f"/console/exercises/{exercise_id}/respond",
        data=good_form(csrf, need_id, s1, qs, **{f"need.{need_id}.unit_cost": "lots"}),
    )
    assert bad.status_code == 400
    assert f'href="#{fid(f"need.{need_id}.unit_cost")}"' in bad.text
    assert f'id="{fid(f"need.{need_id}.unit_cost")}-error"' in bad.text
    assert "indicative cost per person" in bad.text and 'value="lots"' in bad.text
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404

    # an answer over its word limit, and no service named: each beside its own field
    long = " ".join(["word"] * 11)
    form = good_form(csrf, need_id, s1, qs, **{f"answer.{qs[0]['id']}": long})
    del form[f"need.{need_id}.service.{s1}"]
    bad = await c.post(f"/console/exercises/{exercise_id}/respond", data=form)
    assert bad.status_code == 400
    assert f'id="{fid("answer." + str(qs[0]["id"]))}-error"' in bad.text and "over the limit of 10" in bad.text
    assert f'id="{fid(f"need.{need_id}.services")}-error"' in bad.text
    assert "name at least one of your services" in bad.text
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404

    c.follow_redirects = False
    done = await c.post(f"/console/exercises/{exercise_id}/respond", data=good_form(csrf, need_id, s1, qs))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/console/exercises/{exercise_id}/responses/{p1}?saved=1"
    stored = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert stored["revision"] == 1
    (n,) = stored["needs"]
    assert (n["intent"], n["service_ids"], n["unit_cost"], n["barriers"]) == ("lead", [s1], 1800, ["tupe"])
    assert n["capacity"] == [{"area": "E06000020", "service_users_per_year": 30}]
    assert [a["value"] for a in stored["answers"]] == [
        "Ten years of supported housing in Telford.",
        True,
        12,
        "5 years",
        ["block", "pbr"],
    ]
    shown = await c.get(done.headers["location"])
    assert shown.status_code == 200 and "Your response has been saved" in shown.text and "£1,800" in shown.text

    # the form opens with what was said; revising needs the revision it was opened at
    again = await c.get(f"/console/exercises/{exercise_id}/respond")
    assert 'name="revision" value="1"' in again.text and 'value="1800"' in again.text
    revised = await c.post(
        f"/console/exercises/{exercise_id}/respond",
        data=good_form(
            csrf,
            need_id,
            s1,
            qs,
            revision="1",
            **{f"need.{need_id}.unit_cost": "1700", f"need.{need_id}.barriers_text": "Revised elsewhere."},
        ),
    )
    assert revised.status_code == 303, revised.text
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()["revision"] == 2
    stale = await c.post(
        f"/console/exercises/{exercise_id}/respond",
        data=good_form(csrf, need_id, s1, qs, revision="1", **{f"need.{need_id}.unit_cost": "1"}),
    )
    assert stale.status_code == 409 and "This was changed since you opened it" in stale.text
    assert 'name="revision" value="2"' in stale.text
    # what changed since, in plain words; the field typed over is kept, the field left as opened shows theirs
    assert re.search(
        r"<th scope=\"row\">Accommodation for adults in Telford: indicative cost per person</th>"
        r"<td>1800</td><td>1700</td>",
        stale.text,
    )
    assert (
        f'id="{fid(f"need.{need_id}.unit_cost")}" name="need.{need_id}.unit_cost" type="text" value="1"' in stale.text
    )
    assert ">Revised elsewhere.</textarea>" in stale.text
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()["needs"][0][
        "unit_cost"
    ] == 1700

    # another provider's response is not this provider's to read (as the API: 403)
    _, other = await w.keys.make("provider", p2)
    assert (
        await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers={"Authorization": f"Bearer {other}"})
    ).status_code == 403
    assert (await c.get(f"/console/exercises/{exercise_id}/responses/{p2}")).status_code == 403

    # a clarification question: an empty one beside its field; then sent, private until answered
    empty = await c.post(f"/console/exercises/{exercise_id}/clarifications", data={"csrf_token": csrf, "question": " "})
    assert empty.status_code == 400 and 'id="f-question-error"' in empty.text
    assert "Your clarification question: must not be empty" in empty.text  # the form's words, not "question:"
    asked = await c.post(
        f"/console/exercises/{exercise_id}/clarifications",
        data={"csrf_token": csrf, "question": "Would a bid for part of Telford be accepted?"},
    )
    assert asked.status_code == 303
    mine = await c.get(f"/console/exercises/{exercise_id}/notice")
    assert "Your questions awaiting an answer" in mine.text and "part of Telford" in mine.text

    withdrawn = await c.post(f"/console/exercises/{exercise_id}/withdraw", data={"csrf_token": csrf, "revision": "2"})
    assert withdrawn.status_code == 303
    now = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert (now["status"], now["revision"]) == ("withdrawn", 3)

    # after the deadline: the API's own message, nothing stored
    w.clock.at = AFTER
    late = await c.post(
        f"/console/exercises/{exercise_id}/respond", data=good_form(csrf, need_id, s1, qs, revision="3")
    )
    assert late.status_code == 409 and "has passed" in late.text and 'class="error-summary"' in late.text
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()["revision"] == 3


async def test_a_need_s_bid_question_can_be_left_unanswered_again_and_answering_none_says_what_to_do(
    world: World,
) -> None:
    """A reviewer read "Leave all unticked to say nothing about this need" above radio buttons, which cannot be
    unticked once one is chosen, and sending none was told "would you bid: must have at least one item". The choices
    end with "No answer for this need", chosen when the form opens; answering no need says what to do beside it."""
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    csrf, api = await provider_signed_in(w, p1)
    blank = (await c.get(f"/console/exercises/{exercise_id}/respond")).text
    name = f"need.{need_id}.intent"
    radios = re.findall(rf'name="{re.escape(name)}" type="radio" value="([^"]*)"( checked)?>', blank)
    assert radios == [("lead", ""), ("partner", ""), ("either", ""), ("not_interested", ""), ("", " checked")]
    assert "Leave all unticked" not in blank
    form = good_form(csrf, need_id, s1, qs, **{name: ""})  # "No answer": the need left out
    refused = await c.post(f"/console/exercises/{exercise_id}/respond", data=form)
    assert refused.status_code == 400
    said = re.findall(r'<p class="error-message" id="(f-[^"]+)-error">.*?</span> (.*?)</p>', refused.text)
    assert said == [(fid(name), NO_NEED_ANSWERED)], said
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404


async def test_the_response_form_is_there_only_while_responses_are_open(world: World) -> None:
    """A reviewer opened the response form of an exercise published but not open yet (by its address): the whole
    form showed, every need saying none of the provider's services fits (the matching needs are read off the open
    exercises), and was refused once filled in. Before it opens and after its deadline the page says when responses
    open or that they closed, without the form."""
    w, c = world, world.client
    (p1, _), _ = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, _ = await make_exercise(w, questions=QUESTIONS)
    await provider_signed_in(w, p1)
    path = f"/console/exercises/{exercise_id}/respond"
    early = (await c.get(path)).text
    assert "Responses open on 1 December 2026" in early and f'action="{path}"' not in early
    w.clock.at = DURING
    during = (await c.get(path)).text
    assert f'action="{path}"' in during and 'id="not-open"' not in during and "Matches your services" in during
    w.clock.at = AFTER
    late = (await c.get(path)).text
    assert "Responses closed at the end of 31 December 2026" in late and f'action="{path}"' not in late


async def test_a_commissioner_reads_responses_and_answers_a_clarification(world: World) -> None:
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    provider = await w.keys.headers("provider", p1)
    body = {
        "needs": [{"need_id": need_id, "intent": "either", "service_ids": [s1], "unit_cost": 1900}],
        "answers": [
            {"question_id": qs[0]["id"], "value": "Supported housing."},
            {"question_id": qs[1]["id"], "value": False},
        ],
    }
    assert (await c.post(f"/exercises/{exercise_id}/responses", headers=provider, json=body)).status_code == 201
    asked = await c.post(
        f"/exercises/{exercise_id}/clarifications", headers=provider, json={"question": "Is TUPE likely to apply?"}
    )
    clarification_id = asked.json()["id"]

    _, key = await w.keys.make("commissioner", name="Cora Commissioner")
    csrf = await sign_in(c, key)
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert page.status_code == 200
    name = (await c.get(f"/providers/{p1}")).json()["name"]
    assert "Market engagement" in page.text and "Open" in page.text
    assert f'href="/console/exercises/{exercise_id}/responses/{p1}"' in page.text and "lead or partner" in page.text
    assert f'href="/console/exercises/{exercise_id}/report?format=html#market-response"' in page.text
    assert "Is TUPE likely to apply?" in page.text
    detail = await c.get(f"/console/exercises/{exercise_id}/responses/{p1}")
    assert detail.status_code == 200 and name in detail.text and "£1,900" in detail.text
    assert "Supported housing." in detail.text and "Submitted" in detail.text

    field = f"c{clarification_id}.answer"
    path = f"/console/exercises/{exercise_id}/clarifications/{clarification_id}/answer"
    # the question as it will be published first, then the answer, as they are read on the notice
    at = {k: page.text.index(f'name="c{clarification_id}.{k}"') for k in ("published_question", "answer")}
    assert at["published_question"] < at["answer"]
    empty = await c.post(path, data={"csrf_token": csrf, field: ""})
    assert empty.status_code == 400 and f'id="{fid(field)}-error"' in empty.text
    assert f"Answer to clarification {clarification_id}:" in empty.text
    # the question as everyone will read it must be given: left empty, nothing is published
    unworded = await c.post(
        path, data={"csrf_token": csrf, field: "It may.", f"c{clarification_id}.published_question": ""}
    )
    assert unworded.status_code == 400
    assert f'id="{fid(f"c{clarification_id}.published_question")}-error"' in unworded.text
    # said as what to put in it, under the label the form gives it (it said "Clarification N as published: fill this
    # in too: what else you entered beside it needs it")
    assert (
        f"Clarification {clarification_id}: the question as everyone will read it: enter the question as every "
        "provider will read it" in unescape(unworded.text)
    )
    assert f"Clarification {clarification_id}, asked" in unworded.text
    assert (await c.get(f"/exercises/{exercise_id}/notice")).json()["clarifications"] == []
    c.follow_redirects = False
    done = await c.post(
        path,
        data={
            "csrf_token": csrf,
            field: "It may: the incumbent's staff could transfer.",
            f"c{clarification_id}.published_question": "Will TUPE apply?",
        },
    )
    assert done.status_code == 303, done.text
    published = (await c.get(f"/exercises/{exercise_id}/notice")).json()["clarifications"]
    assert [(x["question"], x["answer"]) for x in published] == [
        ("Will TUPE apply?", "It may: the incumbent's staff could transfer.")
    ]
    twice = await c.post(
        path, data={"csrf_token": csrf, field: "Again.", f"c{clarification_id}.published_question": "?"}
    )
    assert twice.status_code == 409 and "already answered" in twice.text
    conn = await db.connect(w.dsn)
    try:
        audited = await conn.fetchval(
            "select count(*) from audit_log where detail like 'answered and published clarification ' || $1 || ' %'",
            str(clarification_id),
        )
    finally:
        await conn.close()
    assert audited == 1


def status_row(html: str) -> str:
    """The exercise page's Status row's value (the one row saying where the exercise stands)."""
    found = re.findall(
        r'<dt class="summary-list__key">(Status|State)</dt><dd class="summary-list__value">([^<]*)</dd>', html
    )
    assert [k for k, _ in found] == ["Status"], found
    return found[0][1]


async def test_the_exercise_page_says_where_the_exercise_stands_once(world: World) -> None:
    """A reviewer read both "Status: Engagement open" (the exercise's stored status) and "State: Open" (its notice's,
    by its dates) on a commissioner's exercise page. One Status row now says both in words: a draft, published but
    not open yet (from when), taking responses (until when), past its deadline but not marked closed, closed; and the
    list of exercises says the same, not "Engagement open" for one that opens later."""
    w, c = world, world.client
    draft_id, _ = await draft_exercise(w)
    exercise_id, _ = await make_exercise(w)
    _, key = await w.keys.make("commissioner")
    await sign_in(c, key)

    async def said(x: int) -> str:
        page = await c.get(f"/console/exercises/{x}")
        assert page.status_code == 200 and "Engagement open" not in page.text
        return status_row(page.text)

    async def listed(x: int) -> str:  # the list of exercises says the same, shorter
        page = await c.get("/console/exercises")
        assert page.status_code == 200 and "Engagement open" not in page.text
        [status] = re.findall(rf'href="/console/exercises/{x}">.*?<td data-label="Status">(.*?)</td>', page.text)
        return unescape(status)

    assert await said(draft_id) == "Draft: not published for market engagement"
    assert await listed(draft_id) == "Draft"
    assert await said(exercise_id) == "Published for market engagement: taking responses from 1 December 2026"
    assert await listed(exercise_id) == "Published: taking responses from 1 December 2026"
    w.clock.at = DURING
    assert await said(exercise_id) == "Open for market engagement: taking responses until the end of 31 December 2026"
    assert await listed(exercise_id) == "Open: taking responses until the end of 31 December 2026"
    w.clock.at = AFTER
    assert await said(exercise_id) == "Deadline passed: no longer taking responses (not marked closed yet)"
    assert await listed(exercise_id) == "Deadline passed (not marked closed yet)"
    h = w.commissioner
    etag = (await c.get(f"/exercises/{exercise_id}", headers=h)).headers["etag"]
    closed = await c.patch(f"/exercises/{exercise_id}", headers={**h, "If-Match": etag}, json={"status": "closed"})
    assert closed.status_code == 200, closed.text
    assert await said(exercise_id) == "Closed: no longer taking responses"
    assert await listed(exercise_id) == "Closed"


async def test_a_provider_s_open_exercises_list_links_to_its_response_as_well_as_revising(world: World) -> None:
    """Once a provider had responded, its Open exercises row offered Revise but no way to its response's page,
    where Withdraw is. The row now offers View (the response, with Withdraw) and Revise, each naming the exercise
    to a screen reader."""
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    csrf, _ = await provider_signed_in(w, p1)
    title = (await c.get(f"/exercises/{exercise_id}/notice")).json()["title"]
    view = f'href="/console/exercises/{exercise_id}/responses/{p1}"'
    before = await c.get("/console/open-exercises")
    assert before.status_code == 200 and view not in before.text
    made = await c.post(f"/console/exercises/{exercise_id}/respond", data=good_form(csrf, need_id, s1, qs))
    assert made.status_code == 303, made.text

    listed = await c.get("/console/open-exercises")
    assert listed.status_code == 200
    assert f'<a {view}>View<span class="visually-hidden"> your response to {title}</span></a>' in listed.text
    revise = f'href="/console/exercises/{exercise_id}/respond"'
    assert f'<a {revise}>Revise<span class="visually-hidden"> your response to {title}</span></a>' in listed.text
    response = await c.get(f"/console/exercises/{exercise_id}/responses/{p1}")
    assert response.status_code == 200 and "Withdraw your response" in response.text


async def test_a_provider_that_withdrew_its_response_sees_it_withdrawn_on_its_open_exercises_row(world: World) -> None:
    """A provider that had withdrawn its response saw *Respond* on its Open exercises row, as if it had never
    responded, with no way to the response's page (what it said, its revisions). The row now says *Withdrawn*, with
    *View* (the response) and *Submit again* (the form); while its profile is archived, *Withdrawn* and *View* only."""
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    csrf, _ = await provider_signed_in(w, p1)
    title = (await c.get(f"/exercises/{exercise_id}/notice")).json()["title"]
    hidden = f'<span class="visually-hidden"> your response to {title}</span></a>'
    view = f'<a href="/console/exercises/{exercise_id}/responses/{p1}">View{hidden}'
    respond = f'href="/console/exercises/{exercise_id}/respond"'
    again = f"<a {respond}>Submit again{hidden}"
    withdrawn = '<strong class="tag tag--red">Withdrawn</strong>'
    made = await c.post(f"/console/exercises/{exercise_id}/respond", data=good_form(csrf, need_id, s1, qs))
    assert made.status_code == 303, made.text
    gone = await c.post(f"/console/exercises/{exercise_id}/withdraw", data={"csrf_token": csrf, "revision": "1"})
    assert gone.status_code == 303, gone.text

    async def row() -> str:
        """The exercise's row of the provider's Open exercises (the sample exercise may be listed too)."""
        listed = await c.get("/console/open-exercises")
        assert listed.status_code == 200
        found = re.search(rf'<tr>\s*<td><a href="/console/exercises/{exercise_id}/notice">.*?</tr>', listed.text, re.S)
        assert found is not None
        return found.group(0)

    shown = await row()
    assert withdrawn in shown and view in shown and again in shown
    assert ">Respond<" not in shown and ">Revise<" not in shown and "Responded" not in shown

    admin = await w.keys.headers("admin")
    assert (await c.post(f"/providers/{p1}/archive", headers=admin)).status_code == 200
    shown = await row()
    assert withdrawn in shown and view in shown and respond not in shown

    assert (await c.post(f"/providers/{p1}/publish", headers=admin)).status_code == 200
    made = await c.post(
        f"/console/exercises/{exercise_id}/respond", data=good_form(csrf, need_id, s1, qs, revision="2")
    )
    assert made.status_code == 303, made.text
    shown = await row()
    assert withdrawn not in shown and "Responded" in shown and ">Revise<" in shown and again not in shown


def crumbs(html: str) -> list[tuple[str, str]]:
    """A page's breadcrumb links: (href, text)."""
    nav = re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S)
    assert nav is not None
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav.group(0))


async def test_a_response_s_and_a_notice_s_breadcrumbs_start_where_their_other_pages_do(world: World) -> None:
    """A commissioner's response and notice pages' breadcrumbs started at the exercise, a provider's response page's
    at the notice, where the commissioner's other exercise pages start at *Exercises* and the provider's at *Open
    exercises*. Each now starts there."""
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    csrf, _ = await provider_signed_in(w, p1)
    made = await c.post(f"/console/exercises/{exercise_id}/respond", data=good_form(csrf, need_id, s1, qs))
    assert made.status_code == 303, made.text
    title = (await c.get(f"/exercises/{exercise_id}/notice")).json()["title"]
    response = f"/console/exercises/{exercise_id}/responses/{p1}"
    notice = f"/console/exercises/{exercise_id}/notice"
    assert crumbs((await c.get(response)).text) == [("/console/open-exercises", "Open exercises"), (notice, title)]
    assert crumbs((await c.get(notice)).text) == [("/console/open-exercises", "Open exercises")]

    _, key = await w.keys.make("commissioner")
    await sign_in(c, key)
    staff = [("/console/exercises", "Exercises"), (f"/console/exercises/{exercise_id}", title)]
    assert crumbs((await c.get(response)).text) == staff
    assert crumbs((await c.get(notice)).text) == staff


async def test_appraisal_pages_are_for_staff(client, keys) -> None:
    _, key = await keys.make("commissioner")
    await sign_in(client, key)
    listed = await client.get("/console/appraisals")
    assert listed.status_code == 200
    ids = re.findall(r'href="/console/appraisals/(\d+)"', listed.text)
    assert ids, listed.text
    appraisal_id = ids[0]
    page = await client.get(f"/console/appraisals/{appraisal_id}")
    assert page.status_code == 200
    api = (await client.get(f"/appraisals/{appraisal_id}", headers={"Authorization": f"Bearer {key}"})).json()
    assert api["title"] in page.text and "Criteria and weights" in page.text and "Results" in page.text
    if api["decision"]:
        assert api["decision"]["decided_by"] in page.text
    assert f'href="/console/appraisals/{appraisal_id}/report?format=html"' in page.text
    html = await client.get(f"/console/appraisals/{appraisal_id}/report?format=html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert api["title"] in html.text
    csv_ = await client.get(f"/console/appraisals/{appraisal_id}/report?format=csv")
    assert csv_.status_code == 200 and "attachment" in csv_.headers["content-disposition"]
    assert "row_type" in csv_.text
    if api["exercise_id"]:
        exercise = await client.get(f"/console/exercises/{api['exercise_id']}")
        assert f'href="/console/appraisals/{appraisal_id}"' in exercise.text
    assert (await client.get("/console/appraisals/999999")).status_code == 404

    _, provider = await keys.make("provider", provider_id=1)
    await sign_in(client, provider)
    for path in (
        "/console/appraisals",
        f"/console/appraisals/{appraisal_id}",
        f"/console/appraisals/{appraisal_id}/report",
    ):
        refused = await client.get(path)
        assert refused.status_code == 403, path
        said = "This page is for admins, commissioners and auditors; you are signed in as a provider"  # auditors read
        assert said in refused.text


async def test_hostile_forms_get_a_4xx_never_a_500(world: World) -> None:
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    csrf, api = await provider_signed_in(w, p1)
    path = f"/console/exercises/{exercise_id}/respond"
    odd = {"need.²².intent": "lead", f"need.{need_id}.service.²": "on", f"need.{need_id}.service.9999999999999": "on"}
    for form in (
        good_form(csrf, need_id, s1, qs, **{f"answer.{qs[0]['id']}": "nul \x00 here"}),
        good_form(csrf, need_id, s1, qs, **{f"answer.{qs[2]['id']}": "nan"}),
        good_form(csrf, need_id, s1, qs, **{f"need.{need_id}.intent": "maybe"}),
        good_form(csrf, need_id, s1, qs, revision="abc"),
        good_form(csrf, need_id, s1, qs, **{f"need.{need_id}.capacity.E06000020": "1" * 30}),
        {"csrf_token": csrf},
    ):
        answered = await c.post(path, data=form)
        assert answered.status_code in (400, 409, 422), (form, answered.status_code, answered.text[:300])
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404
    for data in ({"csrf_token": csrf, "question": "nul \x00"}, {"csrf_token": csrf, "question": "x" * 5000}):
        asked = await c.post(f"/console/exercises/{exercise_id}/clarifications", data=data)
        assert asked.status_code == 400, asked.text[:300]
    withdrawn = await c.post(f"/console/exercises/{exercise_id}/withdraw", data={"csrf_token": csrf, "revision": "x"})
    assert withdrawn.status_code == 400
    missing = await c.post(f"/console/exercises/{exercise_id}/withdraw", data={"csrf_token": csrf, "revision": "1"})
    assert missing.status_code == 404
    # keys the form never makes are left alone (a service id that is no id is not sent)
    c.follow_redirects = False
    assert (await c.post(path, data=good_form(csrf, need_id, s1, qs, **odd))).status_code == 303
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()["needs"][0]["service_ids"] == [
        s1
    ]


async def test_a_number_question_s_bounds_are_said_on_the_notice_and_the_form(world: World) -> None:
    w, c = world, world.client
    staff = {"kind": "number", "text": "How many paid staff?", "minimum": 0, "maximum": 50, "whole_number": True}
    (p1, _), _ = await providers_with(w.dsn, "ACCOM", "E06000020")
    exercise_id, need_id = await make_exercise(w, questions=[staff, QUESTIONS[2]])
    w.clock.at = DURING
    _, key = await w.keys.make("provider", p1)
    await sign_in(c, key)
    notice = await c.get(f"/console/exercises/{exercise_id}/notice")
    assert 'How many paid staff? <span class="body-s">(number: a whole number from 0 to 50)' in notice.text
    assert f'{QUESTIONS[2]["text"]} <span class="body-s">(number)' in notice.text  # no bounds: nothing more
    form = await c.get(f"/console/exercises/{exercise_id}/respond")
    assert "A whole number from 0 to 50." in form.text and 'inputmode="numeric"' in form.text
    # typed as words: told the question's own rule, beside its box
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    qs = (await c.get(f"/exercises/{exercise_id}/notice")).json()["questions"]
    page = await c.post(
        f"/console/exercises/{exercise_id}/respond",
        data={
            "csrf_token": csrf,
            "revision": "",
            f"need.{need_id}.intent": "not_interested",
            f"answer.{qs[0]['id']}": "lots",
        },
    )
    assert page.status_code == 400
    told = re.search(rf'id="f-answer-{qs[0]["id"]}-error">(.*?)</p>', page.text, re.S)
    assert told is not None, page.text[:2000]
    said = re.sub(r"<[^>]+>", "", told.group(1)).replace("Error:", "").strip()
    assert said == "enter a whole number from 0 to 50"


async def test_the_response_form_asks_capacity_for_the_districts_the_provider_s_services_cover(world: World) -> None:
    """A tester's district provider met only the county's box on the form (a Worcestershire need), so its figure was
    counted across all six districts. The form now asks for the areas the provider's services cover within the need:
    the districts of a county it serves only part of, the area itself where a service covers all of it."""
    w, c = world, world.client
    conn = await db.connect(w.dsn)
    try:  # a provider whose accommodation services serve Telford and nowhere in Worcestershire
        row = await conn.fetchrow(
            """select p.id, min(s.id) as service_id from provider p join service s on s.provider_id = p.id
               where p.status = 'published' and s.status = 'active' and s.pathway_code = 'ACCOM'
               group by p.id
               having bool_or(exists(select 1 from service_area a where a.service_id = s.id
                                     and a.area_code = 'E06000020'))
                  and not bool_or(exists(select 1 from service_area a where a.service_id = s.id
                                         and a.area_code <> 'E06000020'))
               order by p.id limit 1"""
        )
    finally:
        await conn.close()
    p1, s1 = row["id"], row["service_id"]
    need = {**NEED, "title": "Accommodation, Worcestershire and Telford", "areas": ["E10000034", "E06000020"]}
    exercise_id, need_id = await make_exercise(w, need=need)
    w.clock.at = DURING
    csrf, api = await provider_signed_in(w, p1)
    s2 = await districts_service(c, p1, api)
    n = f"need.{need_id}"
    blank = await c.get(f"/console/exercises/{exercise_id}/respond")
    assert blank.status_code == 200
    offered = re.findall(rf'name="{re.escape(n)}\.capacity\.([A-Z0-9]+)"', blank.text)
    assert offered == ["E06000020", "E07000236", "E07000237"], offered  # the need's areas in its order
    assert "Redditch (E07000236)" in blank.text and "counted across all of it" in blank.text

    form = {
        "csrf_token": csrf,
        "revision": "",
        f"{n}.intent": "lead",
        f"{n}.service.{s1}": "on",
        f"{n}.service.{s2}": "on",
        f"{n}.capacity.E07000236": "40",
        f"{n}.capacity.E06000020": "20",
    }
    c.follow_redirects = False
    done = await c.post(f"/console/exercises/{exercise_id}/respond", data=form)
    assert done.status_code == 303, done.text
    stored = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert stored["needs"][0]["capacity"] == [
        {"area": "E07000236", "service_users_per_year": 40},
        {"area": "E06000020", "service_users_per_year": 20},
    ]
    # a figure for Worcester with only the Telford service ticked: the API's problem beside Worcester's box
    form |= {"revision": "1", f"{n}.capacity.E07000237": "5"}
    del form[f"{n}.service.{s2}"]
    bad = await c.post(f"/console/exercises/{exercise_id}/respond", data=form)
    assert bad.status_code == 400, bad.text
    assert f'id="{fid(f"{n}.capacity.E07000237")}-error"' in bad.text
    assert "people a year in Worcester" in bad.text


async def test_a_pending_provider_is_told_it_can_respond_once_published_and_keeps_what_it_typed(world: World) -> None:
    """A tester's pending provider (registered, not yet published by an admin) could open an exercise's notice and
    its respond form, fill it in, and be refused on submitting (the API's 409). The notice and the respond page now
    say, before anything is typed, that it can respond once an admin has published its profile, and offer no form;
    once published, the form is there. A profile that turns pending while the form is open keeps what was typed."""
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    registered = await c.post("/registrations", json=LANTERNS)
    assert registered.status_code == 201, registered.text
    pending_id = registered.json()["provider"]["id"]
    await sign_in(c, registered.json()["api_key"]["key"])
    respond = f"/console/exercises/{exercise_id}/respond"
    form_tag = f'<form method="post" action="{respond}"'

    notice = await c.get(f"/console/exercises/{exercise_id}/notice")
    assert notice.status_code == 200
    assert "You can respond to this exercise once an admin has published your profile" in notice.text
    assert f'href="{respond}"' not in notice.text  # no button to a form that would be refused
    assert f'action="/console/exercises/{exercise_id}/clarifications"' in notice.text  # it may still ask
    page = await c.get(respond)
    assert page.status_code == 200
    assert "You can respond once an admin has published your profile" in page.text
    assert form_tag not in page.text and f'name="need.{need_id}.intent"' not in page.text
    listed = await c.get("/console/open-exercises")  # listed (its service matches), with no link to the form
    assert listed.status_code == 200 and "You can respond once your profile is published" in listed.text
    assert f'href="/console/exercises/{exercise_id}/notice"' in listed.text and "/respond" not in listed.text
    home = await c.get("/console/home")
    assert "you can respond once an admin has published your profile" in home.text
    assert "to respond to and ask about" not in home.text
    # every page says it in the same words (one macro), once
    said = "Your organisation’s profile is pending: an admin has not yet checked and published it. Until then"
    profile = await c.get(f"/console/providers/{pending_id}")
    for shown in (notice, page, listed, profile):
        assert shown.text.count('id="pending-profile"') == 1 and shown.text.count(said) == 1
        assert "you cannot respond to market engagement (only published providers respond" in shown.text

    published = await c.post(f"/providers/{pending_id}/publish", headers=await w.keys.headers("admin"))
    assert published.status_code == 200, published.text
    notice = await c.get(f"/console/exercises/{exercise_id}/notice")
    assert f'href="{respond}"' in notice.text and "once an admin has published" not in notice.text
    page = await c.get(respond)
    assert form_tag in page.text and "once an admin has published" not in page.text
    listed = await c.get("/console/open-exercises")
    assert f'href="{respond}"' in listed.text and "once your profile is published" not in listed.text

    # a published provider opens the form; its profile turns pending before it submits: refused, nothing lost
    csrf, api = await provider_signed_in(w, p1)
    assert form_tag in (await c.get(respond)).text
    conn = await db.connect(w.dsn)
    try:
        await conn.execute("update provider set status = 'pending' where id = $1", p1)
    finally:
        await conn.close()
    refused = await c.post(respond, data=good_form(csrf, need_id, s1, qs))
    assert refused.status_code == 409, refused.text
    assert "must be published before it can respond" in refused.text
    assert "the form below still holds what you typed" in refused.text and form_tag in refused.text
    assert 'value="1800"' in refused.text and "TUPE liabilities are unclear." in refused.text
    assert "Ten years of supported housing in Telford." in refused.text
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404


async def test_an_archived_provider_is_told_it_cannot_respond_before_it_types(world: World) -> None:
    """A tester's archived provider (out of the directory) was still offered the respond form for an open exercise,
    typed its response, and was refused only on submitting (the API's 409). The respond page now says, before
    anything is typed, that its profile is archived so it cannot respond, with no form (the response it made is
    there to read); its home page, open-exercises list and the notice say so too and offer no link to respond, nor
    the clarification form (also refused). A profile archived while its form is open keeps what was typed; once an
    admin publishes it again, the form is back."""
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    respond = f"/console/exercises/{exercise_id}/respond"
    form_tag = f'<form method="post" action="{respond}"'
    ask_tag = f'action="/console/exercises/{exercise_id}/clarifications"'
    said = "Your organisation’s profile is archived"
    csrf, _ = await provider_signed_in(w, p1)
    made = await c.post(respond, data=good_form(csrf, need_id, s1, qs))
    assert made.status_code == 303, made.text
    admin = await w.keys.headers("admin")
    assert (await c.post(f"/providers/{p1}/archive", headers=admin)).status_code == 200

    page = await c.get(respond)
    assert page.status_code == 200
    assert "Your profile is archived, so you cannot respond" in page.text and said in page.text
    assert form_tag not in page.text and f'name="need.{need_id}.intent"' not in page.text
    assert f'href="/console/exercises/{exercise_id}/responses/{p1}"' in page.text  # what it said, to read
    notice = await c.get(f"/console/exercises/{exercise_id}/notice")
    assert notice.status_code == 200 and said in notice.text
    assert f'href="{respond}"' not in notice.text and ask_tag not in notice.text
    listed = await c.get("/console/open-exercises")
    assert listed.status_code == 200 and said in listed.text
    assert f'href="{respond}"' not in listed.text and "/respond" not in listed.text
    assert f'href="/console/exercises/{exercise_id}/responses/{p1}"' in listed.text
    home = await c.get("/console/home")
    assert home.status_code == 200 and said in home.text
    assert "to respond to and ask about" not in home.text
    assert f'href="/console/providers/{p1}/edit"' not in home.text  # its key cannot change the profile either
    profile = await c.get(f"/console/providers/{p1}")  # nor does its own page offer to edit or confirm it
    assert profile.status_code == 200 and "Your profile is archived" in profile.text
    # every page says it in the same words (one macro), once
    for shown in (page, notice, listed, home, profile):
        assert shown.text.count('id="archived-profile"') == 1 and shown.text.count(said) == 1
        assert f"{said}: it is out of the directory, so " in shown.text
    assert f'href="/console/providers/{p1}/edit"' not in profile.text and f"/providers/{p1}/confirm" not in profile.text
    assert "/edit" not in profile.text.split('id="main"')[1]  # no service's edit link either
    response = await c.get(f"/console/exercises/{exercise_id}/responses/{p1}")  # its response: withdraw, not revise
    assert response.status_code == 200 and "cannot be revised or submitted again" in response.text
    assert f"{said}: it is out of the directory, so this response cannot be revised" in response.text
    assert f'href="{respond}"' not in response.text and f"/console/exercises/{exercise_id}/withdraw" in response.text
    # asking anyway (a page opened before the archive): the API's 409 beside what was typed, never a 500
    asked = await c.post(
        f"/console/exercises/{exercise_id}/clarifications", data={"csrf_token": csrf, "question": "Is TUPE in?"}
    )
    assert asked.status_code == 400, asked.text
    assert "is archived (out of the directory)" in asked.text and ask_tag in asked.text and "Is TUPE in?" in asked.text

    # published again, the form is back; archived again while it is open: refused, what was typed kept, told why
    assert (await c.post(f"/providers/{p1}/publish", headers=admin)).status_code == 200
    page = await c.get(respond)
    assert form_tag in page.text and said not in page.text
    home = await c.get("/console/home")
    assert said not in home.text and f'href="/console/providers/{p1}/edit"' in home.text
    profile = await c.get(f"/console/providers/{p1}")
    assert "Your profile is archived" not in profile.text and f'href="/console/providers/{p1}/edit"' in profile.text
    response = await c.get(f"/console/exercises/{exercise_id}/responses/{p1}")
    assert f'href="{respond}"' in response.text and "cannot be revised" not in response.text
    assert (await c.post(f"/providers/{p1}/archive", headers=admin)).status_code == 200
    typed = good_form(csrf, need_id, s1, qs, revision="1", **{f"need.{need_id}.unit_cost": "1750"})
    refused = await c.post(respond, data=typed)
    assert refused.status_code == 409, refused.text
    assert said in refused.text and "the form below still holds what you typed" in refused.text
    assert form_tag in refused.text and 'value="1750"' in refused.text


async def test_a_commissioner_publishes_an_exercise_from_its_console_page(world: World) -> None:
    """The exercise's page said "Publish it through the API": a commissioner working in the browser was stuck. It
    publishes, as the API does (the version the page showed as If-Match, the budget shown as chosen), after a step
    of its own showing what the notice will make public (publishing cannot be undone), or why it cannot be published
    yet; refused, the page says why, and a change made meanwhile is said, with nothing published."""
    w, c = world, world.client
    exercise_id, _ = await draft_exercise(w)
    _, key = await w.keys.make("commissioner")
    csrf = await sign_in(c, key)
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert f'<form method="get" action="/console/exercises/{exercise_id}/publish"' in page.text
    path = f"/console/exercises/{exercise_id}/publish"
    # publishing cannot be undone: a step of its own first, showing what the notice will make public
    step = await c.get(path, params={"budget_visibility": "range"})
    assert step.status_code == 200 and "Publish “Telford accommodation engagement” for market engagement?" in unescape(
        step.text
    )
    assert "Publishing cannot be undone" in step.text and 'id="why-not"' not in step.text
    need = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["needs"][0]
    low, high = budget_band(need["annual_budget"])
    budget = re.search(r'<td data-label="Budget a year, as the notice shows it">(.*?)</td>', step.text).group(1)
    assert budget == f"{pounds(low)} to {pounds(high)}"  # the band, as the notice will show it
    assert 'name="budget_visibility" value="range"' in step.text
    version = re.search(r'name="exercise_version" value="(\d+)"', step.text).group(1)
    assert (await c.get(f"/exercises/{exercise_id}/notice")).status_code == 404  # nothing published by the step
    # a change made since the page was opened: said, nothing published
    stale = await c.post(path, data={"csrf_token": csrf, "exercise_version": "0", "budget_visibility": "range"})
    assert stale.status_code == 400 and "was changed since you opened this page" in stale.text
    assert (await c.get(f"/exercises/{exercise_id}/notice")).status_code == 404
    c.follow_redirects = False
    done = await c.post(path, data={"csrf_token": csrf, "exercise_version": version, "budget_visibility": "range"})
    assert (done.status_code, done.headers["location"]) == (
        303,
        f"/console/exercises/{exercise_id}?published=1#engagement",
    ), done.text
    notice = (await c.get(f"/exercises/{exercise_id}/notice")).json()
    assert notice["needs"][0]["budget"]["visibility"] == "range"
    shown = await c.get(f"/console/exercises/{exercise_id}?published=1")
    assert "Published for market engagement" in shown.text and f'action="{path}"' not in shown.text
    again = await c.get(path)  # the step of an exercise already published: its page
    assert (again.status_code, again.headers["location"]) == (303, f"/console/exercises/{exercise_id}#engagement")
    # an exercise with no needs cannot be: the page says why
    bare = await c.post(
        "/exercises",
        headers=w.commissioner,
        json={
            "title": "No needs yet",
            "commissioning_body": "A council",
            "opens_on": "2026-12-01",
            "closes_on": "2026-12-31",
        },
    )
    bare_id = bare.json()["id"]
    blocked = await c.get(f"/console/exercises/{bare_id}/publish")
    assert "“No needs yet” cannot be published yet" in unescape(blocked.text)
    assert (
        "The exercise has no needs to engage the market on." in blocked.text and "exercise_version" not in blocked.text
    )
    refused = await c.post(
        f"/console/exercises/{bare_id}/publish",
        data={"csrf_token": csrf, "exercise_version": str(bare.json()["version"]), "budget_visibility": "hidden"},
    )
    assert refused.status_code == 400 and "the exercise has no needs to engage the market on" in refused.text
    assert (await c.get(f"/exercises/{bare_id}/notice")).status_code == 404


async def test_a_commissioner_starts_an_exercise_from_the_console(world: World) -> None:
    """The console listed exercises but could not start one: a commissioner working in the browser needed the API
    to begin. The list's form makes a draft as POST /exercises does; refused, each problem is beside its box, what
    was typed is kept and nothing is stored; a provider's key may not."""
    w, c = world, world.client
    _, key = await w.keys.make("commissioner")
    csrf = await sign_in(c, key)
    listed = await c.get("/console/exercises")
    assert 'action="/console/exercises"' in listed.text and 'name="closes_on" type="date"' in listed.text
    before = (await c.get("/exercises", headers=w.commissioner)).json()["total"]

    typed = {
        "csrf_token": csrf,
        "title": "   ",
        "commissioning_body": "Telford & Wrekin Council",
        "description": "Accommodation on release",
        "opens_on": "2027-03-01",
        "closes_on": "2027-01-31",
    }
    refused = await c.post("/console/exercises", data=typed)
    assert refused.status_code == 400, refused.text
    assert f'id="{fid("title")}-error"' in refused.text  # beside the title's box
    assert (
        'value="Telford &amp; Wrekin Council"' in refused.text and "Accommodation on release</textarea>" in refused.text
    )
    assert (await c.get("/exercises", headers=w.commissioner)).json()["total"] == before
    # the dates the wrong way round and a description too long: both said at once, each beside its box
    wrong = await c.post(
        "/console/exercises", data={**typed, "title": "Telford accommodation 2027", "description": "x" * 4001}
    )
    assert wrong.status_code == 400, wrong.text
    assert f'id="{fid("closes_on")}-error"' in wrong.text and f'id="{fid("description")}-error"' in wrong.text
    assert "must be on or after the day it opens" in wrong.text and "before opens_on" not in wrong.text
    assert (await c.get("/exercises", headers=w.commissioner)).json()["total"] == before

    c.follow_redirects = False
    done = await c.post(
        "/console/exercises", data={**typed, "title": "Telford accommodation 2027", "closes_on": "2027-04-30"}
    )
    assert done.status_code == 303, done.text
    exercise_id = int(re.fullmatch(r"/console/exercises/(\d+)\?started=1", done.headers["location"]).group(1))
    made = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()
    assert (made["title"], made["commissioning_body"], made["description"], made["status"]) == (
        "Telford accommodation 2027",
        "Telford & Wrekin Council",
        "Accommodation on release",
        "draft",
    )
    assert (made["opens_on"], made["closes_on"]) == ("2027-03-01", "2027-04-30")
    shown = await c.get(done.headers["location"])
    assert "The exercise has been started as a draft" in shown.text
    assert f'action="/console/exercises/{exercise_id}/publish"' in shown.text
    # dates may wait until it is published
    undated = await c.post(
        "/console/exercises",
        data={
            "csrf_token": csrf,
            "title": "Undated",
            "commissioning_body": "A council",
            "opens_on": "",
            "closes_on": "",
        },
    )
    assert undated.status_code == 303, undated.text
    # a provider's key may not start one
    provider_id = (await c.get("/providers?per_page=1")).json()["items"][0]["id"]
    provider_csrf, _ = await provider_signed_in(w, provider_id)
    denied = await c.post(
        "/console/exercises", data={"csrf_token": provider_csrf, "title": "Mine", "commissioning_body": "Me"}
    )
    assert denied.status_code == 403
    assert (await c.get("/exercises", headers=w.commissioner)).json()["total"] == before + 2


async def bare_draft(w: World) -> int:
    """A draft exercise with no needs, no questions and no dates, made through the API: its id."""
    made = await w.client.post(
        "/exercises", headers=w.commissioner, json={"title": "Telford 2027", "commissioning_body": "Telford & Wrekin"}
    )
    return int(made.json()["id"])


async def signed_in_with_a_draft(w: World) -> tuple[str, int, int]:
    """A commissioner signed in to the console, and a draft exercise with one need (NEED) made through the API:
    the console's CSRF token, the exercise's id and the need's."""
    _, key = await w.keys.make("commissioner")
    csrf = await sign_in(w.client, key)
    exercise_id = await bare_draft(w)
    made = await w.client.post(f"/exercises/{exercise_id}/needs", headers=w.commissioner, json=NEED)
    assert made.status_code == 201, made.text
    return csrf, exercise_id, made.json()["id"]


async def dated_and_published(w: World, exercise_id: int) -> None:
    """The exercise given dates and published, through the API."""
    version = (await w.client.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["version"]
    dated = await w.client.patch(
        f"/exercises/{exercise_id}",
        headers={**w.commissioner, "If-Match": f'"v{version}"'},
        json={"opens_on": "2026-12-01", "closes_on": "2027-02-26"},
    )
    assert dated.status_code == 200, dated.text
    published = await w.client.post(
        f"/exercises/{exercise_id}/publish",
        headers={**w.commissioner, "If-Match": dated.headers["etag"]},
        json={"budget_visibility": "hidden"},
    )
    assert published.status_code == 201, published.text


async def test_a_commissioner_adds_a_need_to_a_draft_exercise_from_its_page(world: World) -> None:
    """After starting an exercise in the console, its needs still had to be made through the API. The draft's page
    adds one as POST /exercises/{id}/needs does; refused, every problem is beside its box with what was typed kept
    and nothing stored; once published, the form is gone (the API refuses new needs then)."""
    w, c = world, world.client
    _, key = await w.keys.make("commissioner")
    csrf = await sign_in(c, key)
    exercise_id = await bare_draft(w)
    path = f"/console/exercises/{exercise_id}/needs"
    assert f'action="{path}"' in (await c.get(f"/console/exercises/{exercise_id}")).text

    typed = {
        "csrf_token": csrf,
        "need.title": "Accommodation, Telford",
        "need.pathway": "ACCOM",
        "need.areas": "Telford and Wrekin, E99999999",
        "need.annual_volume": "sixty",
        "need.annual_budget": "£120,000",
        "need.contract_years": "",
        "need.cohorts.ADULTS": "on",
        "need.eligibility.min_age": "18",
        "need.eligibility.max_age": "seventy",
        "need.eligibility.gender": "both",
        "need.local_priorities.0.text": "women leaving custody",
        "need.local_priorities.0.weight": "2",
        "need.local_priorities.1.text": "",  # a row left empty: no priority
        "need.local_priorities.1.weight": "",
        "need.local_priorities.2.text": "  rural \n outreach  ",
        "need.local_priorities.2.weight": "",
    }
    refused = await c.post(path, data=typed)
    assert refused.status_code == 400, refused.text
    assert f'id="{fid("need.annual_volume")}-error"' in refused.text and "enter a whole number" in refused.text
    assert f'id="{fid("need.eligibility.max_age")}-error"' in refused.text and 'value="seventy"' in refused.text
    typed["need.eligibility.max_age"] = "64"
    assert ">Telford and Wrekin, E99999999</textarea>" in refused.text and 'value="sixty"' in refused.text
    assert '<details class="details" open>' in refused.text and 'value="£120,000"' in refused.text
    exercise = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()
    assert exercise["needs"] == []
    # an area the taxonomy does not hold: said beside the areas box
    unknown = await c.post(path, data={**typed, "need.annual_volume": "60"})
    assert unknown.status_code == 400 and f'id="{fid("need.areas")}-error"' in unknown.text, unknown.text
    assert "E99999999" in unknown.text.split(f'id="{fid("need.areas")}-error"')[1].split("</p>")[0]
    # a required box left empty is said missing beside it
    empty = await c.post(
        path, data={**typed, "need.areas": "telford & wrekin", "need.annual_volume": "", "need.title": ""}
    )
    assert empty.status_code == 400
    assert f'id="{fid("need.annual_volume")}-error"' in empty.text and f'id="{fid("need.title")}-error"' in empty.text

    c.follow_redirects = False
    done = await c.post(path, data={**typed, "need.areas": "telford & wrekin", "need.annual_volume": "60"})
    assert done.status_code == 303, done.text
    need_id = int(
        re.fullmatch(rf"/console/exercises/{exercise_id}\?need_added=(\d+)#needs", done.headers["location"])[1]
    )
    need = (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()
    assert (need["title"], need["pathway"], need["areas"], need["annual_volume"], need["annual_budget"]) == (
        "Accommodation, Telford",
        "ACCOM",
        ["E06000020"],
        60,
        120000,
    )
    assert (need["cohorts"], need["contract_years"]) == (["ADULTS"], 1.0)
    assert need["eligibility"] == {"min_age": 18, "max_age": 64}
    assert need["local_priorities"] == [
        {"text": "women leaving custody", "weight": 2.0},
        {"text": "rural outreach", "weight": 1.0},  # its words as typed, spacing and line breaks folded
    ]
    shown = await c.get(f"/console/exercises/{exercise_id}?need_added={need_id}")
    assert "The need “Accommodation, Telford” has been added" in unescape(shown.text)
    assert f'href="/console/needs/{need_id}"' in shown.text
    assert '<td data-label="Areas">Telford and Wrekin</td>' in shown.text  # needs told apart by their areas too

    # published: no form, and a form posted anyway is refused with nothing stored
    await dated_and_published(w, exercise_id)
    assert f'action="{path}"' not in (await c.get(f"/console/exercises/{exercise_id}")).text
    late = await c.post(path, data={**typed, "need.areas": "E06000020", "need.annual_volume": "60"})
    assert late.status_code == 409 and "published" in late.text
    assert len((await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["needs"]) == 1


async def test_a_commissioner_adds_questions_to_a_draft_exercise_from_its_page(world: World) -> None:
    """An exercise's questions could only be set through the API. The draft's page lists them and adds one as POST
    /exercises/{id}/questions does; refused (the API's own rules too: a choice question needs two different
    choices), each problem is beside its box with what was typed kept and nothing stored; once published, no form."""
    w, c = world, world.client
    _, key = await w.keys.make("commissioner")
    csrf = await sign_in(c, key)
    exercise_id = await bare_draft(w)
    path = f"/console/exercises/{exercise_id}/questions"
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert f'action="{path}"' in page.text and "No questions" in page.text

    typed = {
        "csrf_token": csrf,
        "question.text": "Preferred contract length",
        "question.kind": "single_choice",
        "question.required": "on",
        "question.choices": "3 years\n 3 years ",
        "question.word_limit": "",
        "question.minimum": "",
        "question.maximum": "",
    }
    refused = await c.post(path, data=typed)
    assert refused.status_code == 400, refused.text
    assert f'id="{fid("question.choices")}-error"' in refused.text
    assert "at least two different choices" in refused.text and "3 years\n 3 years </textarea>" in refused.text
    assert (await c.get(f"/exercises/{exercise_id}/questions", headers=w.commissioner)).json() == []
    # a number question with a word limit typed as words: the decoder's problem beside its box
    wordy = await c.post(
        path, data={**typed, "question.kind": "number", "question.choices": "", "question.minimum": "ten"}
    )
    assert wordy.status_code == 400 and f'id="{fid("question.minimum")}-error"' in wordy.text, wordy.text

    c.follow_redirects = False
    done = await c.post(path, data={**typed, "question.choices": "3 years\n5 years"})
    assert (done.status_code, done.headers["location"]) == (
        303,
        f"/console/exercises/{exercise_id}?question_added=1#questions",
    ), done.text
    [question] = (await c.get(f"/exercises/{exercise_id}/questions", headers=w.commissioner)).json()
    assert (question["kind"], question["text"], question["required"], question["choices"]) == (
        "single_choice",
        "Preferred contract length",
        True,
        ["3 years", "5 years"],
    )
    shown = await c.get(done.headers["location"])
    assert "The question has been added" in shown.text
    assert "Preferred contract length" in shown.text and "One of the choices: 3 years, 5 years; required" in shown.text
    # a number question lists its range, as the notice says it (it read "(A number; required)")
    counted = {**typed, "question.kind": "number", "question.text": "Staff", "question.choices": ""}
    counted |= {"question.minimum": "0", "question.maximum": "500", "question.whole_number": "on"}
    assert (await c.post(path, data=counted)).status_code == 303
    listed = unescape((await c.get(f"/console/exercises/{exercise_id}")).text)
    assert 'Staff <span class="hint">(A number: a whole number from 0 to 500; required)</span>' in listed

    # published: the questions are fixed, so no form, and one posted anyway is refused with nothing stored
    await c.post(
        f"/exercises/{exercise_id}/needs",
        headers=w.commissioner,
        json={
            "title": "Accommodation",
            "pathway": "ACCOM",
            "areas": ["E06000020"],
            "annual_volume": 60,
            "annual_budget": 120000,
        },
    )
    await dated_and_published(w, exercise_id)
    assert f'action="{path}"' not in (await c.get(f"/console/exercises/{exercise_id}")).text
    late = await c.post(path, data={**typed, "question.choices": "1 year\n2 years"})
    assert late.status_code == 409 and "published" in late.text
    assert len((await c.get(f"/exercises/{exercise_id}/questions", headers=w.commissioner)).json()) == 2


async def test_a_list_or_a_choice_left_blank_is_told_to_choose_not_shown_codes(world: World) -> None:
    """A reviewer leaving the pathway list at "Choose a pathway" was told "'' is not a pathway code: pathway codes are
    upper case, e.g. ACCOM", and leaving a question's kind unchosen "'' is not one of the values allowed:
    multiple_choice, number, ...": the API's words for a value sent, not a person's for a choice not made."""
    w, c = world, world.client
    csrf, exercise_id, _ = await signed_in_with_a_draft(w)
    need = {"csrf_token": csrf, "need.title": "Jobs", "need.pathway": "", "need.areas": "Telford and Wrekin"}
    need |= {"need.annual_volume": "10", "need.annual_budget": "1000", "need.eligibility.gender": "both"}
    refused = await c.post(f"/console/exercises/{exercise_id}/needs", data=need)
    assert refused.status_code == 400
    said = re.findall(r'<p class="error-message" id="(f-[^"]+)-error">.*?</span> (.*?)</p>', refused.text)
    assert said == [(fid("need.pathway"), "choose a pathway")], said
    question = {"csrf_token": csrf, "question.kind": "", "question.text": "Your experience?"}
    refused = await c.post(f"/console/exercises/{exercise_id}/questions", data=question)
    assert refused.status_code == 400
    said = re.findall(r'<p class="error-message" id="(f-[^"]+)-error">.*?</span> (.*?)</p>', refused.text)
    assert said == [(fid("question.kind"), "choose one")], said
    assert (await c.get(f"/exercises/{exercise_id}/questions", headers=w.commissioner)).json() == []


async def test_a_commissioner_changes_a_draft_s_question_from_its_page(world: World) -> None:
    """A question set wrongly had to be removed and added again, going to the end of the list. Each of a draft's
    questions has *Change*: its form filled as stored, saved as PUT /exercises/{id}/questions/{question_id} with
    the version it was opened at; refused (the API's rules), each problem beside its box, nothing stored; saved,
    in its place, the exercise's page saying so (saved as it opened, nothing said); changed meanwhile, 412 saying
    so; once published, the page says why it cannot be changed and a post is refused (409)."""
    w, c = world, world.client
    csrf, exercise_id, _ = await signed_in_with_a_draft(w)
    base = f"/exercises/{exercise_id}/questions"
    first = (await c.post(base, headers=w.commissioner, json={"kind": "text", "text": "Your experience?"})).json()
    second = (await c.post(base, headers=w.commissioner, json={"kind": "yes_no", "text": "TUPE?"})).json()
    path = f"/console/exercises/{exercise_id}/questions/{first['id']}/edit"
    listed = (await c.get(f"/console/exercises/{exercise_id}")).text
    assert f'href="{path}">Change<span class="visually-hidden"> question 1</span>' in listed
    page = await c.get(path)
    assert page.status_code == 200 and "Change question 1" in page.text
    assert box(page.text, "question.text") == "Your experience?"
    assert box(page.text, "question.word_limit") == ""  # the default, as the form adding one leaves it
    assert 'value="text" checked' in page.text and box(page.text, "question.version") == "1"
    form = {
        "csrf_token": csrf,
        "question.version": "1",
        "question.text": "Which areas could you cover?",
        "question.kind": "multiple_choice",
        "question.required": "on",
        "question.choices": "Telford",
        "question.word_limit": "500",  # a text question's setting, left in
    }
    refused = await c.post(path, data=form)
    assert refused.status_code == 400 and f'id="{fid("question.choices")}-error"' in refused.text
    assert f'id="{fid("question.word_limit")}-error"' in refused.text  # a text question's setting, left in
    assert box(refused.text, "question.text") == "Which areas could you cover?"  # as typed
    assert (await c.get(base, headers=w.commissioner)).json() == [first, second]
    c.follow_redirects = False
    form |= {"question.choices": "Telford\nWrekin", "question.word_limit": ""}
    done = await c.post(path, data=form)
    assert done.headers["location"] == f"/console/exercises/{exercise_id}?question_changed=1#questions", done.text
    now = (await c.get(base, headers=w.commissioner)).json()
    assert [q["id"] for q in now] == [first["id"], second["id"]]  # in its place
    assert (now[0]["kind"], now[0]["choices"], now[0]["required"], now[0]["version"]) == (
        "multiple_choice",
        ["Telford", "Wrekin"],
        True,
        2,
    )
    assert "The question has been changed" in (await c.get(done.headers["location"])).text
    again = await c.post(path, data={**form, "question.version": "2"})  # saved as it is: nothing said
    assert again.headers["location"] == f"/console/exercises/{exercise_id}#questions"
    stale = await c.post(path, data={**form, "question.text": "Which areas?"})  # opened at version 1
    assert stale.status_code == 412 and "someone saved a change since you opened this page" in unescape(stale.text)
    assert box(stale.text, "question.version") == "2" and box(stale.text, "question.text") == "Which areas?"
    assert (await c.get(base, headers=w.commissioner)).json()[0]["text"] == "Which areas could you cover?"
    # the form as a browser sends it, as the page shows it: a text area's line breaks as CR LF; nothing changes
    lines = {"kind": "text", "text": "Your experience\nof this pathway?", "word_limit": 300}
    third = (await c.post(base, headers=w.commissioner, json=lines)).json()
    path3 = f"/console/exercises/{exercise_id}/questions/{third['id']}/edit"
    shown = (await c.get(path3)).text
    sent = {"csrf_token": csrf, "question.kind": "text"}
    for name in ("question.text", "question.choices", "question.word_limit", "question.version"):
        sent[name] = box(shown, name).replace("\n", "\r\n")
    unchanged = await c.post(path3, data=sent)
    assert unchanged.headers["location"] == f"/console/exercises/{exercise_id}#questions", unchanged.text
    assert (await c.get(base, headers=w.commissioner)).json()[2] == third

    await dated_and_published(w, exercise_id)
    fixed = await c.get(path)
    assert "Question 1 cannot be changed" in fixed.text and f'action="{path}"' not in fixed.text
    late = await c.post(path, data={**form, "question.version": "2", "question.text": "Late"})
    assert late.status_code == 409 and "questions are fixed" in late.text
    assert (await c.get(base, headers=w.commissioner)).json()[0]["text"] == "Which areas could you cover?"
    assert (await c.get(f"/console/exercises/{exercise_id}/questions/999999/edit")).status_code == 404


async def test_a_commissioner_moves_a_draft_s_questions_up_and_down_from_its_page(world: World) -> None:
    """Each of a draft's questions but the first has *Move up*, each but the last *Move down*: a form posting the
    place it goes to and the place the page showed it at, as POST /exercises/{id}/questions/{question_id}/move;
    then the exercise's page says where it went. The same button sent again, the question no longer
    where the page showed it, is refused (409) rather than moving it the other way; a crafted place is refused
    (beyond the last 422, not a place 400), nothing moved; once published the buttons are gone and a post is refused
    (409)."""
    w, c = world, world.client
    csrf, exercise_id, _ = await signed_in_with_a_draft(w)
    base = f"/exercises/{exercise_id}/questions"
    ids = [
        (await c.post(base, headers=w.commissioner, json={"kind": "yes_no", "text": f"Q{n}?"})).json()["id"]
        for n in (1, 2, 3)
    ]
    page = (await c.get(f"/console/exercises/{exercise_id}")).text
    buttons = re.findall(
        r'action="/console/exercises/\d+/questions/(\d+)/move" class="inline-form">.*?name="position" value="(\d+)">'
        r'<input type="hidden" name="from_position" value="(\d+)">'
        r'<button type="submit" class="link-button">Move (up|down)<span class="visually-hidden"> question (\d)',
        page,
    )
    a, b, z = (str(i) for i in ids)
    assert buttons == [
        (a, "2", "1", "down", "1"),
        (b, "1", "2", "up", "2"),
        (b, "3", "2", "down", "2"),
        (z, "2", "3", "up", "3"),
    ]
    c.follow_redirects = False
    up = {"csrf_token": csrf, "position": "2", "from_position": "3"}  # *Move up* beside question 3
    moved = await c.post(f"/console{base}/{ids[2]}/move", data=up)
    assert moved.status_code == 303 and moved.headers["location"] == (
        f"/console/exercises/{exercise_id}?question_moved=2#questions"
    )
    assert [q["id"] for q in (await c.get(base, headers=w.commissioner)).json()] == [ids[0], ids[2], ids[1]]
    said = (await c.get(moved.headers["location"])).text
    assert "The question has been moved" in said and "It is question 2 of the" in said
    assert re.findall(r'<li id="question-\d+">(Q\d)\?', said) == ["Q1", "Q3", "Q2"]
    # the same button again (a second click, or a page opened before the move): Q3 is not where it showed it
    again = await c.post(f"/console{base}/{ids[2]}/move", data=up)
    assert again.status_code == 409 and "the questions have changed since they were listed" in unescape(again.text)
    assert f'<a href="/console/exercises/{exercise_id}#questions">Back to the page you were on</a>' in again.text
    said_of = {}
    for position, status in (("4", 422), ("0", 400), ("two", 400), ("", 400)):
        sent = {"csrf_token": csrf, "position": position, "from_position": "1"}
        refused = await c.post(f"/console{base}/{ids[0]}/move", data=sent)
        assert refused.status_code == status, (position, refused.text)
        said_of[position] = unescape(refused.text)
    assert f"must be 3 or less: exercise {exercise_id} has 3 questions" in said_of["4"]
    assert "'two' is not a place among the questions (1 for the first)" in said_of["two"]
    no_place = await c.post(f"/console{base}/{ids[0]}/move", data={"csrf_token": csrf, "position": "2"})
    assert no_place.status_code == 400 and "'' is not a place among the questions" in unescape(no_place.text)
    assert [q["id"] for q in (await c.get(base, headers=w.commissioner)).json()] == [ids[0], ids[2], ids[1]]
    forged = await c.post(f"/console{base}/{ids[0]}/move", data={"position": "2", "from_position": "1"})  # no CSRF
    assert forged.status_code == 403
    assert [q["id"] for q in (await c.get(base, headers=w.commissioner)).json()] == [ids[0], ids[2], ids[1]]

    await dated_and_published(w, exercise_id)
    assert "/move" not in (await c.get(f"/console/exercises/{exercise_id}")).text
    late = await c.post(
        f"/console{base}/{ids[0]}/move", data={"csrf_token": csrf, "position": "3", "from_position": "1"}
    )
    assert late.status_code == 409 and "questions are fixed" in late.text
    provider_csrf, _ = await provider_signed_in(w, 12)
    barred = await c.post(
        f"/console{base}/{ids[0]}/move", data={"csrf_token": provider_csrf, "position": "3", "from_position": "1"}
    )
    assert barred.status_code == 403  # staff only, as the API's
    assert [q["id"] for q in (await c.get(base, headers=w.commissioner)).json()] == [ids[0], ids[2], ids[1]]


async def test_a_commissioner_removes_a_need_and_a_question_from_a_draft_exercise(world: World) -> None:
    """A need or a question added by mistake could only be taken out through the API. From a draft's page, each has
    a Remove step (what it is, what removing does) that removes it as DELETE does, audited; a need changed since the
    step was opened (412), one with stored match runs (kept as evidence) and anything once published are refused,
    saying why, with nothing removed."""
    w, c = world, world.client
    _, key = await w.keys.make("commissioner")
    csrf = await sign_in(c, key)
    exercise_id = await bare_draft(w)
    need_ids = []
    for title in ("Accommodation, Telford", "Accommodation, Wrekin"):
        made = await c.post(f"/exercises/{exercise_id}/needs", headers=w.commissioner, json={**NEED, "title": title})
        assert made.status_code == 201, made.text
        need_ids.append(made.json()["id"])
    mistaken, matched = need_ids
    question_ids = []
    for q in QUESTIONS[:2]:
        made = await c.post(f"/exercises/{exercise_id}/questions", headers=w.commissioner, json=q)
        assert made.status_code == 201, made.text
        question_ids.append(made.json()["id"])
    run = await c.post(f"/needs/{matched}/match-runs", headers=w.commissioner, json={})
    assert run.status_code == 201, run.text

    page = await c.get(f"/console/exercises/{exercise_id}")
    for n in need_ids:
        assert f'href="/console/needs/{n}/remove"' in page.text
    for q in question_ids:
        assert f'href="/console/exercises/{exercise_id}/questions/{q}/remove"' in page.text

    # the step: what the need is, and the button, with the version the page was opened at
    step = await c.get(f"/console/needs/{mistaken}/remove")
    assert step.status_code == 200 and "Remove the need “Accommodation, Telford”?" in unescape(step.text)
    assert f'action="/console/needs/{mistaken}/remove"' in step.text
    opened = int(re.search(r'name="version" value="(\d+)"', step.text)[1])
    # changed through the API since: refused (412), nothing removed, the step again as the need is now
    need = (await c.get(f"/needs/{mistaken}", headers=w.commissioner)).json()
    changed = await c.patch(
        f"/needs/{mistaken}",
        headers={**w.commissioner, "If-Match": f'"v{need["version"]}"'},
        json={"annual_volume": 70},
    )
    assert changed.status_code == 200, changed.text
    stale = await c.post(f"/console/needs/{mistaken}/remove", data={"csrf_token": csrf, "version": str(opened)})
    assert stale.status_code == 412 and "changed since you opened this page" in stale.text
    assert f'name="version" value="{opened + 1}"' in stale.text
    assert re.search(r">People a year</dt><dd[^>]*>70<", stale.text)  # the need as it is now
    assert (await c.get(f"/needs/{mistaken}", headers=w.commissioner)).status_code == 200

    c.follow_redirects = False
    done = await c.post(f"/console/needs/{mistaken}/remove", data={"csrf_token": csrf, "version": str(opened + 1)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/console/exercises/{exercise_id}?removed=need#needs"
    assert (await c.get(f"/needs/{mistaken}", headers=w.commissioner)).status_code == 404
    shown = await c.get(done.headers["location"])
    assert "The need has been removed" in shown.text and f'href="/console/needs/{mistaken}"' not in shown.text
    conn = await db.connect(w.dsn)
    try:
        audited = await conn.fetchval("select count(*) from audit_log where detail = $1", f"deleted need {mistaken}")
    finally:
        await conn.close()
    assert audited == 1

    # a need with a stored run: the step says why not and has no button; posted anyway, refused (409)
    kept = await c.get(f"/console/needs/{matched}/remove")
    assert "The need “Accommodation, Wrekin” cannot be removed" in unescape(kept.text)
    assert "1 stored match run" in kept.text and 'action="/console/needs/' not in kept.text
    version = (await c.get(f"/needs/{matched}", headers=w.commissioner)).json()["version"]
    refused = await c.post(f"/console/needs/{matched}/remove", data={"csrf_token": csrf, "version": str(version)})
    assert refused.status_code == 409 and "This need cannot be removed" in refused.text
    assert "stored match runs" in refused.text
    assert (await c.get(f"/needs/{matched}", headers=w.commissioner)).status_code == 200
    assert f'href="/console/needs/{matched}/remove"' not in (await c.get(f"/console/needs/{matched}")).text

    # a question: numbered as the page lists it; removed, the page says so and the API lists the other only
    first, second = question_ids
    step = await c.get(f"/console/exercises/{exercise_id}/questions/{first}/remove")
    assert "Remove question 1?" in step.text and QUESTIONS[0]["text"] in step.text
    gone = await c.post(f"/console/exercises/{exercise_id}/questions/{first}/remove", data={"csrf_token": csrf})
    assert gone.headers["location"] == f"/console/exercises/{exercise_id}?removed=question#questions"
    listed = (await c.get(f"/exercises/{exercise_id}/questions", headers=w.commissioner)).json()
    assert [q["id"] for q in listed] == [second]
    assert "The question has been removed" in (await c.get(gone.headers["location"])).text
    assert "Remove question 1?" in (await c.get(f"/console/exercises/{exercise_id}/questions/{second}/remove")).text

    # published: no Remove links, the steps say why not, and posts are refused with nothing removed
    await dated_and_published(w, exercise_id)
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert 'Remove<span class="visually-hidden">' not in page.text
    path = f"/console/exercises/{exercise_id}/questions/{second}/remove"
    fixed = await c.get(path)
    assert "Question 1 cannot be removed" in fixed.text
    assert "published for market engagement: its questions are fixed" in fixed.text and f'action="{path}"' not in (
        fixed.text
    )
    late = await c.post(path, data={"csrf_token": csrf})
    assert late.status_code == 409 and "This question cannot be removed" in late.text
    assert [q["id"] for q in (await c.get(f"/exercises/{exercise_id}/questions", headers=w.commissioner)).json()] == [
        second
    ]


def box(html: str, name: str) -> str:
    """The value a text box (or a text area) of the page shows (unescaped)."""
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', html) or re.search(
        rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>([^<]*)</textarea>', html
    )
    assert found is not None, name
    return unescape(found[1])


async def test_a_commissioner_changes_a_draft_exercise_and_its_need_from_their_pages(world: World) -> None:
    """A draft's title, description and dates, and a need's boxes, could only be changed through the API (an
    exercise started without dates could not be published from the console). Each page has a form showing what is
    stored, saved as PATCH with the version it was opened at as If-Match: refused, each problem beside its box with
    what was typed kept and nothing stored; changed meanwhile (412), said, nothing saved, the version now in the
    form; what the need's form does not ask is kept; once published, no form, and one posted anyway is refused."""
    w, c = world, world.client
    _, key = await w.keys.make("commissioner")
    csrf = await sign_in(c, key)
    exercise_id = await bare_draft(w)
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert f'action="/console/exercises/{exercise_id}/edit"' in page.text
    assert box(page.text, "exercise.title") == "Telford 2027" and box(page.text, "exercise.opens_on") == ""
    opened = int(box(page.text, "exercise.version"))
    typed = {
        "csrf_token": csrf,
        "exercise.version": str(opened),
        "exercise.title": "Telford resettlement 2027",
        "exercise.commissioning_body": "Telford & Wrekin Council",
        "exercise.description": "Accommodation and jobs for people leaving HMP Stoke Heath.",
        "exercise.opens_on": "2027-01-04",
        "exercise.closes_on": "2026-12-01",
    }
    path = f"/console/exercises/{exercise_id}/edit"
    refused = await c.post(path, data=typed)
    assert refused.status_code == 400, refused.text
    assert f'id="{fid("exercise.closes_on")}-error"' in refused.text
    assert "must be on or after the day it opens" in refused.text
    assert box(refused.text, "exercise.title") == "Telford resettlement 2027" and "<details class" in refused.text
    assert (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["title"] == "Telford 2027"

    # changed through the API since the page was opened: 412, nothing saved, the version now in the form
    changed = await c.patch(
        f"/exercises/{exercise_id}",
        headers={**w.commissioner, "If-Match": f'"v{opened}"'},
        json={"commissioning_body": "Telford and Wrekin"},
    )
    assert changed.status_code == 200, changed.text
    stale = await c.post(path, data={**typed, "exercise.closes_on": "2027-02-26"})
    assert stale.status_code == 412 and "someone saved a change since you opened this page" in stale.text
    assert box(stale.text, "exercise.version") == str(opened + 1)
    assert box(stale.text, "exercise.closes_on") == "2027-02-26"
    assert (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["title"] == "Telford 2027"

    c.follow_redirects = False
    done = await c.post(path, data={**typed, "exercise.closes_on": "2027-02-26", "exercise.version": str(opened + 1)})
    assert done.status_code == 303 and done.headers["location"] == f"/console/exercises/{exercise_id}?changed=1"
    stored = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()
    assert (stored["title"], stored["commissioning_body"], stored["opens_on"], stored["closes_on"]) == (
        "Telford resettlement 2027",
        "Telford & Wrekin Council",
        "2027-01-04",
        "2027-02-26",
    )
    assert "The exercise has been changed" in (await c.get(done.headers["location"])).text

    # a need: its form shows what is stored; what the form does not ask stays as it is
    made = await c.post(
        f"/exercises/{exercise_id}/needs",
        headers=w.commissioner,
        json={
            **NEED,
            "min_years_experience": 3,
            "local_priorities": [{"text": "Women's hostel places", "weight": 2.5}, {"text": "Dropped priority"}],
            "weight_overrides": {"quality": 40, "pathway_fit": 30, "coverage": 30},
        },
    )
    assert made.status_code == 201, made.text
    need_id = made.json()["id"]
    need_page = await c.get(f"/console/needs/{need_id}")
    assert f'action="/console/needs/{need_id}/edit"' in need_page.text
    assert (box(need_page.text, "need.annual_budget"), box(need_page.text, "need.areas")) == (
        "120,000",
        "Telford and Wrekin",  # by name
    )
    assert box(need_page.text, "need.contract_years") == "3" and 'value="ADULTS" checked' in need_page.text
    assert box(need_page.text, "need.min_years_experience") == "3" and 'value="both" checked' in need_page.text
    assert (
        box(need_page.text, "need.local_priorities.0.text"),
        box(need_page.text, "need.local_priorities.1.text"),
    ) == ("Women's hostel places", "Dropped priority")
    form = {
        "csrf_token": csrf,
        "need.version": box(need_page.text, "need.version"),
        "need.title": "Accommodation, Telford",
        "need.pathway": "ACCOM",
        "need.areas": "Telford and Wrekin\nE99999999",
        "need.annual_volume": "70",
        "need.annual_budget": "£130,000",
        "need.contract_years": "2.5",
        "need.eligibility.min_age": "18",
        "need.eligibility.max_age": "",
        "need.eligibility.gender": "women",
        "need.min_years_experience": "",
        "need.required_accreditations.matrix_standard": "on",
        "need.local_priorities.0.text": "Women's hostel places",
        "need.local_priorities.0.weight": "2.5",
        "need.local_priorities.1.text": "Women leaving custody",
        "need.local_priorities.1.weight": "1.5",
        "need.sector_preference.third_sector": "1",
        "need.sector_preference.co_operative": "0.5",
    }  # no cohort ticked: anyone the pathway serves; no years of delivery required
    need_path = f"/console/needs/{need_id}/edit"
    refused = await c.post(need_path, data=form)
    assert refused.status_code == 400 and f'id="{fid("need.areas")}-error"' in refused.text
    assert box(refused.text, "need.annual_volume") == "70"
    assert 'value="ADULTS" checked' not in refused.text and 'name="need.cohorts.ADULTS"' in refused.text
    assert (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()["annual_volume"] == 60

    keen = await c.post(need_path, data={**form, "need.areas": "E06000020", "need.sector_preference.private": "2"})
    assert keen.status_code == 400 and f'id="{fid("need.sector_preference.private")}-error"' in keen.text
    assert box(keen.text, "need.sector_preference.private") == "2"

    done = await c.post(need_path, data={**form, "need.areas": "E06000020"})
    assert done.status_code == 303 and done.headers["location"] == f"/console/needs/{need_id}?changed=1"
    need = (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()
    assert (need["title"], need["annual_volume"], need["annual_budget"], need["contract_years"]) == (
        "Accommodation, Telford",
        70,
        130000,
        2.5,
    )
    assert need["cohorts"] == [] and need["min_years_experience"] == 0
    assert need["eligibility"] == {"min_age": 18, "gender": "women"}
    assert need["required_accreditations"] == ["matrix_standard"]
    assert need["sector_preference"] == {"third_sector": 1.0, "co_operative": 0.5}
    # each priority with the weight its row gives; one left out is gone
    assert need["local_priorities"] == [
        {"text": "Women's hostel places", "weight": 2.5},
        {"text": "Women leaving custody", "weight": 1.5},
    ]
    assert need["weight_overrides"] == {"quality": 40, "pathway_fit": 30, "coverage": 30}  # not on the form: kept
    assert "The need has been changed" in (await c.get(done.headers["location"])).text
    stale = await c.post(need_path, data={**form, "need.areas": "E06000020", "need.annual_volume": "80"})
    assert stale.status_code == 412 and box(stale.text, "need.version") == str(need["version"])
    assert (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()["annual_volume"] == 70

    # published: no forms, and a change posted anyway is refused with nothing stored
    version = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["version"]
    published = await c.post(
        f"/exercises/{exercise_id}/publish",
        headers={**w.commissioner, "If-Match": f'"v{version}"'},
        json={"budget_visibility": "hidden"},
    )
    assert published.status_code == 201, published.text
    assert f'action="{path}"' not in (await c.get(f"/console/exercises/{exercise_id}")).text
    assert f'action="{need_path}"' not in (await c.get(f"/console/needs/{need_id}")).text
    late = await c.post(
        need_path,
        data={**form, "need.areas": "E06000020", "need.annual_volume": "90", "need.version": str(need["version"])},
    )
    assert late.status_code == 409 and "published" in late.text
    assert '<details class="details" id="change" open>' in late.text and box(late.text, "need.annual_volume") == "90"
    assert (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()["annual_volume"] == 70
    # the exercise's form posted from a page opened before it was published: refused, shown again saying why
    now = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()
    renamed = {**typed, "exercise.title": "Telford 2028", "exercise.closes_on": "2027-02-26"}
    late = await c.post(path, data={**renamed, "exercise.version": str(now["version"])})
    assert late.status_code == 409 and '<details class="details" id="change" open>' in late.text
    assert f'id="{fid("exercise.title")}-error"' in late.text and "published" in late.text
    assert (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["title"] == now["title"]


async def test_a_commissioner_moves_a_published_exercise_s_deadline_later_from_its_page(world: World) -> None:
    """Moving a published notice's deadline later, the one change publishing allows, was API-only. The exercise's
    page has it (as PATCH of closes_on with the version the page showed as If-Match): an earlier or empty date is
    refused beside the box with nothing stored; a change made meanwhile is said (412); a later one is saved, the
    notice says it and its OCDS releases record the move as an amendment."""
    w, c = world, world.client
    csrf, exercise_id, _ = await signed_in_with_a_draft(w)
    path = f"/console/exercises/{exercise_id}/deadline"
    assert f'action="{path}"' not in (await c.get(f"/console/exercises/{exercise_id}")).text  # a draft: its form
    await dated_and_published(w, exercise_id)  # closes on 2027-02-26
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert f'action="{path}"' in page.text and box(page.text, "deadline.closes_on") == "2027-02-26"
    opened = box(page.text, "deadline.version")

    for typed, said, status in (("2027-02-01", "never earlier than 26 February 2027", 409), ("", "enter a date", 400)):
        refused = await c.post(path, data={"csrf_token": csrf, "deadline.version": opened, "deadline.closes_on": typed})
        assert refused.status_code == status, refused.text
        beside = refused.text.split(f'id="{fid("deadline.closes_on")}-error"')[1].split("</p>")[0]
        assert said in beside and '<details class="details" id="deadline" open>' in refused.text
    assert (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["closes_on"] == "2027-02-26"

    version = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["version"]
    described = await c.patch(
        f"/exercises/{exercise_id}",
        headers={**w.commissioner, "If-Match": f'"v{version}"'},
        json={"default_weights": {"quality": 40, "pathway_fit": 30, "coverage": 30}},
    )
    assert described.status_code == 200, described.text
    later = {"csrf_token": csrf, "deadline.version": opened, "deadline.closes_on": "2027-03-31"}
    stale = await c.post(path, data=later)
    assert stale.status_code == 412 and box(stale.text, "deadline.version") == str(version + 1)
    assert box(stale.text, "deadline.closes_on") == "2027-03-31"

    c.follow_redirects = False
    done = await c.post(path, data={**later, "deadline.version": str(version + 1)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/console/exercises/{exercise_id}?deadline_moved=1#engagement"
    assert (await c.get(f"/exercises/{exercise_id}/notice")).json()["closes_on"] == "2027-03-31"
    shown = await c.get(done.headers["location"])
    assert "The deadline has been moved" in shown.text and "31 March 2027" in shown.text
    (amendment,) = (await c.get(f"/exercises/{exercise_id}/ocds")).json()["releases"][-1]["tender"]["amendments"]
    assert amendment["rationale"] == "closing date moved from 2027-02-26 to 2027-03-31"


async def test_a_commissioner_sets_the_exercise_s_and_a_need_s_weights_from_their_pages(world: World) -> None:
    """The criteria weights a match run uses were API-only. The exercise's page sets its default weights and a
    need's page the need's own (as PATCH of default_weights, of weight_overrides, with the page's version as
    If-Match): percentages not adding up to 100 are refused saying what they would scale to, a box that is no
    number beside it, nothing stored; every box empty clears them; the page then shows the weights in force."""
    w, c = world, world.client
    csrf, exercise_id, need_id = await signed_in_with_a_draft(w)
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert f'action="/console/exercises/{exercise_id}/weights"' in page.text
    assert "the standard weights: pathway fit 20%" in page.text
    # a reviewer changing one weight found every box empty: under each, what it counts now (none may be set yet)
    hint = f'<div class="hint" id="{fid("weights.pathway_fit")}-hint">Now 20%</div>'
    assert hint in page.text and "to change one, give them all" in page.text
    first = await c.get(f"/console/needs/{need_id}")
    assert f'<div class="hint" id="{fid("weights.local_priorities")}-hint">Now 10%</div>' in first.text
    # the need has no local priorities: the percentages it is matched with are not the table's, and say why
    row = unescape(re.sub(r"<[^>]+>", "", first.text.split(">Weights</dt>")[1].split("</dd>")[0]))
    assert row.startswith("Pathway fit 22.2%") and row.endswith(
        "the need has no local priorities, so the 10% those weights give them is shared among the others in proportion)"
    ), row
    version = box(page.text, "weights.version")
    path = f"/console/exercises/{exercise_id}/weights"
    odd = {"csrf_token": csrf, "weights.version": version, "weights.quality": "50", "weights.pathway_fit": "30"}
    refused = await c.post(path, data=odd)
    assert (
        refused.status_code == 400
        and "these add up to 80, not 100: scaled to 100 they would be pathway fit 37.5%, quality 62.5%" in refused.text
    )
    assert 'id="weights-error"' in refused.text and box(refused.text, "weights.quality") == "50"
    assert '<details class="details" id="weights" open>' in refused.text
    words = await c.post(path, data={**odd, "weights.coverage": "twenty"})
    assert words.status_code == 400 and f'id="{fid("weights.coverage")}-error"' in words.text
    assert (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["default_weights"] == {}

    c.follow_redirects = False
    done = await c.post(path, data={**odd, "weights.coverage": "20"})
    assert done.headers["location"] == f"/console/exercises/{exercise_id}?weighted=1#weights", done.text
    stored = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["default_weights"]
    assert stored == {"quality": 50, "pathway_fit": 30, "coverage": 20}
    shown = await c.get(done.headers["location"])
    assert "The exercise’s default weights have been saved" in shown.text
    assert "default weights: pathway fit 30%, coverage 20%, quality 50%" in shown.text
    assert box(shown.text, "weights.quality") == "50" and "Now 20%" not in shown.text  # set: the boxes say them
    need_page = await c.get(f"/console/needs/{need_id}")
    assert "from the exercise's default weights" in unescape(need_page.text)
    assert f'<div class="hint" id="{fid("weights.quality")}-hint">Now 50%</div>' in need_page.text
    assert "shared among the others" not in need_page.text  # the exercise's weights give local priorities none

    # the need's own: set, then cleared (every box empty) back to the exercise's
    need_path = f"/console/needs/{need_id}/weights"
    assert f'action="{need_path}"' in need_page.text and box(need_page.text, "weights.quality") == ""
    own = {"csrf_token": csrf, "weights.version": box(need_page.text, "weights.version"), "weights.capacity": "100"}
    set_ = await c.post(need_path, data=own)
    assert set_.headers["location"] == f"/console/needs/{need_id}?weighted=1#weights", set_.text
    need = (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()
    assert need["weight_overrides"] == {"capacity": 100}
    same = await c.post(need_path, data={**own, "weights.version": str(need["version"])})  # saved as stored
    assert same.headers["location"] == f"/console/needs/{need_id}"  # nothing said: nothing changed
    assert (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()["version"] == need["version"]
    shown = await c.get(set_.headers["location"])
    weights_row = unescape(re.sub(r"<[^>]+>", "", shown.text.split(">Weights</dt>")[1].split("</dd>")[0]))
    assert weights_row == "Capacity 100% (percentages of the score, from this need's own weights; a new run uses these)"
    assert box(shown.text, "weights.capacity") == "100" and box(shown.text, "need.title") == NEED["title"]
    stale = await c.post(need_path, data={**own, "weights.capacity": ""})
    assert stale.status_code == 412 and box(stale.text, "weights.version") == str(need["version"])
    assert '<details class="details" id="weights" open>' in stale.text
    assert '<details class="details" id="change">' in stale.text  # the other form stays closed
    assert box(stale.text, "need.title") == NEED["title"]  # the other form's boxes as stored
    cleared = await c.post(need_path, data={**own, "weights.capacity": "", "weights.version": str(need["version"])})
    assert cleared.status_code == 303, cleared.text
    assert (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()["weight_overrides"] is None


def need_form(html: str, csrf: str, **changes: str) -> dict[str, str]:
    """The need page's change form as the page shows it (its text boxes, ticks, selected pathway and text areas),
    with `changes` (form names with `_` for `.`, as `need_title`; or the names themselves)."""
    sent = {"csrf_token": csrf, "need.version": box(html, "need.version")}
    for name in re.findall(r'<textarea[^>]*name="(need\.[a-zA-Z0-9_.]+)"', html):
        sent[name] = box(html, name)
    for name in re.findall(r'<input[^>]*name="(need\.[a-zA-Z0-9_.]+)"[^>]*type="text"', html):
        sent[name] = box(html, name)
    for name in re.findall(r'<input[^>]*name="(need\.[a-zA-Z0-9_.]+)"[^>]*type="checkbox"[^>]*checked', html):
        sent[name] = "on"
    sent["need.eligibility.gender"] = re.search(r'name="need.eligibility.gender"[^>]*value="(\w+)" checked', html)[1]
    sent["need.pathway"] = re.search(r'<option value="(\w+)" selected', html.split('name="need.pathway"')[1])[1]
    return sent | {k.replace("_", ".", 1) if k.startswith("need_") else k: v for k, v in changes.items()}


async def test_the_need_form_shows_every_part_and_saved_as_shown_changes_nothing(world: World) -> None:
    """The need form shows every part of a need: local priorities a row each with its weight, and a box per area
    for the service users a year there. Saved as the page shows it, only what was changed changes: priorities the
    API gave over several lines or with spaces around them keep their text as stored. A weight changed and a
    priority added are stored; volumes by area no longer adding up to the volume are refused beside those boxes,
    the form open, nothing stored; emptied, coverage goes back to population. Its pathway's desired outcomes are
    ticked on the form; another pathway's left ticked are refused beside them, named as such."""
    w, c = world, world.client
    csrf, exercise_id, _ = await signed_in_with_a_draft(w)
    priorities = [{"text": "Women\nleaving custody", "weight": 3.0}, {"text": " rural outreach ", "weight": 2.0}]
    made = await c.post(
        f"/exercises/{exercise_id}/needs",
        headers=w.commissioner,
        json={**NEED, "title": "Women's housing", "local_priorities": priorities, "area_volumes": {"E06000020": 60}},
    )
    assert made.status_code == 201, made.text
    need_id, stored = made.json()["id"], made.json()["local_priorities"]
    path = f"/console/needs/{need_id}/edit"
    page = (await c.get(f"/console/needs/{need_id}")).text
    assert box(page, "need.local_priorities.0.text") == "Women leaving custody"  # its words, on one line
    assert box(page, "need.local_priorities.0.weight") == "3" and box(page, "need.local_priorities.1.weight") == "2"
    assert box(page, "need.local_priorities.2.text") == "" and box(page, "need.area_volumes.E06000020") == "60"
    c.follow_redirects = False
    saved = await c.post(path, data=need_form(page, csrf, need_title="Women's housing, Telford"))
    assert saved.status_code == 303, saved.text
    need = (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()
    assert need["title"] == "Women's housing, Telford" and need["local_priorities"] == stored
    assert need["area_volumes"] == {"E06000020": 60}
    auditor = await w.keys.headers("auditor")
    history = (await c.get("/changes", params={"table": "need", "record_id": need_id}, headers=auditor)).json()
    changed = {ch["field"] for h in history["items"] if h["operation"] != "insert" for ch in h["changes"]}
    assert changed == {"title", "version"}, history  # nothing else rewritten

    page = (await c.get(f"/console/needs/{need_id}")).text
    more = {
        "need.local_priorities.1.text": "rural   outreach",  # respaced: the same words, so its text as stored
        "need.local_priorities.1.weight": "5",
        "need.local_priorities.2.text": "women's refuge places",
    }
    assert (await c.post(path, data=need_form(page, csrf, **more))).status_code == 303
    need = (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()
    assert need["local_priorities"] == [
        {"text": "Women\nleaving custody", "weight": 3.0},
        {"text": " rural outreach ", "weight": 5.0},
        {"text": "women's refuge places", "weight": 1.0},
    ]
    shown = (await c.get(f"/console/needs/{need_id}")).text
    row = unescape(re.sub(r"<[^>]+>", "", shown.split(">Local priorities</dt>")[1].split("</dd>")[0]))
    assert row == "Women\nleaving custody (weight 3),  rural outreach  (weight 5), women's refuge places"

    # volumes by area no longer adding up to the volume: said beside those boxes, the form open, nothing stored
    page = shown
    refused = await c.post(path, data=need_form(page, csrf, need_annual_volume="70"))
    assert refused.status_code == 400, refused.text
    said = unescape(refused.text.split(f'id="{fid("need.area_volumes")}-error"')[1].split("</p>")[0])
    assert (
        "but the need's “Service users a year” is 70" in said
        and "annual_volume" not in said
        and box(refused.text, "need.annual_volume") == "70"
    )
    assert '<details class="details" id="change" open>' in refused.text
    assert (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()["annual_volume"] == 60
    # the box changed with it: stored; a figure that is not a number: said beside its box
    words = await c.post(
        path, data=need_form(page, csrf, need_annual_volume="70", **{"need.area_volumes.E06000020": "lots"})
    )
    assert words.status_code == 400 and f'id="{fid("need.area_volumes.E06000020")}-error"' in words.text, re.findall(
        r'error-summary__list">(.*?)</ul>', words.text, re.S
    )
    assert "Service users a year in Telford and Wrekin: enter a whole number" in unescape(words.text)
    both = need_form(page, csrf, need_annual_volume="1,070", **{"need.area_volumes.E06000020": "1,070"})
    done = await c.post(path, data=both)
    assert done.status_code == 303, re.findall(r'error-summary__list">(.*?)</ul>', done.text, re.S)
    need = (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()
    assert (need["annual_volume"], need["area_volumes"]) == (1070, {"E06000020": 1070})
    page = (await c.get(f"/console/needs/{need_id}")).text
    emptied = need_form(page, csrf, **{"need.area_volumes.E06000020": ""})
    assert (await c.post(path, data=emptied)).status_code == 303
    assert (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()["area_volumes"] is None
    page = (await c.get(f"/console/needs/{need_id}")).text

    # desired outcomes: its pathway's on the form; one ticked is stored
    assert 'name="need.desired_outcomes.ACCOM_OBTAIN"' in page and "ETE_" not in page.split('id="change"')[1]
    ticked = need_form(page, csrf, **{"need.desired_outcomes.ACCOM_OBTAIN": "on"})
    assert (await c.post(path, data=ticked)).status_code == 303
    need = (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()
    assert need["desired_outcomes"] == ["ACCOM_OBTAIN"]
    # the pathway changed with it left ticked: refused beside the outcomes, named as another pathway's
    page = (await c.get(f"/console/needs/{need_id}")).text
    moved = await c.post(path, data=need_form(page, csrf, need_pathway="ETE"))
    assert moved.status_code == 400, moved.text
    assert f'id="{fid("need.desired_outcomes")}-error"' in moved.text
    assert "ACCOM_OBTAIN (of another pathway)" in moved.text and 'name="need.desired_outcomes.ETE_' in moved.text
    assert (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()["pathway"] == "ACCOM"


async def test_each_refused_figure_of_the_need_form_is_said_beside_its_own_box(world: World) -> None:
    """The decoder names a refused figure in a table by the table alone (`area_volumes[...]`), and stopped at the
    first: each area's box and each priority's weight is now told its own problem, all at once, nothing stored."""
    w, c = world, world.client
    csrf, exercise_id, _ = await signed_in_with_a_draft(w)
    county = {**NEED, "title": "Accommodation, Worcestershire", "areas": ["E10000034"], "annual_volume": 100}
    made = await c.post(f"/exercises/{exercise_id}/needs", headers=w.commissioner, json=county)
    assert made.status_code == 201, made.text
    need_id = made.json()["id"]
    page = (await c.get(f"/console/needs/{need_id}")).text
    districts = re.findall(r'name="need\.area_volumes\.(E0700023\d)"', page)
    assert len(districts) == 6 and 'name="need.area_volumes.E10000034"' in page  # the county, then its districts
    typed = {
        "need.area_volumes.E07000237": "0",  # Worcester
        "need.area_volumes.E07000236": "lots",  # Redditch
        "need.area_volumes.E07000234": "100",  # Bromsgrove
        "need.local_priorities.0.text": "prison leavers",
        "need.local_priorities.0.weight": "abc",
        "need.local_priorities.1.text": "rough sleepers",
        "need.local_priorities.1.weight": "0",
    }
    refused = await c.post(f"/console/needs/{need_id}/edit", data=need_form(page, csrf, **typed))
    assert refused.status_code == 400, refused.text
    said = {
        k: unescape(v)
        for k, v in re.findall(r'<p class="error-message" id="(f-[^"]+)-error">.*?</span> (.*?)</p>', refused.text)
    }
    assert said == {
        fid("need.area_volumes.E07000237"): "must be 1 or more",
        fid("need.area_volumes.E07000236"): "enter a whole number of 1 or more",
        fid("need.local_priorities.0.weight"): "enter a number more than 0, up to 100",
        fid("need.local_priorities.1.weight"): "must be more than 0",
    }, said
    assert 'aria-describedby="area-volumes-hint"' in refused.text  # the group has no problem of its own
    stored = (await c.get(f"/needs/{need_id}", headers=w.commissioner)).json()
    assert stored["area_volumes"] is None and stored["local_priorities"] == []


async def test_a_commissioner_closes_an_exercise_after_its_deadline_and_opens_it_again(world: World) -> None:
    """A published exercise past its deadline offers *Mark it closed* (as PATCH of status, refused before the
    deadline as the API refuses it); closed, its deadline form opens it again with a later deadline (status
    engagement_open with the date), while a deadline form from a page opened before it was closed is refused (409),
    nothing stored. Posted for a draft, the deadline form is refused, saying its dates change with its own form."""
    w, c = world, world.client
    csrf, exercise_id, _ = await signed_in_with_a_draft(w)
    path = f"/console/exercises/{exercise_id}/deadline"
    version = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["version"]
    draft = await c.post(
        path, data={"csrf_token": csrf, "deadline.version": str(version), "deadline.closes_on": "2027-03-01"}
    )
    assert draft.status_code == 409 and "its dates change with its own form" in draft.text
    assert (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["closes_on"] is None

    close = f"/console/exercises/{exercise_id}/close"
    unpublished = await c.post(close, data={"csrf_token": csrf, "close.version": str(version)})
    assert unpublished.status_code == 409 and "there is no engagement to close" in unpublished.text
    assert (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["status"] == "draft"

    await dated_and_published(w, exercise_id)  # closes on 26 February 2027
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert f'action="{close}"' not in page.text  # taking responses: nothing to close
    early = await c.post(close, data={"csrf_token": csrf, "close.version": box(page.text, "deadline.version")})
    assert early.status_code == 409, early.text
    assert "it takes responses until the end of 26 February 2027, UK time: mark it closed then" in unescape(early.text)
    w.clock.at = dt.datetime(2027, 3, 2, 12, 0, tzinfo=dt.UTC)
    page = await c.get(f"/console/exercises/{exercise_id}")
    assert f'action="{close}"' in page.text and "Move the deadline later" in page.text
    opened = box(page.text, "deadline.version")
    c.follow_redirects = False
    closed = await c.post(close, data={"csrf_token": csrf, "close.version": opened})
    assert closed.headers["location"] == f"/console/exercises/{exercise_id}?closed=1", closed.text
    assert (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()["status"] == "closed"
    shown = await c.get(closed.headers["location"])
    assert "The exercise has been marked closed" in shown.text and f'action="{close}"' not in shown.text
    assert "Open it again with a later deadline" in shown.text

    # the deadline form of the page opened before it was closed: changed since (412), nothing stored, the page now
    # offering to open it again; the same date sent without opening it again (as the API's PATCH): refused (409)
    later = {"csrf_token": csrf, "deadline.version": opened, "deadline.closes_on": "2027-06-01"}
    stale = await c.post(path, data=later)
    assert stale.status_code == 412 and 'name="deadline.reopen"' in stale.text, stale.text
    later["deadline.version"] = str(int(opened) + 1)
    refused = await c.post(path, data=later)
    assert refused.status_code == 409 and f'id="{fid("deadline.closes_on")}-error"' in refused.text
    assert "the exercise is closed" in refused.text
    assert (await c.get(f"/exercises/{exercise_id}/notice")).json()["closes_on"] == "2027-02-26"
    # the closed exercise's own form opens it again until the new deadline, a day already past refused beside it
    past = await c.post(path, data={**later, "deadline.reopen": "1", "deadline.closes_on": "2027-03-01"})
    assert past.status_code == 409 and "that day has passed: choose a later one to open it again" in past.text
    assert f'id="{fid("deadline.closes_on")}-error"' in past.text
    reopened = await c.post(path, data={**later, "deadline.reopen": "1"})
    assert reopened.status_code == 303, reopened.text
    exercise = (await c.get(f"/exercises/{exercise_id}", headers=w.commissioner)).json()
    assert (exercise["status"], exercise["closes_on"]) == ("engagement_open", "2027-06-01")
    assert (await c.get(f"/exercises/{exercise_id}/notice")).json()["state"] == "open"
