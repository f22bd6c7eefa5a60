"""The console for auditors (and admins): an auditor's key signs in, reads the audit log (`/console/audit`) and the
change history (`/console/changes`) as GET /audit and GET /changes give them, each entry's key named, and is refused
every form that writes, as the API refuses it. Commissioners and providers are refused the two pages, as the API
refuses them GET /audit and GET /changes."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from conftest import TELFORD_NEED, execute, fetchval
from test_console import sign_in, signed_in

from marketplace.accounts.models import ApiKey
from marketplace.console import service
from marketplace.console.models import Who

LONG = "Tenancy sustainment for adults leaving custody, with a named worker from the week before release " * 3


def table_of(html: str) -> str:
    """The page's list of entries (its table or its sections), without the header naming who is signed in."""
    main = html.split('id="entries"', 1)
    assert len(main) == 2, "the page lists no entries"
    return unescape(main[1])


def problems_of(html: str) -> dict[str, str]:
    """The error summary's problems, by the box each links to."""
    return {m.group(1): unescape(m.group(2)) for m in re.finditer(r'<a href="#f-([\w-]+)">([^<]*)</a>', html)}


async def a_need(client, headers: dict[str, str], description: str = "", **need: object) -> tuple[int, int, str]:
    """A new exercise (with its `description`) with one need (TELFORD_NEED and `need`); the exercise's id, the
    need's id and its ETag."""
    body = {"title": "Audited", "commissioning_body": "Trust", "description": description}
    exercise = await client.post("/exercises", json=body, headers=headers)
    assert exercise.status_code == 201, exercise.text
    made = await client.post(
        f"/exercises/{exercise.json()['id']}/needs", json={**TELFORD_NEED, **need}, headers=headers
    )
    assert made.status_code == 201, made.text
    return exercise.json()["id"], made.json()["id"], made.headers["etag"]


# --- signing in ------------------------------------------------------------------------------------------------


