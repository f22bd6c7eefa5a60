"""The browser console (marketplace.console) through the real app: sessions, CSRF, the same permission checks as
the API, forms that show the API's problems beside their fields, conflicts, shortlists. The browser itself (and
accessibility) is driven in tests/browser/."""

from __future__ import annotations

import re
from html import unescape

from conftest import execute, fetchval

from marketplace import db

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client, key: str) -> str:
    """Sign in through the form; the session's CSRF token (from a page's form)."""
    client.follow_redirects = False
    page = await client.get("/console/sign-in")
    assert page.status_code == 200
    token = CSRF.search(page.text).group(1)
    done = await client.post("/console/sign-in", data={"csrf_token": token, "api_key": key, "next": "/console/home"})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/home"
    home = await client.get("/console/home")
    assert home.status_code == 200
    return CSRF.search(home.text).group(1)


async def signed_in(client, keys, role: str, provider_id: int | None = None) -> str:
    """A new key of `role` (a provider's: `provider_id`'s) signed in through the form; the session's CSRF token."""
    _, key = await keys.make(role, provider_id)
    return await sign_in(client, key)


async def post_and_follow(client, path: str, data: dict[str, str]):
    """POST a form as a browser does: answered 303 See Other; the page the answer leads to (200)."""
    done = await client.post(path, data=data)
    assert done.status_code == 303, done.text
    shown = await client.get(done.headers["location"])
    assert shown.status_code == 200
    return shown


async def test_signing_in_keeps_the_account_not_the_key_in_a_strict_http_only_cookie(client, keys, fresh_db):
    key_id, key = await keys.make("commissioner", name="Ada Commissioner")
    client.follow_redirects = False
    page = await client.get("/console/sign-in")
    token = CSRF.search(page.text).group(1)
    done = await client.post("/console/sign-in", data={"csrf_token": token, "api_key": key, "next": "/console/home"})
    assert done.status_code == 303
    cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith("provision_session="))
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/console/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS it is Secure
    session_id = cookie.split(";")[0].split("=", 1)[1]
    conn = await db.connect(fresh_db)
    try:
        rows = await conn.fetch("select key_id, id_hash from console_session")
        audit = await conn.fetchval("select count(*) from audit_log where detail = 'signed in to the console'")
    finally:
        await conn.close()
    assert [r["key_id"] for r in rows] == [key_id]
    assert session_id.encode() not in bytes(rows[0]["id_hash"]) and key.encode() not in bytes(rows[0]["id_hash"])
    assert audit == 1
    home = await client.get("/console/home")
    assert "Ada Commissioner" in home.text and "commissioner" in home.text


async def test_a_bad_key_is_shown_beside_the_field_and_starts_no_session(client, keys, fresh_db):
    page = await client.get("/console/sign-in")
    token = CSRF.search(page.text).group(1)
    bad = await client.post("/console/sign-in", data={"csrf_token": token, "api_key": "prv_nope", "next": ""})
    assert bad.status_code == 400
    assert 'class="error-summary"' in bad.text and 'href="#f-api_key"' in bad.text
    assert 'id="f-api_key-error"' in bad.text and "this is not an API key: a key starts prv_" in bad.text
    unknown = await client.post("/console/sign-in", data={"csrf_token": token, "api_key": "prv_" + "x" * 43})
    assert unknown.status_code == 400 and "not one this marketplace gave: check you pasted the whole key" in (
        unknown.text
    )
    revoked_id, revoked = await keys.make("commissioner")
    await execute(fresh_db, "update api_key set revoked_at = now() where id = $1", revoked_id)
    gone = await client.post("/console/sign-in", data={"csrf_token": token, "api_key": revoked})
    assert gone.status_code == 400 and "this key has been revoked: ask an admin for a new one" in gone.text
    empty = await client.post("/console/sign-in", data={"csrf_token": token, "api_key": ""})
    assert empty.status_code == 400 and "enter your API key" in empty.text
    assert await fetchval(fresh_db, "select count(*) from console_session") == 0


async def test_the_sign_in_form_needs_its_own_token(client, keys):
    _, key = await keys.make("commissioner")
    await client.get("/console/sign-in")
    forged = await client.post("/console/sign-in", data={"csrf_token": "x" * 43, "api_key": key})
    assert forged.status_code == 403
    assert "provision_session" not in forged.headers.get("set-cookie", "")


async def test_pages_need_a_session_and_posts_need_its_csrf_token(client, keys, fresh_db):
    client.follow_redirects = False
    gone = await client.get("/console/providers?q=recovery")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/console/sign-in?next=/console/providers%3Fq%3Drecovery"
    csrf = await signed_in(client, keys, "provider", 1)
    profile = await client.get("/console/providers/1/edit")
    assert profile.status_code == 200
    forged = await client.post("/console/providers/1/edit", data={"name": "Hijacked", "version": "1"})
    assert forged.status_code == 403 and "did not come from this site" in forged.text
    wrong = await client.post(
        "/console/providers/1/edit", data={"name": "Hijacked", "version": "1", "csrf_token": "no"}
    )
    assert wrong.status_code == 403
    after = await client.get("/providers/1")
    assert after.json()["name"] != "Hijacked"
    assert csrf


async def test_every_post_only_address_asked_for_again_goes_back_to_its_forms_page(client, keys):
    """A page with a form's problems answers its POST at the POST's address: reloading it (GET) goes back to the
    form's page, never to a page saying the address takes POST only (405)."""
    from litestar.handlers import HTTPRouteHandler

    from marketplace.console.routes import BACK_TO, ROUTES

    methods: dict[str, set[str]] = {}
    for handler in ROUTES:
        if isinstance(handler, HTTPRouteHandler):
            for path in handler.paths:
                methods.setdefault(path, set()).update(handler.http_methods)
    post_only = {p for p, m in methods.items() if m == {"POST"}}
    assert not post_only, f"POST-only console addresses with nowhere to go back to: {sorted(post_only)}"
    assert set(BACK_TO) <= set(methods)
    await signed_in(client, keys, "commissioner")
    ids = {"exercise_id": 1, "clarification_id": 2, "need_id": 3, "provider_id": 4, "question_id": 5}
    for path, target in BACK_TO.items():
        concrete = re.sub(r"\{(\w+):int\}", lambda m: str(ids[m.group(1)]), path)
        r = await client.get(f"/console{concrete}", follow_redirects=False)
        assert r.status_code == 303, (path, r.status_code)
        assert r.headers["location"] == target.format(**ids), path


async def test_the_console_keeps_the_apis_permissions(client, keys):
    csrf = await signed_in(client, keys, "provider", 1)
    assert (await client.get("/console/exercises")).status_code == 403
    other = await client.get("/console/providers/2/edit")
    assert other.status_code == 403 and "only on its own provider" in other.text
    posted = await client.post("/console/providers/2/confirm", data={"csrf_token": csrf})
    assert posted.status_code == 403
    assert (await client.get("/console/needs/1")).status_code == 403
    assert (await client.get("/console/needs/1/remove")).status_code == 403
    removal = await client.post("/console/needs/1/remove", data={"csrf_token": csrf, "version": "1"})
    assert removal.status_code == 403
    assert (await client.get("/console/exercises/1/questions/1/remove")).status_code == 403
    assert (await client.get("/console/exercises/1/questions/1/edit")).status_code == 403
    for path in (
        "/console/exercises/1/edit",
        "/console/exercises/1/deadline",
        "/console/exercises/1/weights",
        "/console/exercises/1/questions/1/remove",
        "/console/exercises/1/questions/1/edit",
        "/console/needs/1/edit",
        "/console/needs/1/weights",
    ):
        versions = {"weights.version": "1", "need.version": "1", "question.version": "1"}
        refused = await client.post(path, data={"csrf_token": csrf, **versions})
        assert refused.status_code == 403, path


async def test_a_profile_edit_shows_the_apis_problem_beside_the_field_and_stores_nothing(client, keys):
    csrf = await signed_in(client, keys, "provider", 1)
    before = (await client.get("/providers/1")).json()
    form = {
        "csrf_token": csrf,
        "version": str(before["version"]),
        "name": before["name"],
        "description": "New description",
        "contact.email": "not an address",
    }
    bad = await client.post("/console/providers/1/edit", data=form)
    assert bad.status_code == 400
    assert 'href="#f-contact-email"' in bad.text and 'id="f-contact-email-error"' in bad.text
    assert 'value="not an address"' in bad.text  # what was typed is kept
    assert (
        "matching regex" not in bad.text
        and "must be an e-mail address (no spaces), e.g. info@example.org.uk" in bad.text
    )
    assert (await client.get("/providers/1")).json()["version"] == before["version"]
    form["contact.email"] = "referrals@example.org.uk"
    saved = await post_and_follow(client, "/console/providers/1/edit", form)
    assert "Your changes have been saved" in saved.text
    after = (await client.get("/providers/1")).json()
    assert after["description"] == "New description" and after["contact"]["email"] == "referrals@example.org.uk"
    assert after["version"] == before["version"] + 1


