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
    assert "/console/exercises" not in nav and "/console/appraisals" not in nav  # pages an auditor is refused
    assert "External auditor (auditor)" in home.text
    said = " ".join(home.text.split())
    assert 'id="auditor-reads"' in said and "Nothing you do here changes anything" in said
    assert "Recent exercises" not in home.text and "/console/exercises" not in home.text


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
    """The pages an auditor may open show no form posting a change: only signing out (the header's)."""
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
        assert '/console/exercises"' not in r.text  # no link to a page an auditor is refused
    for refused in ("/console/exercises", "/console/providers/3/edit", "/console/appraisals", "/console/needs/1"):
        assert (await client.get(refused)).status_code == 403, refused