async def test_an_auditor_signs_in_and_the_start_page_says_what_it_reads(client, keys, fresh_db):
    key_id, key = await keys.make("auditor", name="External auditor")
    await sign_in(client, key)
    assert await fetchval(fresh_db, "select count(*) from console_session where key_id = $1", key_id) == 1
    signed = await fetchval(
        fresh_db, "select role from audit_log where key_id = $1 and detail = 'signed in to the console'", key_id
    )
    assert signed == "auditor"
    home = await client.get("/console/home")
    nav = home.text.split('<nav class="header__nav"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/console/audit"' in nav and 'href="/console/changes"' in nav and 'href="/console/providers"' in nav
    assert 'href="/console/exercises"' in nav and 'href="/console/appraisals"' in nav  # pages it reads, as staff
    assert "External auditor (auditor)" in home.text
    said = " ".join(home.text.split())
    assert 'id="auditor-reads"' in said and "Nothing you do here changes anything" in said
    assert "the pages leave out the forms that would" in said
    title = (await client.get("/exercises/1", headers=await keys.headers("commissioner"))).json()["title"]
    assert "Recent exercises" in home.text and title in unescape(home.text)
    assert 'id="reading-only"' not in home.text  # the layout's short note: the start page says it at more length


async def test_an_admin_has_the_two_pages_too_and_others_are_refused_them_as_the_api_refuses_them(client, keys):
    await signed_in(client, keys, "admin")
    home = await client.get("/console/home")
    assert 'href="/console/audit"' in home.text and 'href="/console/exercises"' in home.text
    for path in ("/console/audit", "/console/changes"):
        assert (await client.get(path)).status_code == 200
    for role, provider_id in (("commissioner", None), ("provider", 1)):
        client.cookies.clear()
        await signed_in(client, keys, role, provider_id)
        home = await client.get("/console/home")
        assert 'href="/console/audit"' not in home.text and 'href="/console/changes"' not in home.text
        for path in ("/console/audit", "/console/changes?table=need"):
            r = await client.get(path)
            assert r.status_code == 403, (role, path)
            assert "This page is for admins and auditors" in unescape(r.text), (role, r.text)
        api = await keys.headers(role, provider_id)
        assert (await client.get("/audit", headers=api)).status_code == 403  # as the API says


# --- the audit log ---------------------------------------------------------------------------------------------


async def test_the_audit_log_says_when_who_by_name_what_and_its_outcome_newest_first(client, keys, fresh_db):
    ada_id, ada = await keys.make("commissioner", name="Ada Commissioner")
    h = {"Authorization": f"Bearer {ada}"}
    exercise_id, need_id, _ = await a_need(client, h)
    refused = await client.post("/exercises", json={"title": "x"}, headers=await keys.headers("auditor"))
    assert refused.status_code == 403
    await signed_in(client, keys, "auditor")
    page = await client.get("/console/audit")
    assert page.status_code == 200
    rows = table_of(page.text)
    assert "Ada Commissioner" in rows and f"commissioner, key {ada_id}" in rows
    assert f"POST /exercises/{exercise_id}/needs" in rows and f"Created need {need_id}" in rows
    assert "POST /exercises" in rows and f"Created exercise {exercise_id}" in rows
    assert "UK time" in rows and "Changed" in rows and "status 201" in rows
    assert rows.index(f"Created need {need_id}") < rows.index(f"Created exercise {exercise_id}")  # newest first
    assert "Refused" in rows and "status 403" in rows and "The auditor role only reads" in rows
    # a write naming a record links to what it changed
    assert f"/console/changes?table=need&record_id={need_id}" in rows
    assert f"/console/changes?table=exercise&record_id={exercise_id}" in rows
    # the API's own paging: 50 to a page, newest first
    total = await fetchval(fresh_db, "select count(*) from audit_log")
    assert f"{total:,} entries" in rows
    if total > 50:
        assert "Page 1 of" in rows and 'href="/console/audit?page=2"' in page.text
        last = -(-total // 50)
        beyond = await client.get(f"/console/audit?page={last + 1}")
        assert beyond.status_code == 200 and f"Go to page {last}, the last" in beyond.text


async def test_the_audit_log_filters_as_the_api_does(client, keys, fresh_db):
    ada_id, ada = await keys.make("commissioner", name="Ada Commissioner")
    _, bea = await keys.make("commissioner", name="Bea Commissioner")
    await a_need(client, {"Authorization": f"Bearer {ada}"})
    await a_need(client, {"Authorization": f"Bearer {bea}"})
    auditor_id, auditor = await keys.make("auditor", name="External auditor")
    assert (await client.delete("/needs/1", headers={"Authorization": f"Bearer {auditor}"})).status_code == 403
    await sign_in(client, auditor)

    mine = await client.get(f"/console/audit?key_id={ada_id}")
    rows = table_of(mine.text)
    assert mine.status_code == 200 and "Ada Commissioner" in rows and "Bea Commissioner" not in rows
    assert f'<option value="{ada_id}" selected>Ada Commissioner (commissioner, key {ada_id})</option>' in mine.text
    assert "2 entries matching the filters" in rows  # Ada's exercise and need made
    denied = table_of((await client.get(f"/console/audit?outcome=denied&key_id={auditor_id}")).text)
    assert "1 entry matching the filters" in denied and "DELETE /needs/1" in denied and "Changed" not in denied
    writes = table_of((await client.get(f"/console/audit?outcome=write&key_id={auditor_id}")).text)
    assert "signed in to the console" in writes.lower() and "DELETE" not in writes
    today = dt.datetime.now(dt.UTC).date()
    later = table_of((await client.get(f"/console/audit?since={today + dt.timedelta(days=2)}")).text)
    assert "No entries match these filters." in later
    period = f"since={today - dt.timedelta(days=1)}&until={today + dt.timedelta(days=2)}"
    within = table_of((await client.get(f"/console/audit?{period}&key_id={ada_id}")).text)
    assert "Ada Commissioner" in within
    provider = table_of((await client.get("/console/audit?provider_id=99999")).text)
    assert "No entries match these filters." in provider
    # the filters are kept in the pages' links, and cleared by one
    filtered = await client.get(f"/console/audit?key_id={ada_id}&outcome=write")
    assert 'href="/console/audit">Clear filters</a>' in filtered.text


async def test_bad_filters_are_said_beside_their_boxes_never_a_server_error(client, keys):
    await signed_in(client, keys, "auditor")
    cases = {
        "/console/audit?key_id=abc": ("key_id", "'abc' is not an API key's number"),
        "/console/audit?provider_id=0": ("provider_id", "'0' is not a provider's number"),
        "/console/audit?outcome=maybe": ("outcome", "'maybe' is not one of the choices"),
        "/console/audit?since=yesterday": ("since", "must be a time written YYYY-MM-DDThh:mm:ssZ"),
        "/console/audit?since=2026-02-30": ("since", "is no date and time in the calendar"),
        "/console/audit?since=2026-12-01&until=2026-11-01": ("until", "must be later than since"),
        "/console/changes?table=needs": ("table", "'needs' is not one of the choices"),
        "/console/changes?record_id=7": ("record_id", "choose the kind of record too"),
        "/console/changes?table=need&record_id=seven": ("record_id", "need ids are whole numbers"),
        "/console/changes?table=pathway&record_id=a%20b": ("record_id", "must be a record's id or code"),
        "/console/changes?key_id=1.5": ("key_id", "'1.5' is not an API key's number"),
        "/console/changes?until=2026-13-01": ("until", "is no date and time in the calendar"),
    }
    for path, (field, said) in cases.items():
        r = await client.get(path)
        assert r.status_code == 400, (path, r.status_code, r.text[:500])
        problems = problems_of(r.text)
        assert field.replace("_", "_") in problems, (path, problems)
        assert said in problems[field], (path, problems)
        assert f'id="f-{field}-error"' in r.text, path  # beside its box
        assert 'id="entries"' not in r.text and "Correct the problem above" in r.text
    # two at once: both said
    both = await client.get("/console/audit?key_id=x&outcome=y")
    assert both.status_code == 400 and {"key_id", "outcome"} <= set(problems_of(both.text))
    # the address's page number is the console's usual page of what it cannot take
    r = await client.get("/console/audit?page=0")
    assert r.status_code == 400 and "This page's address has a value the console cannot take" in unescape(r.text)


# --- the change history ----------------------------------------------------------------------------------------


async def test_the_change_history_shows_each_change_field_by_field_with_who_made_it(client, keys, fresh_db):
    ada_id, ada = await keys.make("commissioner", name="Ada Commissioner")
    h = {"Authorization": f"Bearer {ada}"}
    priorities = [{"text": "tenancy sustainment", "weight": 2}, {"text": "prison leavers", "weight": 1}]
    exercise_id, need_id, etag = await a_need(client, h, description=LONG.strip(), local_priorities=priorities)
    r = await client.patch(
        f"/needs/{need_id}",
        json={"annual_budget": 150000, "areas": ["E06000020", "E06000051"]},
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    await signed_in(client, keys, "auditor")
    page = await client.get(f"/console/changes?table=need&record_id={need_id}")
    assert page.status_code == 200
    shown = table_of(page.text)
    assert "5 changes matching the filters" in shown  # the need, its area and cohort added; changed, an area added
    assert f"Need {need_id} changed" in shown and f"Need {need_id}: need area added" in shown
    assert f"Need {need_id} added" in shown
    assert shown.index(f"Need {need_id} changed") < shown.index(f"Need {need_id} added")  # newest first
    assert "Ada Commissioner" in shown and f"commissioner, key {ada_id}" in shown
    assert r.headers["x-request-id"] in shown  # the request, as the audit log names it
    update = shown[shown.index(f"Need {need_id} changed") :].split("</section>")[0]
    assert '<th scope="col">Before</th>' in update and '<th scope="col">After</th>' in update
    assert re.search(r"Annual budget</th><td>120000</td><td>150000</td>", update), update
    assert re.search(r"Version</th><td>1</td><td>2</td>", update)
    assert "UK time</time>" in update and 'datetime="20' in update  # updated_at in UK time, as stored in its tag
    added = shown[shown.index(f"Need {need_id} added") :].split("</section>")[0]
    assert '<th scope="col">Value</th>' in added and "Before" not in added
    assert '"text": "tenancy sustainment",\n' in added  # JSON laid out over lines to read, in a <pre>
    # a long value shortened, the whole of it to open
    exercise = table_of((await client.get(f"/console/changes?table=exercise&record_id={exercise_id}")).text)
    assert f"Exercise {exercise_id} added" in exercise
    description = exercise[exercise.index("Description</th>") :].split("</tr>")[0]
    assert "…" in description and "Show all" in description and LONG.strip() in description
    # the audit page links here
    audit = await client.get(f"/console/audit?key_id={ada_id}")
    assert f'href="/console/changes?table=need&amp;record_id={need_id}"' in audit.text
    # filters: the key's, a period
    by_ada = table_of((await client.get(f"/console/changes?key_id={ada_id}")).text)
    assert "Ada Commissioner" in by_ada and "Exercise" in by_ada
    today = dt.datetime.now(dt.UTC).date()
    none = table_of((await client.get(f"/console/changes?key_id={ada_id}&since={today + dt.timedelta(days=2)}")).text)
    assert "No changes match these filters." in none
    everything = await client.get("/console/changes")
    assert everything.status_code == 200 and f"Every change to need {need_id}" in everything.text


async def test_changes_without_a_key_name_what_made_them(client, keys, fresh_db):
    """A change made by the command line (the seed), and one made in the database around the API, name no key: the
    page says what made them. A request without a key is 'No API key' in the audit log."""
    await execute(fresh_db, "update exercise set title = 'Renamed around the API' where id = 1")
    assert (await client.get("/audit")).status_code == 401  # no key: a denied attempt, on record
    await signed_in(client, keys, "auditor")
    around = table_of((await client.get("/console/changes?table=exercise&record_id=1")).text)
    assert "No one named" in around and "changed in the database directly, around the API" in around
    assert "Renamed around the API" in around
    seeded = table_of((await client.get("/console/changes?table=pathway&record_id=ACCOM")).text)
    assert "Pathway ACCOM added" in seeded and "The command line" in seeded and "No API key" not in seeded
    denied = table_of((await client.get("/console/audit?outcome=denied")).text)
    assert "No API key" in denied and "GET /audit" in denied


def test_who_is_named_by_the_key_or_by_what_acted_without_one() -> None:
    at = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    keys = {
        3: ApiKey(3, "Ada", "commissioner", None, "prv_abcdef", at, None, None),
        4: ApiKey(4, "Old key", "admin", None, "prv_abcdef", at, None, at),
    }
    assert service.who(3, "commissioner", keys) == Who("Ada", "commissioner", 3)
    assert service.who(4, "admin", keys) == Who("Old key", "admin", 4, note="revoked since")
    assert service.who(9, "admin", keys) == Who("API key 9", "admin", 9, note="no longer on record")
    assert service.who(None, "system", keys).name == "The command line"
    assert service.who(None, "anonymous", keys).name == "No API key"
    assert service.who(None, None, keys).name == "No one named"


@pytest.mark.parametrize(
    ("value", "text", "full"),
    [
        (None, "(empty)", ""),
        (True, "Yes", ""),
        (150000, "150000", ""),
        ("2026-11-30", "30 November 2026", ""),
        ("2026-07-01T08:00:05.5+00:00", "1 July 2026, 09:00:05 UK time", ""),  # to the second
        (["E06000020", "E06000051"], "E06000020, E06000051", ""),
        ({"quality": 25}, '{"quality": 25}', ""),
        ({}, "(none)", ""),
        ([], "(none)", ""),
        ("x" * 200, "x" * 119 + "…", "x" * 200),
        ("two\nlines", "two lines", "two\nlines"),
    ],
)
def test_a_stored_value_is_shown_readably(value: object, text: str, full: str) -> None:
    got = service.shown(value)
    assert (got.text, got.full) == (text, full)


def test_a_long_json_value_is_laid_out_whole() -> None:
    got = service.shown([{"text": "tenancy sustainment", "weight": 2}, {"text": "prison leavers", "weight": 1}])
    assert got.text.startswith('[{"text": "tenancy sustainment"') and got.full.startswith('[\n  {\n    "text"')
    assert got.json


# --- an auditor changes nothing ----------------------------------------------------------------------------------


async def test_an_auditor_is_refused_every_console_form_that_writes_and_nothing_is_stored(client, keys, fresh_db):
    """Every POST of the console but signing in and out, as an auditor with the session's own CSRF token: 403 (as
    the API's guards answer an auditor's write), and nothing changed or recorded as done."""
    from litestar.handlers import HTTPRouteHandler

    from marketplace.console.routes import ROUTES

    key_id, key = await keys.make("auditor")
    csrf = await sign_in(client, key)
    before = await fetchval(fresh_db, "select count(*) from change_history")
    shortlisted = await fetchval(fresh_db, "select count(*) from console_shortlist")
    ids = {"exercise_id": 1, "clarification_id": 1, "need_id": 1, "provider_id": 3, "question_id": 1}
    ids |= {"appraisal_id": 1, "service_id": 1, "part": "options"}
    posts = sorted(
        {
            path
            for handler in ROUTES
            if isinstance(handler, HTTPRouteHandler) and "POST" in handler.http_methods
            for path in handler.paths
        }
        - {"/sign-in", "/sign-out"}
    )
    assert len(posts) > 30
    form = {"csrf_token": csrf, "title": "Changed by an auditor", "name": "Changed", "version": "1", "position": "1"}
    form |= {"provider_id": "3", "provider": "3", "question": "Why?", "answer": "Because", "from_position": "2"}
    for path in posts:
        concrete = re.sub(r"\{(\w+):\w+\}", lambda m: str(ids[m.group(1)]), path)
        r = await client.post(f"/console{concrete}", data=form, follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
        assert "the auditor role only reads: it may not change anything" in unescape(r.text).lower(), path
    assert await fetchval(fresh_db, "select count(*) from change_history") == before
    assert await fetchval(fresh_db, "select count(*) from console_shortlist") == shortlisted
    writes = await fetchval(fresh_db, "select count(*) from audit_log where key_id = $1 and outcome = 'write'", key_id)
    assert writes == 1  # signing in, and nothing else


async def test_no_page_an_auditor_reads_shows_a_form_that_writes(client, keys, fresh_db):
    """The pages an auditor may open show no form posting a change: only signing out (the header's). (The
    commissioning pages: `test_an_auditor_reads_every_commissioning_page_with_no_form_that_writes`.)"""
    await signed_in(client, keys, "auditor")
    pending = await fetchval(fresh_db, "select id from provider where status <> 'published' order by id limit 1")
    pages = ["/console/home", "/console/providers?q=housing", "/console/providers/3", "/console/audit"]
    pages += ["/console/changes", "/console/exercises/1/notice"] + (
        [f"/console/providers/{pending}"] if pending else []
    )
    for path in pages:
        r = await client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        actions = re.findall(r'<form method="post" action="([^"]+)"', r.text)
        assert actions == ["/console/sign-out"], (path, actions)
        assert "/console/providers/3/edit" not in r.text  # no link to a page an auditor is refused
    assert (await client.get("/console/providers/3/edit")).status_code == 403


# --- an auditor reads the commissioning pages, without their forms ----------------------------------------------

FORM_TAG = re.compile(r"<form\b[^>]*>", re.I)
SIGN_OUT = ["/console/sign-out"]


def posting_forms(html: str) -> list[str]:
    """The actions of the page's forms that POST: every form that changes something, and signing out."""
    found = []
    for tag in FORM_TAG.findall(html):
        if re.search(r'\bmethod="post"', tag, re.I):
            action = re.search(r'\baction="([^"]*)"', tag)
            found.append(unescape(action.group(1)) if action else "")
    return found


def console_links(html: str) -> set[str]:
    """Every console address the page links to or sends a form to (a GET form's too), without its fragment."""
    return {unescape(u).split("#")[0] for u in re.findall(r'(?:href|action)="(/console/[^"]*)"', html)}


async def a_commissioning_round(client, keys) -> dict[str, object]:
    """What an auditor follows: exercise 1 matched (a run per need), its report frozen, a provider shortlisted for
    need 1 (through the console, as a commissioner), an appraisal of it started; and a draft exercise with a need and
    two questions. The ids and names the pages should show."""
    staff = await keys.headers("commissioner")
    matched = await client.post("/exercises/1/match", headers=staff)
    assert matched.status_code in (200, 201), matched.text
    run_id = next(n["match_run_id"] for n in matched.json()["needs"] if n["need_id"] == 1)
    frozen = await client.post("/exercises/1/reports", headers=staff)
    assert frozen.status_code == 201, frozen.text
    run = (await client.get(f"/match-runs/{run_id}", headers=staff)).json()
    first, second = run["ranking"][0], run["ranking"][1]
    csrf = await signed_in(client, keys, "commissioner")
    added = await client.post(
        "/console/needs/1/shortlist", data={"csrf_token": csrf, "provider_id": first["provider_id"]}
    )
    assert added.status_code == 303, added.text
    client.cookies.clear()
    appraisal = await client.post("/exercises/1/appraisals", json={"title": "Audited appraisal"}, headers=staff)
    assert appraisal.status_code == 201, appraisal.text
    draft = await client.post("/exercises", json={"title": "Draft round", "commissioning_body": "B"}, headers=staff)
    draft_id = draft.json()["id"]
    need = {**TELFORD_NEED, "title": "Draft housing need"}
    draft_need = (await client.post(f"/exercises/{draft_id}/needs", json=need, headers=staff)).json()["id"]
    for text in ("What is your capacity?", "Who are your partners?"):
        q = await client.post(f"/exercises/{draft_id}/questions", json={"kind": "text", "text": text}, headers=staff)
        assert q.status_code == 201, q.text
    need_1 = (await client.get("/needs/1", headers=staff)).json()
    pathways = {p["code"]: p["name"] for p in (await client.get("/pathways")).json()}
    responses = (await client.get("/exercises/1/responses", headers=staff)).json()["items"]
    return {
        "exercise": (await client.get("/exercises/1", headers=staff)).json()["title"],
        "need": need_1["title"],
        "pathway": pathways[need_1["pathway"]],
        "run": run_id,
        "first": first,
        "second": second,
        "frozen": frozen.json()["id"],
        "appraisal": appraisal.json()["id"],
        "draft": draft_id,
        "draft_need": draft_need,
        "responder": responses[0],
    }


def read_pages(r: dict) -> dict[str, list[str]]:
    """Each commissioning page an auditor reads, and what of the round it must show."""
    first, second, responder = r["first"], r["second"], r["responder"]
    compare = f"/console/needs/1/compare?provider={first['provider_id']}&provider={second['provider_id']}"
    return {
        "/console/home": [r["exercise"], "Recent exercises"],
        "/console/exercises": [r["exercise"], "Draft round"],
        "/console/exercises/1": [r["exercise"], r["need"], "Audited appraisal", f"Report {r['frozen']}"],
        f"/console/exercises/{r['draft']}": ["Draft round", "Draft housing need", "Who are your partners?"],
        "/console/needs/1": [r["need"], r["pathway"], first["name"], f"Run {r['run']}"],
        f"/console/needs/{r['draft_need']}": ["Draft housing need"],
        f"/console/match-runs/{r['run']}": [f"Match run {r['run']}", first["name"], second["name"], "Shortlisted"],
        compare: ["Compare providers", first["name"], second["name"]],
        "/console/exercises/1/report?format=html": ["Market-engagement report", r["exercise"]],
        f"/console/reports/{r['frozen']}?format=html": [f"Frozen report</dt><dd>{r['frozen']}:"],
        "/console/appraisals": ["Audited appraisal"],
        f"/console/appraisals/{r['appraisal']}": ["Audited appraisal", r["exercise"]],
        f"/console/appraisals/{r['appraisal']}/report?format=html": ["Audited appraisal"],
        f"/console/exercises/1/responses/{responder['provider_id']}": [responder["provider_name"]],
        "/console/exercises/1/notice": [r["exercise"]],
    }


async def test_an_auditor_reads_every_commissioning_page_with_no_form_that_writes(client, keys, fresh_db):
    """An auditor follows a procurement's evidence in the console, as the API's GETs let it: the exercises, an
    exercise (published, and a draft), a need with its shortlist, a match run, the comparison, the market report and
    a frozen one, the appraisals, an appraisal and its report, a response. Each page shows the round's data and no
    form that POSTs but signing out (the reports' pages, which have no header: none), says once that the auditor
    reads, and links to no page the auditor would be refused. Reading stores nothing: no run, no report."""
    r = await a_commissioning_round(client, keys)
    key_id, key = await keys.make("auditor")
    await sign_in(client, key)
    runs = await fetchval(fresh_db, "select count(*) from match_run")
    frozen = await fetchval(fresh_db, "select count(*) from frozen_report")
    linked: set[str] = set()
    for path, shown in read_pages(r).items():
        page = await client.get(path)
        assert page.status_code == 200, (path, page.status_code, unescape(page.text)[:500])
        for said in shown:
            assert said in unescape(page.text), (path, said)
        report = "/report" in path or path.startswith("/console/reports/")
        assert posting_forms(page.text) == ([] if report else SIGN_OUT), (path, posting_forms(page.text))
        if not report and path != "/console/home":  # the start page says it at more length
            assert page.text.count('id="reading-only"') == 1, path
        linked |= console_links(page.text)
    for path in sorted(linked - {"/console/sign-out"} - set(read_pages(r))):
        followed = await client.get(path)
        # refused to no one reading (a GET form sent empty may be told what to choose: 400)
        assert followed.status_code not in (401, 403) and followed.status_code < 500, (path, followed.status_code)
    for csv in ("/console/exercises/1/report?format=csv", f"/console/appraisals/{r['appraisal']}/report?format=csv"):
        assert (await client.get(csv)).status_code == 200, csv
    assert await fetchval(fresh_db, "select count(*) from match_run") == runs
    assert await fetchval(fresh_db, "select count(*) from frozen_report") == frozen
    writes = await fetchval(fresh_db, "select count(*) from audit_log where key_id = $1 and outcome = 'write'", key_id)
    assert writes == 1  # signing in, and nothing else


async def test_a_commissioner_has_the_forms_the_auditor_is_not_shown(client, keys):
    """The same pages for a commissioner: the forms that write are there (so the auditor's test would see one that
    leaked)."""
    r = await a_commissioning_round(client, keys)
    await signed_in(client, keys, "commissioner")
    draft, need, run = r["draft"], r["draft_need"], r["run"]
    expected = {
        "/console/exercises": {"/console/exercises"},
        "/console/exercises/1": {
            "/console/exercises/1/match",
            "/console/exercises/1/deadline",
            "/console/exercises/1/weights",
        },
        f"/console/exercises/{draft}": {f"/console/exercises/{draft}/{x}" for x in ("edit", "needs", "questions")},
        "/console/needs/1": {"/console/needs/1/match-runs", "/console/needs/1/weights"},
        f"/console/needs/{need}": {f"/console/needs/{need}/edit", f"/console/needs/{need}/match-runs"},
        f"/console/match-runs/{run}": {"/console/needs/1/shortlist"},
        "/console/exercises/1/report?format=html": {"/console/exercises/1/reports"},
        "/console/appraisals": {"/console/appraisals"},
    }
    for path, actions in expected.items():
        page = await client.get(path)
        assert page.status_code == 200, path
        assert actions <= set(posting_forms(page.text)), (path, posting_forms(page.text))
        assert 'id="reading-only"' not in page.text, path
    shortlisted = (await client.get("/console/needs/1")).text
    assert f"/console/needs/1/shortlist/{r['first']['provider_id']}/remove" in posting_forms(shortlisted)
    appraisal = (await client.get(f"/console/appraisals/{r['appraisal']}")).text
    assert f'href="/console/appraisals/{r["appraisal"]}/options"' in appraisal


async def test_an_auditor_is_refused_the_pages_that_are_a_form_or_the_step_before_one(client, keys):
    """The GET pages that exist to change something (a question's form, the steps before removing a part or
    publishing, an appraisal's forms) refuse an auditor as its writes are refused, on a page that says so."""
    r = await a_commissioning_round(client, keys)
    staff = await keys.headers("commissioner")
    question = (await client.get(f"/exercises/{r['draft']}/questions", headers=staff)).json()[0]["id"]
    await signed_in(client, keys, "auditor")
    draft, appraisal = r["draft"], r["appraisal"]
    refused = [
        f"/console/exercises/{draft}/questions/{question}/edit",
        f"/console/exercises/{draft}/questions/{question}/remove",
        f"/console/needs/{r['draft_need']}/remove",
        f"/console/exercises/{draft}/publish",
        "/console/providers/3/edit",
        *(f"/console/appraisals/{appraisal}/{part}" for part in ("settings", "options", "criteria", "scores")),
        *(f"/console/appraisals/{appraisal}/{part}" for part in ("moderation", "costs")),
    ]
    for path in refused:
        page = await client.get(path)
        assert page.status_code == 403, (path, page.status_code)
        said = unescape(page.text)
        assert "may not change anything" in said or "you are signed in as an auditor" in said, (path, said[:400])