async def test_a_conflicting_edit_says_what_changed_since_the_form_was_opened(client, keys):
    csrf = await signed_in(client, keys, "provider", 1)
    opened = (await client.get("/providers/1")).json()
    headers = {**await keys.headers("provider", 1), "If-Match": f'"v{opened["version"]}"'}
    meanwhile = await client.patch(
        "/providers/1",
        json={"description": "Changed by a colleague", "website": "https://colleague.example.org"},
        headers=headers,
    )
    assert meanwhile.status_code == 200
    form = {
        "csrf_token": csrf,
        "version": str(opened["version"]),
        "name": opened["name"],
        "description": "Mine",
        "website": opened["website"] or "",
    }
    clash = await client.post("/console/providers/1/edit", data=form)
    assert clash.status_code == 409
    assert "This was changed since you opened it" in clash.text
    assert "Changed by a colleague" in clash.text
    assert f'name="version" value="{opened["version"] + 1}"' in clash.text
    assert 'value="https://colleague.example.org"' in clash.text  # left as opened: now shows theirs
    assert ">Mine</textarea>" in clash.text  # changed by both: the form keeps what was typed
    assert (await client.get("/providers/1")).json()["description"] == "Changed by a colleague"


async def test_a_service_edit_goes_through_the_services_rules(client, keys):
    csrf = await signed_in(client, keys, "provider", 1)
    svc = (await client.get("/providers/1/services")).json()[0]
    profile = (await client.get("/providers/1")).json()
    form = {
        "csrf_token": csrf,
        "version": str(svc["version"]),
        "profile_version": str(profile["version"]),
        "name": svc["name"],
        "description": svc["description"],
        "status": "active",
        "areas": "E06000019, Herefordshre",  # a name misspelt (names are read: tests/test_console_areas.py)
        "capacity.places_available": "3",
        "capacity.places_as_of": "",  # as a browser sends a box left empty (a box the form lacks is left alone)
    }
    bad = await client.post(f"/console/providers/1/services/{svc['id']}/edit", data=form)
    assert bad.status_code == 400 and 'id="f-areas-error"' in bad.text
    form["areas"] = "E06000019"
    rule = await client.post(f"/console/providers/1/services/{svc['id']}/edit", data=form)
    assert rule.status_code == 400 and "the date they were counted" in rule.text  # a 422 rule of the service's
    form["capacity.places_as_of"] = "2026-11-01"
    good = await client.post(f"/console/providers/1/services/{svc['id']}/edit", data=form)
    assert good.status_code == 303, re.findall(r'class="error-message"[^>]*>(.*?)</p>', good.text, re.S)
    after = (await client.get(f"/providers/1/services/{svc['id']}")).json()
    assert after["areas"] == ["E06000019"] and after["capacity"]["places_available"] == 3
    assert after["capacity"]["places_as_of"] == "2026-11-01"


async def test_a_search_result_says_how_many_more_services_it_has_than_it_lists(client, keys):
    await signed_in(client, keys, "commissioner")
    api = (await client.get("/providers", params={"q": "Hollybrook Recovery Partnership"})).json()["items"][0]
    assert len(api["matched_services"]) > 3, "the seeded provider this test reads has more than three services"
    page = await client.get("/console/providers", params={"q": "Hollybrook Recovery Partnership"})
    more = len(api["matched_services"]) - 3
    assert f'<a href="/console/providers/{api["id"]}">and {more} more service' in page.text


async def test_a_provider_s_page_lists_each_service_s_outcomes_records(client, keys):
    """A reviewer read "Outcomes recorded 1" on a provider's page with no way to read the record. Each service's
    records are listed: what, measured how, over what period, the figure, for how many, and the evidence."""
    await signed_in(client, keys, "commissioner")

    async def first_with_records() -> tuple[int, dict]:
        for page_number in range(1, 8):
            listed = (await client.get("/providers", params={"per_page": 20, "page": page_number})).json()["items"]
            for p in listed:
                services = (await client.get(f"/providers/{p['id']}/services")).json()
                if with_records := [s for s in services if s["outcomes"]]:
                    return p["id"], with_records[0]
        raise AssertionError("the seeded directory has a service with an outcomes record")

    pid, service = await first_with_records()
    page = unescape((await client.get(f"/console/providers/{pid}")).text)
    record = service["outcomes"][0]
    row = re.search(rf"<tr><td>{re.escape(record['outcome'])}</td>(.*?)</tr>", page)
    assert row is not None, record
    assert f'<td data-label="Measure">{record["measure"]}</td><td data-label="Period">{record["period"]}</td>' in row[1]
    assert f"{len(service['outcomes'])}, below" in page


async def test_a_search_that_finds_nothing_says_so_and_what_to_try(client, keys):
    """A reviewer's search for a word no provider has showed "Showing results for ." and three filter headings with
    nothing under them. It says no provider matches and what to try; a filter with nothing to offer is not shown;
    *Clear filters* keeps the search words."""
    await signed_in(client, keys, "commissioner")
    page = (await client.get("/console/providers", params={"q": "xyzzyqq"})).text
    said = unescape(re.search(r'<p class="body" id="nothing-found">(.*?)</p>', page).group(1))
    assert said.startswith("No published provider matches “xyzzyqq”. Try fewer or other words")
    assert "Showing results for" not in page and "<legend" not in page.split('id="results"')[0]
    filtered = (await client.get("/console/providers", params={"q": "xyzzyqq", "pathway": "ACCOM"})).text
    said = unescape(re.search(r'<p class="body" id="nothing-found">(.*?)</p>', filtered).group(1))
    assert (
        "“xyzzyqq” with these filters" in said
        and '<a href="/console/providers?q=xyzzyqq">clear the filters</a>' in said
    )
    assert 'name="pathway" type="checkbox" value="ACCOM" checked' in filtered  # a chosen filter stays, to untick
    assert '<a href="/console/providers?q=xyzzyqq">Clear filters</a>' in filtered
    found = (await client.get("/console/providers", params={"q": "recovery"})).text
    assert "Showing results for" in found and 'id="nothing-found"' not in found and "<legend" in found


async def test_a_ticked_filter_offers_its_other_choices_to_widen_the_search(client, keys):
    """A reviewer ticking Accommodation saw every other pathway vanish (none of the providers found has them, so
    they counted 0), and could not add Health; and with Telford ticked read "Worcestershire (11)" though ticking it
    gave 96. A filter's choices are alternatives: once one is ticked, every choice is offered, the others without a
    count (which would say nothing of what they add), the ticked one with its count."""
    await signed_in(client, keys, "commissioner")
    page = (await client.get("/console/providers", params={"pathway": "ACCOM"})).text
    labels = dict(re.findall(r'<label class="checkboxes__label" for="pathway-(\w+)">(.*?)</label>', page))
    api = (await client.get("/providers", params={"pathway": "ACCOM", "per_page": 1})).json()
    assert labels["ACCOM"] == f'Accommodation <span class="count">({api["total"]})</span>'
    assert labels["HEALTH"] == "Health"  # offered, uncounted
    assert len(labels) == len((await client.get("/pathways")).json())  # every pathway
    assert "Any of those ticked: tick another to widen the search." in page
    sectors = re.findall(r'for="sector-(\w+)">[^<]*<span class="count">\((\d+)\)', page)
    assert sectors and all(int(n) > 0 for _, n in sectors)  # a filter with none ticked: counted, as before


async def test_commissioners_match_compare_and_shortlist(client, keys, fresh_db):
    csrf = await signed_in(client, keys, "commissioner")
    run_page = await post_and_follow(client, "/console/needs/1/match-runs", {"csrf_token": csrf})
    assert "Ranking" in run_page.text
    ids = re.findall(r'name="provider" value="(\d+)"', run_page.text)[:4]
    assert len(ids) >= 3
    five = [*ids, *(str(i) for i in range(1, 10) if str(i) not in ids)][:5]
    compare = await client.get("/console/needs/1/compare?" + "&".join(f"provider={i}" for i in ids[:3]))
    assert compare.status_code == 200
    assert compare.text.count('<th scope="row">') >= 9  # a row per criterion, and the overall rows
    too_many = await client.get("/console/needs/1/compare?" + "&".join(f"provider={i}" for i in five))
    assert too_many.status_code == 200  # the first four compared, saying so (not an error page, the ticks lost)
    shown = re.findall(r'<th scope="col" id="col-(\d+)">', too_many.text)
    assert shown == five[:4] and "You ticked 5 providers: the first 4 are compared here" in too_many.text
    back = "/console/needs/1/compare?" + "&amp;".join(f"provider={i}" for i in ids[:3])
    assert f'name="back" value="{back}"' in compare.text  # shortlisting from the comparison comes back to it
    # added from the ranking, the page comes back at the provider's row (not at the top of a long table)
    run_id = re.search(r"Match run (\d+)", run_page.text).group(1)
    back = f"/console/match-runs/{run_id}#provider-{ids[0]}"
    assert f'<tr id="provider-{ids[0]}">' in run_page.text and f'name="back" value="{back}"' in run_page.text
    added = await client.post(
        "/console/needs/1/shortlist", data={"csrf_token": csrf, "provider_id": ids[0], "back": back}
    )
    assert added.status_code == 303 and added.headers["location"] == back
    need = await client.get("/console/needs/1")
    assert f'action="/console/needs/1/shortlist/{ids[0]}/remove"' in need.text
    removed = await client.post(f"/console/needs/1/shortlist/{ids[0]}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 303
    conn = await db.connect(fresh_db)
    try:
        assert await conn.fetchval("select count(*) from console_shortlist") == 0
        details = await conn.fetch("select detail from audit_log where detail like '%shortlist%' order by id")
    finally:
        await conn.close()
    assert [r["detail"] for r in details] == ["shortlisted for need 1", "removed from need 1's shortlist"]


async def test_a_refused_form_s_error_page_links_back_to_the_form_s_page(client, keys):
    """A reviewer pressing *Match every need* on an exercise with none reached a page whose only link was to the
    start page. An error page answering a form's POST links back to the form's page."""
    csrf = await signed_in(client, keys, "commissioner")
    staff = await keys.headers("commissioner")
    exercise = (
        await client.post("/exercises", headers=staff, json={"title": "Empty", "commissioning_body": "B"})
    ).json()
    refused = await client.post(f"/console/exercises/{exercise['id']}/match", data={"csrf_token": csrf})
    assert refused.status_code in (409, 422), refused.text
    assert f'<a href="/console/exercises/{exercise["id"]}">Back to the page you were on</a>' in refused.text
    unknown = await client.get("/console/needs/999999")  # a page asked for, not a form's answer: no such link
    assert unknown.status_code == 404 and "Back to the page you were on" not in unknown.text


async def test_a_console_run_is_deep_enough_for_match_every_need_to_reuse(client, keys, fresh_db):
    """ "Run a match now" ranked 50 deep, so matching every need (and the report) ranked need 1 again: it ranks as
    deep as they do, and they give its run back."""
    csrf = await signed_in(client, keys, "commissioner")
    run_page = await post_and_follow(client, "/console/needs/1/match-runs", {"csrf_token": csrf})
    run_id = int(re.search(r"/console/match-runs/(\d+)", str(run_page.url)).group(1))
    matched = await client.post("/exercises/1/match", headers=await keys.headers("commissioner"))
    assert matched.status_code in (200, 201), matched.text
    need_1 = next(n for n in matched.json()["needs"] if n["need_id"] == 1)
    assert need_1["reused"] is True and need_1["match_run_id"] == run_id, need_1


async def test_a_match_run_page_explains_every_provider_it_ranks_and_why_the_others_are_not_eligible(client, keys):
    """A reviewer found the explanations stopping silently at rank 10 while the ranking went on, and "Not eligible
    96" with reasons for a few only. Each provider the page ranks has its explanation; the not eligible are counted
    by reason, as the run counts them, and those offering the pathway near the areas named with their reasons."""
    csrf = await signed_in(client, keys, "commissioner")
    staff = await keys.headers("commissioner")
    exercise = (await client.post("/exercises", headers=staff, json={"title": "ETE", "commissioning_body": "B"})).json()
    areas = ["E06000020", "E06000019", "E10000034"]  # Telford and Wrekin, Herefordshire, Worcestershire
    need = {"title": "Jobs", "pathway": "ETE", "areas": areas, "annual_volume": 100, "annual_budget": 50000}
    need |= {"min_years_experience": 8}  # some offering the pathway near the areas are too new to it
    made = await client.post(f"/exercises/{exercise['id']}/needs", headers=staff, json=need)
    assert made.status_code == 201, made.text
    page = (await post_and_follow(client, f"/console/needs/{made.json()['id']}/match-runs", {"csrf_token": csrf})).text
    run_id = re.search(r"Match run (\d+)", page).group(1)
    run = (await client.get(f"/match-runs/{run_id}", headers=staff)).json()
    assert len(run["ranking"]) > 10 and run["excluded"]  # more than the page once explained
    explained = re.findall(r'<summary class="details__summary">(\d+)\. ', page)
    assert explained == [str(c["rank"]) for c in run["ranking"]]
    said = unescape(
        re.search(r'<h2 class="heading-m" id="not-eligible">(.*?)</h2>\s*<p class="body">(.*?)</p>', page).groups()
    )
    assert said[0] == f"Not eligible ({run['excluded_count']})"
    for reason, count in run["excluded_by_reason"].items():
        if count:
            assert f"{reason.replace('_', ' ')} {count}" in said[1].lower(), (reason, said[1])
    for e in run["excluded"][:20]:
        assert unescape(f"{e['name']}: ") in unescape(page)


async def test_a_match_runs_breadcrumbs_name_its_exercise(client, keys):
    csrf = await signed_in(client, keys, "commissioner")
    run_page = await post_and_follow(client, "/console/needs/1/match-runs", {"csrf_token": csrf})
    title = (await client.get("/exercises/1", headers=await keys.headers("commissioner"))).json()["title"]
    crumbs = unescape(re.search(r'<nav class="breadcrumbs".*?</nav>', run_page.text, re.S).group(0))
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', crumbs)
    assert links[:2] == [("/console/exercises", "Exercises"), ("/console/exercises/1", title)], links
    assert ">Exercise<" not in crumbs


async def test_the_compare_page_s_breadcrumbs_start_at_exercises_as_the_need_s_and_run_s_do(client, keys):
    """The compare page's breadcrumbs started at the need, where every other page of an exercise's starts at
    *Exercises*: now Exercises, the exercise, the need, the run, then Compare."""
    csrf = await signed_in(client, keys, "commissioner")
    run_page = await post_and_follow(client, "/console/needs/1/match-runs", {"csrf_token": csrf})
    ids = re.findall(r'name="provider" value="(\d+)"', run_page.text)[:2]
    run_id = re.search(r"/console/match-runs/(\d+)", str(run_page.url)).group(1)
    h = await keys.headers("commissioner")
    title = (await client.get("/exercises/1", headers=h)).json()["title"]
    need = (await client.get("/needs/1", headers=h)).json()["title"]
    compare = await client.get("/console/needs/1/compare?" + "&".join(f"provider={i}" for i in ids))
    assert compare.status_code == 200
    crumbs = unescape(re.search(r'<nav class="breadcrumbs".*?</nav>', compare.text, re.S).group(0))
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', crumbs) == [
        ("/console/exercises", "Exercises"),
        ("/console/exercises/1", title),
        ("/console/needs/1", need),
        (f"/console/match-runs/{run_id}", f"Run {run_id}"),
    ]
    assert crumbs.endswith('<li aria-current="page">Compare</li></ol></nav>')


async def test_report_downloads_come_from_the_reports_service(client, keys):
    csrf = await signed_in(client, keys, "commissioner")
    matched = await client.post("/console/exercises/1/match", data={"csrf_token": csrf})
    assert matched.status_code == 303 and matched.headers["location"] == "/console/exercises/1?matched=1"
    assert "Every need has been matched" in (await client.get(matched.headers["location"])).text
    html = await client.get("/console/exercises/1/report?format=html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    csv = await client.get("/console/exercises/1/report?format=csv")
    assert csv.status_code == 200 and csv.headers["content-disposition"].startswith("attachment;")
    assert b"need" in csv.content[:200]


FREEZE_FORM = re.compile(r'<form method="post" action="/console/exercises/1/reports">.*?</form>', re.S)


async def test_the_report_page_freezes_the_report_and_shows_the_frozen_one(client, keys, fresh_db):
    """A commissioner freezes the market report from its console page (as POST /exercises/{id}/reports): the page
    says what freezing means beside the button, the button stores it and leads back to the exercise's console page
    (it led to the bare frozen report, with no way back), which says so and links to the frozen report: the stored
    bytes the API serves. The API's own report page carries none of the console's controls."""
    csrf = await signed_in(client, keys, "commissioner")
    await post_and_follow(client, "/console/exercises/1/match", {"csrf_token": csrf})
    page = await client.get("/console/exercises/1/report?format=html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "form-action 'self'" in page.headers["content-security-policy"]
    form = FREEZE_FORM.search(page.text)
    assert form is not None and f'name="csrf_token" value="{csrf}"' in form.group(0)
    assert ">Freeze this report</button>" in form.group(0)
    said = unescape(re.sub(r"<[^>]+>", "", re.search(r'<p id="freeze-means">.*?</p>', page.text, re.S).group(0)))
    api = await client.get("/exercises/1/report?format=json", headers=await keys.headers("commissioner"))
    runs = api.json()["method"]["match_run_ids"]
    assert len(runs) == 6 and "never changes" in said and "freezing runs no match" in said
    assert f"match runs {', '.join(map(str, runs[:-1]))} and {runs[-1]}" in said  # which runs it reads
    api = await client.get("/exercises/1/report?format=html", headers=await keys.headers("commissioner"))
    assert "console-controls" not in api.text and "/console/" not in api.text

    refused = await client.post("/console/exercises/1/reports", data={})
    assert refused.status_code == 403  # the session's CSRF token, as every console form
    done = await client.post("/console/exercises/1/reports", data={"csrf_token": csrf})
    assert done.status_code == 303, done.text
    report_id = int(re.fullmatch(r"/console/exercises/1\?frozen=(\d+)", done.headers["location"]).group(1))
    landed = await client.get(done.headers["location"])
    assert landed.status_code == 200 and '<nav class="breadcrumbs"' in landed.text
    said = unescape(re.search(r'<div [^>]*id="just-frozen">.*?</div>', landed.text, re.S).group(0))
    assert f"frozen as report {report_id}" in said and "UK time, never to change" in said
    assert f'<a href="/console/reports/{report_id}?format=html">Open frozen report {report_id}</a>' in said
    shown = await client.get(f"/console/reports/{report_id}?format=html")
    assert shown.status_code == 200 and f"Frozen report</dt><dd>{report_id}:" in shown.text
    stored = await client.get(f"/reports/{report_id}?format=html", headers=await keys.headers("commissioner"))
    assert shown.content == stored.content and "console-controls" not in shown.text
    assert await fetchval(fresh_db, "select match_run_ids from frozen_report where id = $1", report_id) == runs
    detail = f"froze report {report_id} of exercise 1"
    assert await fetchval(fresh_db, "select count(*) from audit_log where detail = $1", detail) == 1
    exercise = await client.get("/console/exercises/1")
    assert f'href="/console/reports/{report_id}?format=html"' in exercise.text
    assert 'id="just-frozen"' not in exercise.text  # said once, on landing
    other = await client.get(f"/console/exercises/1?frozen={report_id + 1}")  # no such report of this exercise
    assert other.status_code == 200 and 'id="just-frozen"' not in other.text


async def test_a_report_that_cannot_be_frozen_says_why_in_the_consoles_words_on_its_page(client, keys, fresh_db):
    """A need with no stored run: the report page says freezing is refused, as the API refuses it (422), naming each
    need with no run by number and title (not the API's and the command line's way to match them, `POST
    /exercises/1/match` or `marketplace match-exercise 1`: the page has the button), and offers to match every need
    (which comes back to the report); pressing freeze anyway says so on the report's page (422), not an error page,
    and stores nothing."""
    csrf = await signed_in(client, keys, "commissioner")
    api = await client.post("/exercises/1/reports", headers=await keys.headers("commissioner"))
    assert (
        api.status_code == 422
        and "needs 1, 2, 3, 4, 5, 6 have no stored match run" in api.json()["errors"][0]["problem"]
    )
    needs = (await client.get("/exercises/1", headers=await keys.headers("commissioner"))).json()["needs"]
    named = [f"Need {n['id']}, {n['title']}: no match run is stored for this need" for n in needs]
    page = await client.get("/console/exercises/1/report?format=html")
    assert page.status_code == 200 and FREEZE_FORM.search(page.text) is None
    refused = unescape(re.search(r'<div class="console-refused".*?</form>', page.text, re.S).group(0))
    assert "cannot be frozen yet" in refused and "needs have no stored match run to report from" in refused
    assert all(n in refused for n in named), refused
    assert "POST /exercises" not in refused and "marketplace match-exercise" not in refused
    pressed = await client.post("/console/exercises/1/reports", data={"csrf_token": csrf})
    assert pressed.status_code == 422 and pressed.headers["content-type"].startswith("text/html")
    text = unescape(pressed.text)
    assert "This report was not frozen." in text and all(n in text for n in named) and 'role="alert"' in text
    assert "Market-engagement report" in text  # the report's page, not an error page
    assert await fetchval(fresh_db, "select count(*) from frozen_report") == 0
    back = "/console/exercises/1/report?format=html"
    matched = await client.post("/console/exercises/1/match", data={"csrf_token": csrf, "back": back})
    assert matched.status_code == 303 and matched.headers["location"] == back
    assert FREEZE_FORM.search((await client.get(back)).text) is not None


async def test_a_stale_need_is_said_beside_the_freeze_button_and_frozen_marked_stale(client, keys, fresh_db):
    """As the API: a need changed since its run does not stop freezing (its run is frozen marked stale); the page
    says so beside the button, naming the need, and offers to match every need first."""
    csrf = await signed_in(client, keys, "commissioner")
    await post_and_follow(client, "/console/exercises/1/match", {"csrf_token": csrf})
    headers = {**await keys.headers("commissioner"), "If-Match": '"v1"'}
    changed = await client.patch("/needs/2", json={"area_volumes": {"E06000020": 70, "E10000034": 80}}, headers=headers)
    assert changed.status_code == 200, changed.text
    page = await client.get("/console/exercises/1/report?format=html")
    stale = unescape(re.sub(r"<[^>]+>", "", re.search(r'<p id="freeze-stale">.*?</p>', page.text, re.S).group(0)))
    assert "need 2, Education, training and employment for care leavers" in stale and "marked stale" in stale
    assert FREEZE_FORM.search(page.text) is not None
    done = await client.post("/console/exercises/1/reports", data={"csrf_token": csrf})
    assert done.status_code == 303
    report_id = done.headers["location"].split("/")[-1].split("?")[0]
    frozen = (await client.get(f"/reports/{report_id}?format=json", headers=await keys.headers("commissioner"))).json()
    assert frozen["freshness"]["stale_need_ids"] == [2]


async def test_signing_out_ends_the_session(client, keys, fresh_db):
    csrf = await signed_in(client, keys, "commissioner")
    signed_out = await post_and_follow(client, "/console/sign-out", {"csrf_token": csrf})
    assert "You have signed out" in signed_out.text
    assert await fetchval(fresh_db, "select count(*) from console_session") == 0
    assert (await client.get("/console/home")).status_code == 303


async def test_revoking_the_key_ends_its_sessions(client, keys, fresh_db):
    key_id, key = await keys.make("commissioner")
    await sign_in(client, key)
    await execute(fresh_db, "update api_key set revoked_at = now() where id = $1", key_id)
    assert (await client.get("/console/home")).status_code == 303


async def test_the_console_is_not_in_the_openapi_document(read_client):
    paths = (await read_client.get("/schema/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/console")]


async def test_an_idle_session_expires_and_bad_parameters_get_a_page(client, keys, fresh_db):
    await signed_in(client, keys, "commissioner")
    too_long = await client.get("/console/providers?q=" + "x" * 201)
    assert too_long.status_code == 400 and too_long.headers["content-type"].startswith("text/html")
    assert "There is a problem" in too_long.text
    await execute(fresh_db, "update console_session set last_seen_at = now() - interval '8 hours 1 minute'")
    assert (await client.get("/console/home")).status_code == 303
    assert await fetchval(fresh_db, "select count(*) from console_session") == 0


async def test_head_on_a_console_page_answers_as_get_would_without_the_body(client, keys):
    """HEAD on a page was a 405 (the framework routes HEAD only to handlers of HEAD alone): a browser, a link checker
    or a monitor asking HEAD is answered as GET would be, headers and all, with no body; the API is unchanged."""
    await signed_in(client, keys, "commissioner")
    for path in ("/console/sign-in", "/console/home", "/console/providers/1", "/console/nowhere"):
        got, head = await client.get(path), await client.head(path)
        assert head.status_code == got.status_code and head.content == b"", (path, head.status_code)
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-length"] == got.headers["content-length"], path
    assert (await client.head("/providers")).status_code == 405


async def test_a_query_string_too_long_is_a_console_page(read_client):
    """The app reads a query string of at most 32,768 characters: beyond, a 414 page (the API says it in JSON),
    not the server's bare 414 (which it still gives from 64 KiB, before the app sees the request)."""
    r = await read_client.get("/console/sign-in", params={"next": "/console/home", "q": "x" * 40_000})
    assert r.status_code == 414 and r.headers["content-type"].startswith("text/html")
    assert "The address is too long" in r.text and "is too long: 40," in r.text and "at most 32,768" in r.text
    assert r.text.count("32,768") == 1  # said once
    r = await read_client.get("/console/sign-in", params={"q": "x" * 30_000})
    assert r.status_code == 400  # within the limit: read, and told what is wrong with it


async def test_the_consoles_assets_are_served_by_the_app(read_client):
    css = await read_client.get("/console/static/console.css")
    js = await read_client.get("/console/static/console.js")
    assert (
        css.status_code == 200 and css.headers["content-type"].startswith("text/css") and ".error-summary" in css.text
    )
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert (await read_client.get("/console/static/secret")).status_code == 404


async def test_every_console_page_has_the_apps_own_icon(read_client):
    """Every page logged a 404 for /favicon.ico: the layout declared no icon. The icon is a file of the app's, linked
    from every console page (the sign-in page and error pages too); a self-contained report page links none (its
    Content-Security-Policy would refuse it)."""
    icon = await read_client.get("/console/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg") and "<script" not in icon.text
    assert "default-src 'none'" in icon.headers["content-security-policy"]
    link = '<link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml">'
    for path in ("/console/sign-in", "/console/nowhere"):
        assert link in (await read_client.get(path)).text, path
    from marketplace.templating import render

    assert 'rel="icon"' not in render("base.html.j2")  # a page that gives no icon asks for none


def test_times_are_shown_as_the_uk_clock_shows_them() -> None:
    from datetime import UTC, datetime

    from marketplace.formatting import uk_when

    assert uk_when(datetime(2026, 10, 1, 8, 0, tzinfo=UTC)) == "1 October 2026, 09:00 UK time"  # BST
    assert uk_when(datetime(2026, 12, 1, 8, 0, tzinfo=UTC)) == "1 December 2026, 08:00 UK time"  # GMT
    assert uk_when(datetime(2026, 3, 29, 0, 30)) == "29 March 2026, 00:30 UK time"  # no offset: UTC, before 01:00
    assert uk_when(datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == "29 March 2026, 02:30 UK time"  # clocks gone forward
    assert uk_when(None) == "not recorded"


async def test_console_pages_show_times_in_uk_time(client, keys):
    """The exercise page said "Published 1 October 2026, 08:00 UTC" beside a deadline in UK time (09:00 in the UK,
    on BST then): every time a console page shows is UK time."""
    from datetime import datetime

    from marketplace.formatting import uk_when

    await signed_in(client, keys, "commissioner")
    published = (await client.get("/exercises/1/notice")).json()["published_at"]
    page = await client.get("/console/exercises/1")
    assert page.status_code == 200
    assert f'Published</dt><dd class="summary-list__value">{uk_when(datetime.fromisoformat(published))}' in page.text
    assert "UTC" not in page.text


async def test_a_shortlisted_providers_number_is_plain_digits(client, keys, fresh_db):
    """The shortlist form's provider number in Arabic-Indic or fullwidth digits, or with a digit group, is not
    provider 12 (or 1000): the page says what is wrong and nobody is shortlisted."""
    csrf = await signed_in(client, keys, "commissioner")
    client.follow_redirects = False
    for typed in ("١٢", "１２", "1_0", " 12"):
        refused = await client.post("/console/needs/1/shortlist", data={"csrf_token": csrf, "provider_id": typed})
        assert refused.status_code == 400, (typed, refused.status_code)
        assert refused.headers["content-type"].startswith("text/html")
        assert "Provider: choose a provider" in refused.text
    assert await fetchval(fresh_db, "select count(*) from console_shortlist") == 0


async def test_an_id_beyond_the_databases_range_gets_a_console_page_that_says_so(client, keys, fresh_db):
    """A 20-digit provider number on the shortlist form went to the database, which refused it, and the browser
    got the API's JSON 400; on the compare page (and 0 or -1) it made a column for a provider that cannot exist; in a
    page's address it was told "Expected `int` <= 999999999999"; as the version a form was opened at, the form came
    back as if saved, with nothing saved and no problem shown. Each is now a console page saying what is wrong."""
    csrf = await signed_in(client, keys, "commissioner")
    client.follow_redirects = False
    huge = "12345678901234567890"
    refused = await client.post("/console/needs/1/shortlist", data={"csrf_token": csrf, "provider_id": huge})
    assert refused.status_code == 400 and refused.headers["content-type"].startswith("text/html")
    said = f"choose a provider: '{huge}' is not a provider's number (a whole number from 1 to 999999999999)"
    assert said in unescape(refused.text)
    assert await fetchval(fresh_db, "select count(*) from console_shortlist") == 0

    assert (await client.post("/console/needs/1/match-runs", data={"csrf_token": csrf})).status_code == 303
    for given in (huge, "0", "-1"):
        compared = await client.get(f"/console/needs/1/compare?provider=1&provider={given}")
        assert compared.status_code == 400 and compared.headers["content-type"].startswith("text/html"), given
        assert "There is a problem</h2>" in compared.text
        assert f"Providers to compare: '{given}' is not a provider's number" in unescape(compared.text), given

    for path in (f"/console/providers/{huge}", f"/console/needs/{huge}/compare?provider=1"):
        addressed = await client.get(path)
        assert addressed.status_code == 400 and addressed.headers["content-type"].startswith("text/html")
        assert "must be 999999999999 or less" in addressed.text and "Expected" not in addressed.text, path

    csrf = await signed_in(client, keys, "provider", 1)
    before = await fetchval(fresh_db, "select version from provider where id = 1")
    lost = await client.post("/console/providers/1/edit", data={"csrf_token": csrf, "version": huge, "name": "Renamed"})
    assert lost.status_code == 400 and "the form lost the version it was opened at: open it again" in lost.text
    assert await fetchval(fresh_db, "select version from provider where id = 1") == before


async def test_a_form_too_large_to_read_gets_a_console_page_not_json(client, keys):
    """A form over the app's body limit (text pasted into a box, say) was answered with the API's JSON 413."""
    csrf = await signed_in(client, keys, "provider", 1)
    form = {"csrf_token": csrf, "version": "1", "description": "x" * 11_000_000}
    refused = await client.post("/console/providers/1/edit", data=form)
    assert refused.status_code == 413 and refused.headers["content-type"].startswith("text/html")
    assert "The form is too large to send" in refused.text and "Go to the start page" in refused.text


async def test_a_value_the_database_refuses_gets_a_console_page_not_json() -> None:
    """The app's safety net for a value the database refuses (a 20-digit id, say, if one ever got past the forms)
    answers JSON; under /console it is a console page: the console's handlers, composed as the app composes them."""
    import asyncpg
    from litestar import Litestar, Router, get
    from litestar.testing import AsyncTestClient

    from marketplace.console.routes import CONSOLE
    from marketplace.http import EXCEPTION_HANDLERS

    @get("/refused")
    async def refused() -> None:
        raise asyncpg.DataError("invalid input for query argument $1: 12345678901234567890 (value out of int64 range)")

    console = Router(path="/console", route_handlers=[refused], exception_handlers=CONSOLE.exception_handlers)
    async with AsyncTestClient(Litestar([console], exception_handlers=EXCEPTION_HANDLERS)) as test_client:
        answered = await test_client.get("/console/refused")
    assert answered.status_code == 400 and answered.headers["content-type"].startswith("text/html")
    assert "A value in the request is out of the range it can take." in answered.text


async def test_an_address_the_console_has_no_page_for_is_a_console_page(client, keys):
    """A mistyped console address, a record's number that is not a number, a method the console's pages do not take,
    or a character no path of ours has: a console page saying so (they were the API's JSON 404 and 405)."""
    await signed_in(client, keys, "commissioner")
    for method, path, status in (
        ("GET", "/console/nonexistent", 404),
        ("GET", "/console/exercises/abc", 404),
        ("GET", "/console/providers/%201", 404),
        ("DELETE", "/console/home", 405),
    ):
        r = await client.request(method, path)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html"), (path, r.text[:200])
        assert "Go to the start page" in r.text, path
    r = await client.get("/providers/abc")  # the API's own answer stays JSON
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


async def test_a_method_a_console_page_does_not_take_says_which_it_does(client, keys):
    """A 405 carries Allow (RFC 9110, 15.5.6), on a console page as in the API: the page had dropped it."""
    await signed_in(client, keys, "commissioner")
    page = await client.request("DELETE", "/console/home")
    api = await client.request("DELETE", "/providers")
    assert page.status_code == api.status_code == 405
    assert page.headers["content-type"].startswith("text/html")
    assert {m.strip() for m in page.headers["allow"].split(",")} >= {"GET", "HEAD"}
    assert "GET" in api.headers["allow"]


async def test_an_error_page_keeps_the_signed_in_header_and_says_its_message_once(client, keys):
    """Error pages had no navigation and no "Sign out", and said their message twice (a sentence, then a bullet
    repeating it): now the usual header, the message once, and, from a need's compare page, a link back to it."""
    await signed_in(client, keys, "commissioner")
    norun = await client.get("/console/needs/2/compare?provider=4")  # a need with no match run yet
    assert norun.status_code == 422 and norun.headers["content-type"].startswith("text/html")
    text = unescape(re.sub(r"<[^>]+>", " ", norun.text))
    assert text.count("has no match run yet") == 1 and 'href="/console/needs/2"' in norun.text
    for path, status in (
        ("/console/needs/2/compare?provider=4", 422),  # the page found its session before the error
        ("/console/providers/99999", 404),
        ("/console/providers/0", 400),  # a number in the address the console cannot take: before the page ran
        ("/console/nowhere", 404),  # no page at all: the session looked up for the error page
    ):
        page = await client.get(path)
        assert page.status_code == status, path
        assert 'class="header__nav"' in page.text and ">Sign out</button>" in page.text, path
        assert "<li>" not in page.text.split('<main id="main">')[1].split("</main>")[0] or status == 400, path
    client.cookies.clear()
    signed_out = await client.get("/console/nowhere")
    assert signed_out.status_code == 404 and "Sign out" not in signed_out.text  # no session, no account header


async def test_a_search_the_page_cannot_run_stays_on_the_search_page(client, keys):
    """A search over 200 characters was a bare error page without the search box, the text lost; an unknown filter
    code lost the filter panel and was named by the parameter ("pathway: ..."). Both stay on the search page: the
    problem beside the box or the filter, in its words, what was typed kept, the filters still offered."""
    await signed_in(client, keys, "commissioner")
    long = "housing " * 40  # 320 characters
    page = await client.get("/console/providers", params={"q": long})
    assert page.status_code == 400 and 'action="/console/providers"' in page.text
    assert 'id="f-q-error"' in page.text and "must be at most 200 characters long" in page.text
    assert f'value="{long}"' in page.text and 'maxlength="200"' in page.text  # kept as typed
    assert "Search terms: must be at most 200 characters long" in page.text
    assert 'name="pathway"' in page.text and 'name="area"' in page.text  # the filter panel, counted
    nope = await client.get("/console/providers?pathway=NOPE&pathway=ACCOM")
    assert nope.status_code == 400 and "Pathway: unknown pathway code &#39;NOPE&#39;" in nope.text
    assert 'id="f-pathway-error"' in nope.text and 'href="#f-pathway"' in nope.text
    assert 'name="pathway" type="checkbox" value="ACCOM" checked' in nope.text  # the filter panel, as chosen


async def test_a_page_past_the_last_says_how_many_there_are(client, keys):
    await signed_in(client, keys, "commissioner")
    first = await client.get("/console/providers")
    pages = int(re.search(r"Page 1 of (\d+)", first.text).group(1))
    past = await client.get("/console/providers?page=999")
    assert past.status_code == 200
    assert (
        f"There are only {pages} pages of results" in past.text
        and f'href="/console/providers?page={pages}"' in past.text
    )
    assert "Page 999 of" not in past.text and "page=998" not in past.text  # no link to a page with nothing on it
    last = await client.get(f"/console/providers?page={pages}")
    assert f"Page {pages} of {pages}" in last.text and "There are only" not in last.text
    for listing, what in (("exercises", "exercises"), ("appraisals", "appraisals")):  # the other lists too
        past = await client.get(f"/console/{listing}?page=7")
        assert past.status_code == 200 and f"There is only 1 page of {what}" in past.text, listing
        assert f'href="/console/{listing}?page=1"' in past.text and "page=6" not in past.text, listing
        assert "None on page 7." in past.text and " yet." not in past.text, listing  # there are some, elsewhere


async def test_comparing_a_provider_the_run_did_not_rank_names_it_and_offers_no_shortlist(client, keys):
    """A provider neither ranked nor excluded by the need's run was headed "provider 9" and offered for the
    shortlist: it is named, said to be outside this run's ranking, and not offered."""
    csrf = await signed_in(client, keys, "commissioner")
    await post_and_follow(client, "/console/needs/1/match-runs", {"csrf_token": csrf})
    runs = (await client.get("/needs/1/match-runs", headers=await keys.headers("commissioner"))).json()
    run = (
        await client.get(f"/match-runs/{runs[0]['id']}?limit=500", headers=await keys.headers("commissioner"))
    ).json()
    seen = {c["provider_id"] for c in run["ranking"]} | {e["provider_id"] for e in run["excluded"]}
    outside = next(p for p in range(1, 125) if p not in seen)
    name = (await client.get(f"/providers/{outside}")).json()["name"]
    ranked = run["ranking"][0]["provider_id"]
    page = await client.get(f"/console/needs/1/compare?provider={ranked}&provider={outside}")
    assert page.status_code == 200
    heading = re.search(rf'<th scope="col" id="col-{outside}">(.*?)</th>', page.text, re.S).group(1)
    assert unescape(re.sub(r"<[^>]+>", "", heading)) == f"{name} (not in this run’s ranking)"
    assert f"provider {outside}" not in page.text
    assert f'name="provider_id" value="{outside}"' not in page.text  # nothing to shortlist it with
    assert f'name="provider_id" value="{ranked}"' in page.text


def words(fragment: str) -> str:
    """An HTML fragment's text, as a reader reads it (tags gone, spaces collapsed)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def summary_rows(fragment: str) -> dict[str, str]:
    """A summary list's rows: key → value, as text."""
    found = re.findall(r'<dt class="summary-list__key">(.*?)</dt><dd class="summary-list__value">(.*?)</dd>', fragment)
    return {words(k): words(v) for k, v in found}


def test_an_age_range_is_said_as_a_person_says_it() -> None:
    from marketplace.formatting import ages

    assert [ages(10, 17), ages(18, None), ages(None, 17), ages(None, None)] == [
        "10 to 17",
        "18 and over",
        "up to 17",
        "any age",
    ]


async def test_the_notice_names_cohorts_and_says_what_each_need_screens_on(client, keys):
    """The notice said "Cohorts: CYP" and nothing of a need's ages or the experience it asks: a provider could not
    tell whether to bid. It names the cohorts, and says each need's ages, gender, years' experience and
    accreditations required, as the API's notice now carries them (`cohort_names`, `screening`)."""
    await signed_in(client, keys, "provider", 1)
    api = (await client.get("/exercises/1/notice")).json()
    first = api["needs"][0]
    assert first["cohort_names"] == ["Children and young people (10-17)"]
    assert first["screening"] == {
        "eligibility": {"min_age": 10, "max_age": 17},
        "min_years_experience": 2,
        "required_accreditations": [],
        "required_accreditation_names": [],
    }
    page = await client.get("/console/exercises/1/notice")
    assert page.status_code == 200
    sections = re.split(r'<h3 class="heading-s">', page.text)[1:]
    shown = {words(s.split("</h3>", 1)[0]): summary_rows(s) for s in sections}
    assert ">CYP<" not in page.text and "YOUNG_ADULTS" not in page.text
    for need in api["needs"]:
        rows = shown[need["title"]]
        sc = need["screening"]
        assert rows["Cohorts"] == ", ".join(need["cohort_names"]), rows
        assert rows["Experience required"] == (
            f"At least {sc['min_years_experience']} years of experience in this pathway"
            if sc["min_years_experience"]
            else "None"
        )
        assert rows["Accreditations required"] == (", ".join(sc["required_accreditation_names"]) or "None")
        assert ("Gender" in rows) == (sc["eligibility"].get("gender", "both") != "both")
    assert shown[first["title"]]["Ages"] == "10 to 17"
    women = next(n for n in api["needs"] if n["screening"]["eligibility"].get("gender") == "women")
    assert shown[women["title"]]["Gender"] == "Women only"
    accredited = next(n for n in api["needs"] if n["screening"]["required_accreditations"])
    assert shown[accredited["title"]]["Accreditations required"] == "Matrix Standard"
    assert any(rows["Ages"] == "Any age" for rows in shown.values())


async def test_the_compare_page_shows_weights_as_the_runs_percentages(client, keys):
    """The compare page said "1.000 (weight 0.150)" where every other page says "15% of the score": each criterion
    is headed with the run's percentage of the score (adding up to 100), never a fraction."""
    await signed_in(client, keys, "commissioner")
    headers = await keys.headers("commissioner")
    assert (await client.post("/needs/1/match-runs", headers=headers)).status_code == 201
    runs = (await client.get("/needs/1/match-runs", headers=headers)).json()
    run = (await client.get(f"/match-runs/{runs[0]['id']}", headers=headers)).json()
    ids = [c["provider_id"] for c in run["ranking"][:3]]
    page = await client.get("/console/needs/1/compare?" + "&".join(f"provider={i}" for i in ids))
    assert page.status_code == 200
    assert not re.search(r"weight [01]\.\d{3}", page.text)  # "(weight 0.150)" was how it said one
    heads = [words(h) for h in re.findall(r'<th scope="row">(.*?)</th>', page.text, re.S)]
    shown = {}
    for head in heads:
        if (m := re.fullmatch(r"(.+) \(([\d.]+)% of the score\)", head)) is not None:
            shown[m.group(1)] = float(m.group(2))
    from marketplace.formatting import humanise

    assert shown == {humanise(k): v for k, v in run["weights_percent"].items()}
    assert round(sum(shown.values()), 6) == 100
    ranking = await client.get(f"/console/match-runs/{run['id']}")
    assert not re.search(r"weight [01]\.\d{3}", ranking.text) and "% of the score)" in ranking.text


async def test_the_need_page_shows_what_it_screens_on_its_contract_and_its_weights(client, keys):
    """The need's page left out its ages, the experience and accreditations it requires, its contract length and its
    weights (all screening and scoring inputs): it shows them, the weights as the percentages a run would use."""
    await signed_in(client, keys, "commissioner")
    headers = await keys.headers("commissioner")
    page = await client.get("/console/needs/1")
    rows = summary_rows(page.text)
    assert rows["Ages"] == "10 to 17" and rows["Contract length"] == "3 years"
    assert rows["Experience required"] == "At least 2 years of experience in this pathway"
    assert rows["Accreditations required"] == "None"
    assert (await client.post("/needs/1/match-runs", headers=headers)).status_code == 201
    runs = (await client.get("/needs/1/match-runs", headers=headers)).json()
    run = (await client.get(f"/match-runs/{runs[0]['id']}", headers=headers)).json()
    from marketplace.formatting import humanise

    expected = ", ".join(
        f"{humanise(k)} {v:g}%" for k, v in sorted(run["weights_percent"].items(), key=lambda kv: -kv[1]) if v
    )
    assert (
        rows["Weights"]
        == f"{expected} (percentages of the score, from the exercise's default weights; a new run uses these)"
    )
    need = (await client.get("/needs/1", headers=headers)).json()
    own = {"quality": 40, "pathway_fit": 30, "coverage": 30}
    changed = await client.patch(
        "/needs/1", json={"weight_overrides": own}, headers={**headers, "If-Match": f'"v{need["version"]}"'}
    )
    assert changed.status_code == 200, changed.text
    weights = summary_rows((await client.get("/console/needs/1")).text)["Weights"]
    assert weights.startswith("Quality 40%, Pathway fit 30%, Coverage 30% (") and "this need's own weights" in weights
    four = summary_rows((await client.get("/console/needs/4")).text)
    assert four["Gender"] == "Women only" and four["Ages"] == "16 to 25"
    two = summary_rows((await client.get("/console/needs/2")).text)
    assert two["Accreditations required"] == "Matrix Standard" and two["Experience required"] == "None"


async def test_the_match_run_page_draws_the_reports_suitable_line(client, keys):
    """The run's page listed every ranked provider with no mark at 0.6, so it did not agree with the report's
    "N suitable": it says how many are suitable and draws the line under the last of them."""
    await signed_in(client, keys, "commissioner")
    headers = await keys.headers("commissioner")
    assert (await client.post("/exercises/1/match", headers=headers)).status_code == 201
    report = (await client.get("/exercises/1/report?format=json", headers=headers)).json()
    checked = 0
    for need in report["needs"]:
        page = await client.get(f"/console/match-runs/{need['match_run_id']}")
        assert page.status_code == 200
        run = (await client.get(f"/match-runs/{need['match_run_id']}", headers=headers)).json()
        assert summary_rows(page.text)["Suitable (a score of at least 0.6)"] == (
            f"{need['suitable']} (as the market report counts them)"
        )
        body = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        rows = re.findall(r'<tr(?: id="provider-\d+")?( class="threshold-line")?>', body)
        lines = [i for i, (marked) in enumerate(rows) if marked]
        assert len(lines) == 1, rows
        assert lines[0] == need["suitable"]  # the line's row comes after the suitable ones
        line = words(re.search(r'<tr class="threshold-line">(.*?)</tr>', body, re.S).group(1))
        if 0 < need["suitable"] < len(run["ranking"]):
            many = "provider" if need["suitable"] == 1 else f"{need['suitable']} providers"
            assert line.startswith(f"The suitable line: the {many} above scored at least 0.6"), line
            checked += 1
        elif need["suitable"] == 0 and run["ranking"]:
            assert line.startswith("No provider reaches the suitable score of 0.6"), line
    assert checked


async def test_the_console_report_counts_and_freezes_with_the_suitable_score_asked_for(client, keys, fresh_db):
    """The console's report had no threshold ("Unknown query parameter 'threshold'"): a commissioner could only
    freeze at 0.6 there, where the API takes any. The page takes `threshold` as the API does, says it in a box above
    the report, and freezing keeps it; a score that is not a number from 0 to 1 is a console page saying so."""
    csrf = await signed_in(client, keys, "commissioner")
    await post_and_follow(client, "/console/exercises/1/match", {"csrf_token": csrf})
    page = await client.get("/console/exercises/1/report?format=html&threshold=0.55")
    assert page.status_code == 200
    assert 'id="threshold" name="threshold" type="text" inputmode="decimal" size="5" value="0.55"' in page.text
    form = FREEZE_FORM.search(page.text).group(0)
    assert '<input type="hidden" name="threshold" value="0.55">' in form
    assert "total score ≥ 0.55" in unescape(page.text) and "total score ≥ 0.6" not in unescape(page.text)
    api = await client.get("/exercises/1/report?format=json&threshold=0.55", headers=await keys.headers("commissioner"))
    suitable = [n["suitable"] for n in api.json()["needs"]]
    default = await client.get("/console/exercises/1/report?format=html")
    assert '<input type="hidden" name="threshold" value="0.6">' in FREEZE_FORM.search(default.text).group(0)
    assert "total score ≥ 0.6" in unescape(default.text)
    done = await client.post("/console/exercises/1/reports", data={"csrf_token": csrf, "threshold": "0.55"})
    assert done.status_code == 303, done.text
    report_id = done.headers["location"].split("frozen=")[1]
    frozen = await client.get(f"/reports/{report_id}?format=json", headers=await keys.headers("commissioner"))
    assert frozen.json()["method"]["thresholds"]["suitable_score"] == 0.55
    assert [n["suitable"] for n in frozen.json()["needs"]] == suitable
    as_percent = await client.get("/console/exercises/1/report", params={"format": "html", "threshold": " 55 % "})
    assert as_percent.status_code == 200, as_percent.text
    assert "total score ≥ 0.55" in unescape(as_percent.text)
    for typed in ("2", "-0.1", "nan", "1e-1", "0,6", "٠.٥", "60", "101%", "%", "0.6%%"):
        bad = await client.get("/console/exercises/1/report", params={"format": "html", "threshold": typed})
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html"), typed
        said = unescape(bad.text)
        assert f"Suitable score: {typed!r} is not a suitable score: enter a number from 0 to 1" in said, typed
        assert 'href="/console/exercises/1/report?format=html"' in bad.text
    before = await fetchval(fresh_db, "select count(*) from frozen_report")
    refused = await client.post("/console/exercises/1/reports", data={"csrf_token": csrf, "threshold": "high"})
    assert refused.status_code == 400 and "enter a number from 0 to 1" in unescape(refused.text)
    assert await fetchval(fresh_db, "select count(*) from frozen_report") == before


async def register_cic(client, name: str, club: str, town: str):
    """A CIC registered (pending until an admin publishes it) with one jobs club in Herefordshire: the response."""
    registered = await client.post(
        "/registrations",
        json={
            "name": name,
            "legal_form": "cic",
            "services": [
                {
                    "pathway": "ETE",
                    "name": club,
                    "description": f"Weekly jobs club in {town}.",
                    "cohorts": ["ADULTS"],
                    "areas": ["E06000019"],
                }
            ],
        },
    )
    assert registered.status_code == 201, registered.text
    return registered


async def test_an_admin_publishes_a_pending_profile_from_its_page_and_its_provider_is_told_it_waits(
    client, keys, fresh_db
):
    """A registered profile is pending until an admin publishes it: its own page says so (what pending means for
    it), an admin's page of it says so with *Publish this profile* (as POST /providers/{id}/publish, audited), and
    nobody else is offered the button or may press it (403, as from the API)."""
    registered = await register_cic(client, "Ledbury Lanterns CIC", "Lantern jobs club", "Ledbury")
    pid = registered.json()["provider"]["id"]
    publish_form = f'action="/console/providers/{pid}/publish"'

    await sign_in(client, registered.json()["api_key"]["key"])
    own = await client.get(f"/console/providers/{pid}")
    assert own.status_code == 200 and 'id="pending-profile"' in own.text and publish_form not in own.text
    assert "An admin checks each new profile and publishes it" in unescape(own.text)

    csrf = await signed_in(client, keys, "commissioner")
    seen = await client.get(f"/console/providers/{pid}")
    assert seen.status_code == 200 and publish_form not in seen.text and 'id="pending-profile"' not in seen.text
    refused = await client.post(f"/console/providers/{pid}/publish", data={"csrf_token": csrf})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert await fetchval(fresh_db, "select status from provider where id = $1", pid) == "pending"

    csrf = await signed_in(client, keys, "admin")
    shown = await client.get(f"/console/providers/{pid}")
    assert 'id="unpublished-profile"' in shown.text and publish_form in shown.text
    assert "This profile is pending" in shown.text
    done = await post_and_follow(client, f"/console/providers/{pid}/publish", {"csrf_token": csrf})
    assert 'id="just-published"' in done.text and "Profile published" in done.text
    assert publish_form not in done.text and 'id="unpublished-profile"' not in done.text
    assert await fetchval(fresh_db, "select status from provider where id = $1", pid) == "published"
    audited = "select count(*) from audit_log where provider_id = $1 and detail = 'publish'"
    assert await fetchval(fresh_db, audited, pid) == 1
    again = await client.get(f"/console/providers/{pid}?published=1")  # said once it is so, never of a pending one
    assert 'id="just-published"' in again.text


async def test_an_admin_rejects_a_pending_registration_by_archiving_it_and_nobody_else_may(client, keys, fresh_db):
    """A pending profile's page offered an admin *Publish this profile* and no way to reject the registration (the
    API's POST /providers/{id}/archive archives a pending profile too). Beside *Publish* it now has *Reject this
    registration (archive it)*, leading to the archive step worded for a registration (archived, it stays out of the
    directory; undone by publishing); the profile's page then says the registration was rejected and still offers
    *Publish*. Nobody else is offered it or may do it (403)."""
    registered = await register_cic(client, "Bromyard Beacons CIC", "Beacon jobs club", "Bromyard")
    pid = registered.json()["provider"]["id"]
    step, form = f'href="/console/providers/{pid}/archive"', f'action="/console/providers/{pid}/archive"'
    reject = "Reject this registration (archive it)"

    await sign_in(client, registered.json()["api_key"]["key"])
    own = await client.get(f"/console/providers/{pid}")
    assert own.status_code == 200 and step not in own.text and reject not in own.text
    for role in ("commissioner", "provider"):
        csrf = await signed_in(client, keys, role, pid if role == "provider" else None)
        assert (await client.get(f"/console/providers/{pid}/archive")).status_code == 403
        refused = await client.post(f"/console/providers/{pid}/archive", data={"csrf_token": csrf})
        assert refused.status_code == 403
    assert await fetchval(fresh_db, "select status from provider where id = $1", pid) == "pending"

    csrf = await signed_in(client, keys, "admin")
    shown = await client.get(f"/console/providers/{pid}")
    assert f'<a class="button button--warning" {step}>{reject}</a>' in shown.text
    assert f'action="/console/providers/{pid}/publish"' in shown.text and "Archive this profile" not in shown.text
    asked = await client.get(f"/console/providers/{pid}/archive")
    assert asked.status_code == 200 and form in asked.text and 'name="csrf_token"' in asked.text
    said = " ".join(unescape(asked.text).split())
    assert "Reject this registration?" in said and "Archive this profile?" not in said
    assert "<title>Reject the registration of Bromyard Beacons CIC – Provision</title>" in said
    assert "Rejecting the registration archives the profile, so it stays out of the directory" in said
    assert f">{reject}</button>" in said and "Cancel: leave it pending" in said
    assert "publishing the profile (from its page) brings it into the directory" in said

    done = await post_and_follow(client, f"/console/providers/{pid}/archive", {"csrf_token": csrf})
    assert 'id="just-rejected"' in done.text and "Registration rejected" in done.text
    assert 'id="just-archived"' not in done.text and step not in done.text
    assert f'action="/console/providers/{pid}/publish"' in done.text
    assert await fetchval(fresh_db, "select status from provider where id = $1", pid) == "archived"
    audited = "select count(*) from audit_log where provider_id = $1 and detail = 'archive'"
    assert await fetchval(fresh_db, audited, pid) == 1


async def test_an_admin_archives_a_published_profile_after_reading_what_it_does_and_nobody_else_may(
    client, keys, fresh_db
):
    """An admin could publish a profile from the console but not archive one (only through the API). A published
    profile's page now offers an admin *Archive this profile*, a step that says what archiving does (out of the
    directory, not ranked, cannot respond; undone by publishing), then archives it as POST /providers/{id}/archive
    does (audited), CSRF-protected; the page says so and offers to publish it again. Nobody else is offered it or
    may do it (403)."""
    pid = await fetchval(fresh_db, "select min(id) from provider where status = 'published'")
    name = await fetchval(fresh_db, "select name from provider where id = $1", pid)
    step, form = f'href="/console/providers/{pid}/archive"', f'action="/console/providers/{pid}/archive"'

    for role, provider_id in (("commissioner", None), ("provider", pid)):
        csrf = await signed_in(client, keys, role, provider_id)
        seen = await client.get(f"/console/providers/{pid}")
        assert seen.status_code == 200 and step not in seen.text and "Archive this profile" not in seen.text
        assert (await client.get(f"/console/providers/{pid}/archive")).status_code == 403
        refused = await client.post(f"/console/providers/{pid}/archive", data={"csrf_token": csrf})
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert await fetchval(fresh_db, "select status from provider where id = $1", pid) == "published"

    csrf = await signed_in(client, keys, "admin")
    shown = await client.get(f"/console/providers/{pid}")
    assert (
        shown.status_code == 200 and f'<a class="button button--warning" {step}>Archive this profile</a>' in shown.text
    )
    asked = await client.get(f"/console/providers/{pid}/archive")
    assert asked.status_code == 200 and form in asked.text and 'name="csrf_token"' in asked.text
    said = unescape(asked.text)
    assert f"Archiving takes {name} out of the directory" in said
    assert "match runs do not rank it" in said and "cannot respond to market-engagement exercises" in said
    assert "publishing the profile again (from its page) brings it back" in said
    forged = await client.post(f"/console/providers/{pid}/archive", data={"csrf_token": "not-the-session-s"})
    assert forged.status_code == 403
    assert await fetchval(fresh_db, "select status from provider where id = $1", pid) == "published"

    done = await post_and_follow(client, f"/console/providers/{pid}/archive", {"csrf_token": csrf})
    assert 'id="just-archived"' in done.text and "Profile archived" in done.text
    assert step not in done.text and f'action="/console/providers/{pid}/publish"' in done.text
    assert await fetchval(fresh_db, "select status from provider where id = $1", pid) == "archived"
    audited = "select count(*) from audit_log where provider_id = $1 and detail = 'archive'"
    assert await fetchval(fresh_db, audited, pid) == 1
    client.follow_redirects = False
    again = await client.get(f"/console/providers/{pid}/archive")  # nothing to archive: its page
    assert again.status_code == 303 and again.headers["location"] == f"/console/providers/{pid}"


async def test_the_console_without_its_slash_leads_to_it_with_one_so_a_signed_in_user_stays_signed_in(client, keys):
    """/console (the README's address) sent a signed-in user to the sign-in form: the session's cookie is for
    /console/ and is not sent to /console."""
    await signed_in(client, keys, "commissioner")
    bare = await client.get("/console", follow_redirects=False)
    assert (bare.status_code, bare.headers["location"]) == (303, "/console/")
    slashed = await client.get("/console/", follow_redirects=False)
    assert (slashed.status_code, slashed.headers["location"]) == (303, "/console/home")
