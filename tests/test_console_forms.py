"""The console's provider forms cover every field a provider may set through the API (issue 17): a profile's identity,
finances, resources, premises, accreditations and social value; a service's pathway, who it is for, delivery, cost
and outcomes records; a response's partners. Each is posted as a browser posts the page it was given (every box,
the ticked checkboxes, the selected options), through the real app on real PostgreSQL, and read back from the API."""

from __future__ import annotations

import html
import re
from html import unescape
from html.parser import HTMLParser
from typing import Any

import msgspec
from test_console import signed_in
from test_console_engagement import fid, good_form, provider_signed_in, ready, world  # noqa: F401  (the `world` fixture)
from test_engagement import World

from marketplace.console.service import NEEDED_TOO


class _Form(HTMLParser):
    """What a browser would post from a page's form with the given action (buttons aside)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.fields = action, False, {}
        self._select: str | None = None
        self._first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "option" and self.inside and self._select is not None:
            if self._first is None:
                self._first = a.get("value", "")
            if "selected" in a:
                self.fields[self._select] = a.get("value", "")
            return
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside or "name" not in a:
            return
        if tag == "input" and a.get("type") in ("checkbox", "radio"):
            if "checked" in a:
                self.fields[a["name"]] = a.get("value", "on")
        elif tag == "input":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select":
            self._select, self._first = a["name"], None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None:
            self.fields.setdefault(self._select, self._first or "")
            self._select = None
        elif tag == "form":
            self.inside = False


def form_of(html: str, action: str) -> dict[str, str]:
    parser = _Form(action)
    parser.feed(html)
    assert parser.fields, f"no form posting to {action}"
    return dict(parser.fields)


def errors(html: str) -> dict[str, str]:
    """The problems beside fields, by the field's id."""
    return {
        k: re.sub(r"<[^>]+>", "", v).replace("Error:", "").strip()
        for k, v in re.findall(r'<p class="error-message" id="([^"]+)-error">(.*?)</p>', html, re.S)
    }


async def opened(client, path: str) -> tuple[str, dict[str, str]]:
    page = await client.get(path)
    assert page.status_code == 200, page.text[:500]
    return page.text, form_of(page.text, path)


async def test_the_profile_form_saves_every_group_and_the_api_shows_it(client, keys):
    await signed_in(client, keys, "provider", 1)
    client.follow_redirects = False
    path = "/console/providers/1/edit"
    html, form = await opened(client, path)
    for legend in ("Identity", "Contact", "Finances", "Resources", "Premises", "Accreditations and social value"):
        assert f'fieldset__legend--m">{legend}</legend>' in html
    blank = max(int(m) for m in re.findall(r"premises\.(\d+)\.area", " ".join(form)))
    for k in [k for k in form if k.startswith(("accreditations.", "social_value."))]:
        del form[k]  # untick every box
    form |= {
        "legal_form": "cic",
        "identifiers": "GB-COH-01234567",
        "finances.annual_income": "£850,000",
        "finances.reserves_months": "4.5",
        "finances.accounts_year_end": "2026-03-31",
        "finances.accounts_scrutiny": "independently_examined",
        "resources.match_funding_per_year": "20000",
        "resources.other_funding_sources": "National Lottery Community Fund\n\n  County council grant  ",
        "resources.partner_organisations": "Ledbury Food Bank",
        "accreditations.iso_9001": "on",
        "accreditations.living_wage_employer": "on",
        "social_value.peer_mentoring": "on",
        f"premises.{blank}.area": " herefordshire ",  # by name, whatever the case: its code is stored
        f"premises.{blank}.description": "Drop-in centre, Ledbury",
    }
    done = await client.post(path, data=form)
    assert done.status_code == 303, errors(done.text)
    after = (await client.get("/providers/1")).json()
    assert (after["legal_form"], after["identifiers"]) == ("cic", ["GB-COH-01234567"])
    assert after["finances"] == {
        "annual_income": 850000,
        "reserves_months": 4.5,
        "accounts_year_end": "2026-03-31",
        "accounts_scrutiny": "independently_examined",
    }
    assert after["resources"]["match_funding_per_year"] == 20000
    assert after["resources"]["other_funding_sources"] == ["National Lottery Community Fund", "County council grant"]
    assert after["resources"]["partner_organisations"] == ["Ledbury Food Bank"]
    assert after["resources"]["premises"][-1] == {"area": "E06000019", "description": "Drop-in centre, Ledbury"}
    assert after["accreditations"] == ["iso_9001", "living_wage_employer"]
    assert after["social_value"] == ["peer_mentoring"]

    page = (await client.get("/console/providers/1")).text  # and the provider's page shows it
    assert "Drop-in centre, Ledbury (Herefordshire)" in page and "4.5 months of spending" in page
    assert "Year to 31 March 2026, independently examined" in page

    # the form opens with it all, the new premises as an item with a remove box and a blank after it
    html, form = await opened(client, path)
    n = len(after["resources"]["premises"])
    assert form[f"premises.{n - 1}.area"] == "Herefordshire" and form[f"premises.{n}.area"] == ""  # by name
    assert f'name="premises.{n - 1}.remove"' in html and f'name="premises.{n}.remove"' not in html
    assert form["finances.accounts_scrutiny"] == "independently_examined" and form["legal_form"] == "cic"

    # removing an item, and unticking every box, clear them
    form[f"premises.{n - 1}.remove"] = "on"
    for k in [k for k in form if k.startswith(("accreditations.", "social_value."))]:
        del form[k]
    done = await client.post(path, data=form)
    assert done.status_code == 303, errors(done.text)
    again = (await client.get("/providers/1")).json()
    assert again["resources"]["premises"] == after["resources"]["premises"][:-1]
    assert again["accreditations"] == [] and again["social_value"] == []


async def test_a_problem_in_a_premises_item_shows_beside_that_item_and_nothing_is_stored(client, keys):
    await signed_in(client, keys, "provider", 1)
    path = "/console/providers/1/edit"
    _, form = await opened(client, path)
    before = (await client.get("/providers/1")).json()
    blank = max(int(m) for m in re.findall(r"premises\.(\d+)\.area", " ".join(form)))
    form |= {f"premises.{blank}.area": "Herefordshre", f"premises.{blank}.description": "Office"}
    bad = await client.post(path, data=form)
    assert bad.status_code == 400
    field = f"premises.{blank}.area"
    said = unescape(errors(bad.text)[fid(field)])
    assert said == (  # the API's problem and suggestion, in the words of a box that takes areas by name
        "'Herefordshre' is not an area the directory knows: type the area's name, or its ONS code; "
        "did you mean Herefordshire (E06000019)?"
    )
    assert f'href="#{fid(field)}"' in bad.text  # the summary links to the box
    assert f"Premises {blank + 1}: area: " in bad.text  # and names it as the form does
    assert f'aria-describedby="{fid(field)}-hint {fid(field)}-error"' in bad.text
    assert 'value="Herefordshre"' in bad.text  # what was typed is kept
    assert (await client.get("/providers/1")).json() == before


async def test_number_boxes_say_what_to_type_never_null(client, keys):
    await signed_in(client, keys, "provider", 1)
    path = "/console/providers/1/edit"
    _, form = await opened(client, path)
    bad = await client.post(path, data=form | {"finances.annual_income": "lots"})
    assert bad.status_code == 400
    assert errors(bad.text) == {fid("finances.annual_income"): "enter a whole number of 0 or more"}
    assert "null" not in bad.text.lower()
    svc = (await client.get("/providers/1/services")).json()[0]
    spath = f"/console/providers/1/services/{svc['id']}/edit"
    _, sform = await opened(client, spath)
    for box, said in (
        ("eligibility.min_age", "enter a whole number from 0 to 120"),
        ("capacity.service_users_per_year", "enter a whole number of 0 or more"),
        ("outcomes.0.value", "enter a number, for example 12.5"),
        ("capacity.places_as_of", "enter a date written YYYY-MM-DD, for example 2026-11-29"),
    ):
        page = await client.post(spath, data=sform | {box: "ten", "outcomes.0.outcome": "Anything"})
        assert page.status_code == 400
        assert errors(page.text).get(fid(box)) == said, errors(page.text)
        assert "null" not in page.text.lower()


async def service_form(client, keys) -> tuple[dict[str, Any], str, str, dict[str, str]]:
    """Provider 1 signed in, and its first service's form as it opens: the service, the form's address, the page
    and the form's fields."""
    await signed_in(client, keys, "provider", 1)
    client.follow_redirects = False
    svc = (await client.get("/providers/1/services")).json()[0]
    path = f"/console/providers/1/services/{svc['id']}/edit"
    html, form = await opened(client, path)
    return svc, path, html, form


async def test_the_service_form_saves_who_where_cost_and_outcomes_records(client, keys):
    svc, path, html, form = await service_form(client, keys)
    for legend in ("What", "Where", "Who", "Capacity", "Cost", "Outcomes"):
        assert f'fieldset__legend--m">{legend}</legend>' in html
    n = len(svc["outcomes"])
    assert form[f"outcomes.{n}.outcome"] == ""  # one blank record to add
    for k in [k for k in form if k.startswith(("cohorts.", "delivery_modes.", "complexity_levels."))]:
        del form[k]
    desired = next(iter(re.findall(rf'name="outcomes\.{n}\.desired\.([A-Z_]+)"', html)))
    form |= {
        "cohorts.YOUNG_ADULTS": "on",
        "cohorts.CARE_LEAVERS": "on",
        "eligibility.min_age": "18",
        "eligibility.max_age": "25",
        "eligibility.gender": "women",
        "delivery_modes.outreach": "on",
        "complexity_levels.high": "on",
        "years_delivering": "3",
        "cost.amount": "1,250.50",
        "cost.unit": "per_session",
        f"outcomes.{n}.outcome": "Settled accommodation",
        f"outcomes.{n}.measure": "% housed at 6 months",
        f"outcomes.{n}.period": "2025-26",
        f"outcomes.{n}.value": "64",
        f"outcomes.{n}.people": "40",
        f"outcomes.{n}.source": "commissioner_reported",
        f"outcomes.{n}.reference": "Contract return Q4",
        f"outcomes.{n}.desired.{desired}": "on",
        "then": "outcomes",
    }
    done = await client.post(path, data=form)
    assert done.status_code == 303, errors(done.text)
    assert done.headers["location"] == f"{path}?saved=1#outcomes-new"  # "Save and add another": at the new blank
    after = (await client.get(f"/providers/1/services/{svc['id']}")).json()
    assert after["cohorts"] == ["YOUNG_ADULTS", "CARE_LEAVERS"]
    assert after["eligibility"] == {"min_age": 18, "max_age": 25, "gender": "women"}
    assert (after["delivery_modes"], after["complexity_levels"], after["years_delivering"]) == (
        ["outreach"],
        ["high"],
        3,
    )
    assert after["cost"] == {"amount": 1250.5, "unit": "per_session"}
    assert after["outcomes"][-1] == {
        "outcome": "Settled accommodation",
        "measure": "% housed at 6 months",
        "period": "2025-26",
        "value": 64,
        "people": 40,
        "source": "commissioner_reported",
        "reference": "Contract return Q4",
        "note": None,
        "desired_outcomes": [desired],
    }
    assert len(after["outcomes"]) == n + 1
    page = await client.get(done.headers["location"])
    assert 'id="outcomes-new"' in page.text and f'name="outcomes.{n + 1}.outcome"' in page.text

    # removing a record; clearing the cost (both boxes empty)
    _, form = await opened(client, path)
    form |= {"outcomes.0.remove": "on", "cost.amount": "", "cost.unit": ""}
    done = await client.post(path, data=form)
    assert done.status_code == 303, errors(done.text)
    again = (await client.get(f"/providers/1/services/{svc['id']}")).json()
    assert again["outcomes"] == after["outcomes"][1:] and again["cost"] is None


async def test_a_problem_in_an_outcomes_record_shows_beside_it_and_nothing_is_stored(client, keys):
    await signed_in(client, keys, "provider", 1)
    svc = (await client.get("/providers/1/services")).json()[0]
    path = f"/console/providers/1/services/{svc['id']}/edit"
    _, form = await opened(client, path)
    n = len(svc["outcomes"])
    # a record with no measure: the decoder's problem at outcomes[n].measure, beside the nth record's box
    form |= {f"outcomes.{n}.outcome": "Into work", f"outcomes.{n}.period": "2025"}
    bad = await client.post(path, data=form)
    assert bad.status_code == 400
    assert errors(bad.text) == {fid(f"outcomes.{n}.measure"): "must not be empty"}
    assert f'href="#{fid(f"outcomes.{n}.measure")}"' in bad.text and f"Outcomes record {n + 1}: measure" in bad.text
    # a rule of the API's (422): a desired outcome of another pathway, beside that record's tick-list
    form |= {f"outcomes.{n}.measure": "% in work at 13 weeks", f"outcomes.{n}.desired.NOT_A_CODE": "on"}
    bad = await client.post(path, data=form)
    assert bad.status_code == 400
    assert fid(f"outcomes.{n}.desired_outcomes") in errors(bad.text), errors(bad.text)
    # a cost without its unit
    del form[f"outcomes.{n}.desired.NOT_A_CODE"]
    bad = await client.post(path, data=form | {"cost.amount": "900", "cost.unit": ""})
    assert errors(bad.text) == {fid("cost.unit"): NEEDED_TOO}
    assert (await client.get(f"/providers/1/services/{svc['id']}")).json() == svc


async def test_a_service_conflict_names_the_new_fields_plainly_and_keeps_theirs(client, keys):
    await signed_in(client, keys, "provider", 1)
    svc = (await client.get("/providers/1/services")).json()[0]
    path = f"/console/providers/1/services/{svc['id']}/edit"
    _, form = await opened(client, path)
    headers = {**await keys.headers("provider", 1), "If-Match": f'"v{svc["version"]}"'}
    meanwhile = await client.patch(
        f"/providers/1/services/{svc['id']}",
        json={"cost": {"amount": 777, "unit": "per_hour"}, "eligibility": {"max_age": 64}},
        headers=headers,
    )
    assert meanwhile.status_code == 200, meanwhile.text
    clash = await client.post(path, data=form | {"description": "Mine, typed over."})
    assert clash.status_code == 409
    assert "This was changed since you opened it" in clash.text
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td><td>([^<]*)</td>', clash.text)
    named = {r[0]: r[1:] for r in rows}
    assert named["Maximum age"][1] == "64"
    assert named["Indicative cost (£)"][1] == "777" and named["Cost per"][1] == "per hour"  # the unit in words
    again = form_of(clash.text, path)
    assert (again["cost.amount"], again["cost.unit"], again["eligibility.max_age"]) == ("777", "per_hour", "64")
    assert again["description"] == "Mine, typed over."
    assert (await client.get(f"/providers/1/services/{svc['id']}")).json()["description"] == svc["description"]


async def test_a_profile_conflict_on_finances_is_labelled(client, keys):
    await signed_in(client, keys, "provider", 1)
    path = "/console/providers/1/edit"
    _, form = await opened(client, path)
    opened_at = (await client.get("/providers/1")).json()
    headers = {**await keys.headers("provider", 1), "If-Match": f'"v{opened_at["version"]}"'}
    meanwhile = await client.patch(
        "/providers/1", json={"finances": {"annual_income": 123456}, "accreditations": ["rsq"]}, headers=headers
    )
    assert meanwhile.status_code == 200, meanwhile.text
    clash = await client.post(path, data=form | {"contact.phone": "01432 760999"})
    assert clash.status_code == 409
    assert re.search(r'<th scope="row">Annual income \(£\)</th><td>[^<]*</td><td>123456</td>', clash.text)
    assert re.search(
        r'<th scope="row">Accreditations</th><td>[^<]*</td><td>Restorative Service Quality Mark</td>', clash.text
    )
    again = form_of(clash.text, path)
    assert again["finances.annual_income"] == "123456" and again.get("accreditations.rsq") == "rsq"
    assert again["contact.phone"] == "01432 760999"


async def test_a_response_declares_partners_through_the_form(world: World) -> None:  # noqa: F811
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, p2 = await ready(w)
    csrf, api = await provider_signed_in(w, p1)
    path = f"/console/exercises/{exercise_id}/respond"
    blank = await c.get(path)
    n = f"need.{need_id}"
    assert f'name="{n}.partner.0.provider_id"' in blank.text and f'name="{n}.partners"' in blank.text

    def with_partners(boxes: dict[str, str]) -> dict[str, str]:
        """The good form with partner boxes under the need (`{"0.name": "X"}`: box `need.N.partner.0.name`)."""
        partners = {f"{n}.partner.{box}": value for box, value in boxes.items()}
        return good_form(csrf, need_id, s1, qs) | {f"{n}.partners": ""} | partners

    # both a number and a name for one partner, and our own number for another: each beside its item
    bad = await c.post(
        path, data=with_partners({"0.provider_id": str(p2), "0.name": "Also a name", "1.provider_id": str(p1)})
    )
    assert bad.status_code == 400
    said = errors(bad.text)
    said_first = said[fid(f"{n}.partner.0.provider_id")]
    assert "not both" in said_first and "provider_id" not in said_first
    assert said[fid(f"{n}.partner.1.provider_id")] == "that is your own organisation"
    assert "partner 2, directory provider number" in bad.text
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404
    # a directory provider typed by its name (any case), with another box refused: recognised by the form, which
    # sends its number (the API refuses a directory provider's name); the form shows it named as in the directory
    p2_name = (await c.get(f"/providers/{p2}")).json()["name"]
    named = await c.post(path, data=with_partners({"0.name": p2_name.lower()}) | {f"{n}.unit_cost": "a lot"})
    assert named.status_code == 400, named.text
    assert list(errors(named.text)) == [fid(f"{n}.unit_cost")]
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404

    c.follow_redirects = False
    done = await c.post(
        path, data=with_partners({"0.provider_id": str(p2), "1.name": "Telford Youth Network", "2.provider_id": ""})
    )
    assert done.status_code == 303, errors(done.text)
    stored = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert stored["needs"][0]["partners"] == [{"provider_id": p2}, {"name": "Telford Youth Network"}]
    shown = await c.get(done.headers["location"])
    p2_name = (await c.get(f"/providers/{p2}")).json()["name"]
    assert f'<a href="/console/providers/{p2}">{p2_name}</a>' in shown.text.replace("&#39;", "'")
    assert "Telford Youth Network" in shown.text

    # a revision saved elsewhere in between: what changed, the partner named plainly
    opened_form = form_of((await c.get(path)).text, path)
    elsewhere = {
        "needs": [
            {
                "need_id": need_id,
                "intent": "lead",
                "service_ids": [s1],
                "partners": [{"provider_id": p2}, {"name": "Shropshire Youth Network"}],
            }
        ],
        "answers": stored["answers"],
    }
    put = await c.put(f"/exercises/{exercise_id}/responses/{p1}", json=elsewhere, headers={**api, "If-Match": '"v1"'})
    assert put.status_code == 200, put.text
    stale = await c.post(path, data=opened_form | {f"{n}.unit_cost": "1750"})
    assert stale.status_code == 409
    assert re.search(
        r'<th scope="row">Accommodation for adults in Telford: partner 2, organisation name</th>'
        r"<td>Telford Youth Network</td><td>Shropshire Youth Network</td>",
        stale.text,
    ), stale.text
    assert form_of(stale.text, path)[f"{n}.partner.1.name"] == "Shropshire Youth Network"  # left as opened: theirs

    # the form opens with them; removing one, and a revision keeps the rest
    again = await c.get(path)
    form = form_of(again.text, path)
    assert form[f"{n}.partner.0.provider_id"] == str(p2) and form[f"{n}.partner.1.name"] == "Shropshire Youth Network"
    assert form[f"{n}.partner.2.name"] == ""
    form[f"{n}.partner.0.remove"] = "on"
    revised = await c.post(path, data=form)
    assert revised.status_code == 303, errors(revised.text)
    now = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert now["revision"] == 3 and now["needs"][0]["partners"] == [{"name": "Shropshire Youth Network"}]

    # the directory provider typed again by its name, in capitals: sent as its number, and named on the form
    form = form_of((await c.get(path)).text, path)
    assert form[f"{n}.partner.1.name"] == ""
    recognised = await c.post(path, data=form | {f"{n}.partner.1.name": f" {p2_name.upper()} "})
    assert recognised.status_code == 303, errors(recognised.text)
    now = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert now["needs"][0]["partners"] == [{"name": "Shropshire Youth Network"}, {"provider_id": p2}]
    reopened = (await c.get(path)).text.replace("&#39;", "'")
    assert f"Partner 2: {p2_name} (in the directory)</legend>" in reopened
    assert "Partner 1: " not in reopened  # an organisation outside the directory has no directory name
    assert form_of(reopened, path)[f"{n}.partner.1.provider_id"] == str(p2)


async def test_saving_a_form_as_it_opened_changes_nothing(client, keys):
    """Every stored value shows in a box as it is saved again (no 2.3e+06 for 2300000, no lost item): an admin
    opens and saves, unchanged, the profile and every service of ten seeded providers, and no version moves."""
    await signed_in(client, keys, "admin")
    client.follow_redirects = False
    for provider_id in range(1, 11):
        before = (await client.get(f"/providers/{provider_id}", headers=await keys.headers("admin"))).json()
        paths = [f"/console/providers/{provider_id}/edit"]
        paths += [f"/console/providers/{provider_id}/services/{s['id']}/edit" for s in before["services"]]
        for path in paths:
            _, form = await opened(client, path)
            saved = await client.post(path, data=form)
            assert saved.status_code == 303, (path, errors(saved.text))
        after = (await client.get(f"/providers/{provider_id}", headers=await keys.headers("admin"))).json()
        assert after["version"] == before["version"], provider_id
        assert [s["version"] for s in after["services"]] == [s["version"] for s in before["services"]]
        assert [s["outcomes"] for s in after["services"]] == [s["outcomes"] for s in before["services"]]


async def test_hostile_provider_forms_get_a_4xx_never_a_500(client, keys):
    await signed_in(client, keys, "provider", 1)
    svc = (await client.get("/providers/1/services")).json()[0]
    before = (await client.get("/providers/1")).json()
    ppath, spath = "/console/providers/1/edit", f"/console/providers/1/services/{svc['id']}/edit"
    _, profile = await opened(client, ppath)
    _, service_ = await opened(client, spath)
    for path, form, changes in (
        (
            ppath,
            profile,
            {"premises.999.area": "Far away", "premises.1000.area": "ignored: not a number the form makes"},
        ),
        (ppath, profile, {"accreditations." + "x" * 100: "on"}),
        (ppath, profile, {"social_value.NOT A CODE": "on", "finances.reserves_months": "nan"}),
        (ppath, profile, {"finances.accounts_scrutiny": "glanced at", "legal_form": "Ltd"}),
        (ppath, profile, {"identifiers": "GB-CHC-12, GB-XXX-1", "name": "nul \x00 here"}),
        (spath, service_, {"cost.amount": "inf", "cost.unit": "per_year"}),
        (spath, service_, {"eligibility.gender": "ladies", "cohorts.ADULTS": "", "outcomes.0.value": "nan"}),
        (spath, service_, {"outcomes.x.value": "1", "outcomes.0.people": "-4", "delivery_modes.teleport": "on"}),
        (spath, service_, {"pathway": "", "status": "paused", "years_delivering": "1" * 40}),
        (spath, service_, {"version": "abc"}),
    ):
        answered = await client.post(path, data=form | changes)
        assert answered.status_code in (400, 409, 422), (changes, answered.status_code, answered.text[:300])
        assert "There is a problem" in answered.text, changes
    after = (await client.get("/providers/1")).json()
    assert after["version"] == before["version"] and after["services"] == before["services"]


def test_a_form_is_told_what_to_type_where_json_is_told_its_types() -> None:
    """messages.problem(form=True): the words a form shows; the API's JSON words are unchanged (they name null,
    which a JSON body may send)."""
    from marketplace import messages

    for said, form, api in (
        ("Expected `int | null`, got `str`", "enter a whole number, for example 25", "or null"),
        ("Expected `float | null`, got `str`", "enter a number, for example 12.5", "or null"),
        ("Expected `int`, got `str`", "enter a whole number, for example 25", "got text"),
        ("Invalid RFC3339 encoded date", "enter a date written YYYY-MM-DD, for example 2026-11-29", "must be a date"),
        ("Expected `str | null`, got `int`", messages.FORM_ANYTHING, "or null"),
    ):
        assert messages.problem("x", said, form=True).problem == form
        assert api in messages.problem("x", said).problem


NOT_PLAIN = ("1_000", "١٢٣", "１２", "1e3", "+5", "nan")
"""Numbers Python's int() or float() reads that nobody types as one: digit groups, Arabic-Indic and fullwidth digits,
e-notation, a plus sign, not-a-number."""


def test_a_number_on_a_form_is_plain_ascii_digits() -> None:
    from marketplace.console import forms

    for typed in NOT_PLAIN:
        assert forms.read_number(typed) is None and forms.read_number(typed, whole=False) is None, typed
    assert [forms.read_number(t) for t in ("0", "25", "-4", "007")] == [0, 25, -4, 7]
    assert [forms.read_number(t, whole=False) for t in ("12.5", "-0.25", "5.", ".5", "40")] == [12.5, -0.25, 5, 0.5, 40]
    assert forms.read_number("12.5") is None  # a whole number has no decimal point
    ids = [forms.read_id(t) for t in ("1", "999999999999", "0", "1000000000000", "١", "-3")]
    assert ids == [1, 999_999_999_999, None, None, None, None]
    # an item's number on a form (premises.3.area) too: a key in other digits makes no item
    assert forms.items({"premises.١.area": "E06000019"}, "premises", forms.PREMISES) == [0]


async def test_a_number_answer_and_the_revision_are_read_only_from_plain_digits(world: World) -> None:  # noqa: F811
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    csrf, api = await provider_signed_in(w, p1)
    path, box = f"/console/exercises/{exercise_id}/respond", f"answer.{qs[2]['id']}"
    c.follow_redirects = False
    for typed in NOT_PLAIN:
        bad = await c.post(path, data=good_form(csrf, need_id, s1, qs, **{box: typed}))
        assert bad.status_code == 400, (typed, bad.status_code)
        assert errors(bad.text) == {fid(box): "enter a number, for example 12.5"}, typed
        assert f'value="{typed}"' in bad.text  # kept as typed
        assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404
    done = await c.post(path, data=good_form(csrf, need_id, s1, qs, **{box: "-1,250.5"}))
    assert done.status_code == 303, errors(done.text)
    stored = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert stored["revision"] == 1 and stored["answers"][2]["value"] == -1250.5

    # the revision a form was opened at (a hidden field) is plain digits too: "١" is not revision 1
    form = form_of((await c.get(path)).text, path) | {f"need.{need_id}.unit_cost": "1750"}
    lost = await c.post(path, data=form | {"revision": "١"})
    assert lost.status_code == 400 and "the form lost the revision it was opened at" in lost.text
    gone = await c.post(f"/console/exercises/{exercise_id}/withdraw", data={"csrf_token": csrf, "revision": "١"})
    assert gone.status_code == 400 and "the form lost the revision it was opened at" in gone.text
    after = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert (after["revision"], after["status"], after["needs"][0]["unit_cost"]) == (1, "submitted", 1800)


WHOLE, NUMBER = "enter a whole number of 0 or more", "enter a number of 0 or more"  # each box's bounds are said


async def test_number_boxes_take_plain_digits_not_what_a_lenient_decoder_reads(client, keys):
    """`1e3`, `1.0` in a whole-number box and the like were read leniently as numbers (and saved): each is shown
    beside its box and nothing is stored; a plain number, with its pound sign and commas, still saves."""
    await signed_in(client, keys, "provider", 1)
    client.follow_redirects = False
    before = (await client.get("/providers/1")).json()
    path = "/console/providers/1/edit"
    for box, typed, said in (
        ("founded_year", "1e3", "enter a whole number from 1600 to 2100"),
        ("resources.volunteers", "1e2", WHOLE),
        ("resources.match_funding_per_year", "2000.0", WHOLE),
        ("finances.annual_income", "1_000", WHOLE),
        ("finances.reserves_months", "1e1", "enter a number from 0 to 600"),
        ("finances.reserves_months", "١٢", "enter a number from 0 to 600"),
        ("finances.annual_income", "10,50", WHOLE),  # a decimal comma? never read as 1050
    ):
        _, form = await opened(client, path)
        page = await client.post(path, data=form | {box: typed})
        assert page.status_code == 400, (box, typed, page.status_code)
        assert errors(page.text) == {fid(box): said}, (box, typed)
    spath = f"/console/providers/1/services/{before['services'][0]['id']}/edit"
    record = {"outcomes.0.outcome": "Into work", "outcomes.0.measure": "Jobs", "outcomes.0.period": "2025"}
    for box, typed, said in (
        ("eligibility.min_age", "1e1", "enter a whole number from 0 to 120"),
        ("capacity.places_available", "5.0", WHOLE),
        ("years_delivering", "1e1", "enter a whole number from 0 to 200"),
        ("cost.amount", "1e2", NUMBER),
        ("cost.amount", "12,50", NUMBER),  # a decimal comma: never read as £1,250
        ("cost.amount", "1,5", NUMBER),
        ("outcomes.0.value", "1e2", "enter a number, for example 12.5"),  # bounds of a billion go unsaid
        ("outcomes.0.people", "1e2", WHOLE),
    ):
        _, form = await opened(client, spath)
        page = await client.post(spath, data=form | record | {"cost.unit": "per_hour", box: typed})
        assert page.status_code == 400, (box, typed, page.status_code)
        assert errors(page.text) == {fid(box): said}, (box, typed)
    assert (await client.get("/providers/1")).json() == before

    _, form = await opened(client, path)
    saved = await client.post(path, data=form | {"finances.annual_income": "£1,250,000", "founded_year": "1950"})
    assert saved.status_code == 303, errors(saved.text)
    after = (await client.get("/providers/1")).json()
    assert (after["finances"]["annual_income"], after["founded_year"]) == (1_250_000, 1950)


async def test_response_number_boxes_take_plain_digits(world: World) -> None:  # noqa: F811
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, p2 = await ready(w)
    csrf, api = await provider_signed_in(w, p1)
    path, n = f"/console/exercises/{exercise_id}/respond", f"need.{need_id}"
    for box, typed, said in (
        (f"{n}.capacity.E06000020", "1e2", WHOLE),
        (f"{n}.unit_cost", "1e3", WHOLE),
        (f"{n}.unit_cost", "1800.0", WHOLE),
        (f"{n}.partner.0.provider_id", f"{p2}.0", "enter a whole number of 1 or more"),
        (f"{n}.unit_cost", "18,00", WHOLE),  # a comma out of a thousands place: never read as £1,800
    ):
        form = good_form(csrf, need_id, s1, qs, **{box: typed}) | {f"{n}.partners": ""}
        page = await c.post(path, data=form)
        assert page.status_code == 400, (box, typed, page.status_code)
        assert errors(page.text) == {fid(box): said}, (box, typed)
    answer = f"answer.{qs[2]['id']}"  # the number question
    for typed in ("12,50", "1,5", "1e2"):  # a decimal comma is never read as 1250 (every comma was dropped)
        page = await c.post(path, data=good_form(csrf, need_id, s1, qs, **{answer: typed}) | {f"{n}.partners": ""})
        assert page.status_code == 400, (typed, page.status_code)
        assert errors(page.text) == {fid(answer): "enter a number, for example 12.5"}, typed  # a question unbounded
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404
    form = good_form(csrf, need_id, s1, qs, **{answer: "12,500.5", f"{n}.unit_cost": "£1,800"})
    saved = await c.post(path, data=form | {f"{n}.partners": ""})
    assert saved.status_code == 303, errors(saved.text)
    stored = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert stored["needs"][0]["unit_cost"] == 1800
    assert [a["value"] for a in stored["answers"] if a["question_id"] == qs[2]["id"]] == [12500.5]


def summary(html: str) -> list[str]:
    """The ids of the fields the error summary links to, in its order."""
    listed = re.search(r'<ul class="error-summary__list">(.*?)</ul>', html, re.S)
    return re.findall(r'href="#([^"]+)"', listed.group(1)) if listed else []


def beside(html: str) -> list[str]:
    """The ids of the fields with a problem beside them, in the page's order."""
    return re.findall(r'<p class="error-message" id="([^"]+)-error">', html)


async def test_a_profile_with_many_mistakes_shows_every_problem_at_once_in_the_forms_order(client, keys):
    """A form with eleven mistakes took eleven saves: the decoder stopped at the first (msgspec.convert raises one
    error), and the profile's own rules ran only once everything decoded. Now every box is read on its own and the
    rules run on the rest at the same time: one save shows them all, beside each box and in the summary, in the
    form's order, labelled as the form labels them, with what was typed kept."""
    await signed_in(client, keys, "provider", 1)
    path = "/console/providers/1/edit"
    _, form = await opened(client, path)
    before = (await client.get("/providers/1")).json()
    blank = max(int(m) for m in re.findall(r"premises\.(\d+)\.area", " ".join(form)))
    typed = {
        "name": "",
        "identifiers": "1234567",
        "website": "hollybrook dot org",
        "founded_year": "nineteen",
        "contact.email": "not an address",
        "finances.annual_income": "£1,200,000.50",
        "finances.reserves_months": "lots",
        "finances.accounts_year_end": "2199-03-31",  # well-formed: a rule of the profile's (not after today)
        "resources.volunteers": "-5",
        "resources.match_funding_per_year": "1e3",
        f"premises.{blank}.area": "Hereforshire",
        f"premises.{blank}.description": "Office",
    }
    bad = await client.post(path, data=form | typed)
    assert bad.status_code == 400
    boxes = [fid(k) for k in typed if k != f"premises.{blank}.description"]
    assert beside(bad.text) == boxes  # every problem at once, each beside its box
    assert summary(bad.text) == boxes  # and in the summary, in the form's order
    said = errors(bad.text)
    assert said[fid("finances.accounts_year_end")].startswith("must not be after today")  # the rule, with the rest
    assert "did you mean Herefordshire (E06000019)?" in said[fid(f"premises.{blank}.area")]
    assert "Organisation name: must not be empty: at least 2 characters" in bad.text  # the form's label, not "Name"
    again = form_of(bad.text, path)
    assert {k: again[k] for k in typed} == typed  # what was typed is kept
    assert (await client.get("/providers/1")).json() == before


async def test_a_service_with_several_mistakes_shows_them_all_at_once(client, keys):
    await signed_in(client, keys, "provider", 1)
    svc = (await client.get("/providers/1/services")).json()[0]
    path = f"/console/providers/1/services/{svc['id']}/edit"
    _, form = await opened(client, path)
    typed = {
        "name": "",
        "years_delivering": "3.5",
        "areas": "E06000019, worcestershre",
        "capacity.places_available": "4",  # counted, without the date (a rule of the service's, told on the date)
        "capacity.places_as_of": "",
        "cost.amount": "lots",
    }
    bad = await client.post(path, data=form | typed)
    assert bad.status_code == 400
    said = errors(bad.text)
    assert (
        beside(bad.text)
        == summary(bad.text)
        == [fid("name"), fid("years_delivering"), fid("areas"), fid("capacity.places_as_of"), fid("cost.amount")]
    ), said
    assert "did you mean Worcestershire (E10000034)?" in said[fid("areas")]  # the API's suggestion, by name
    assert "Service name: must not be empty" in bad.text
    assert (await client.get(f"/providers/1/services/{svc['id']}")).json() == svc


async def test_a_desired_outcome_of_the_pathway_left_is_named_not_coded(client, keys):
    """Changing a service's pathway with an outcomes record still evidencing one of the old pathway's desired
    outcomes was told "desired outcome 'DRUGS_ENGAGE' belongs to pathway DRUGS, not HEALTH", beside a checkbox
    labelled DRUGS_ENGAGE: the taxonomy's names now, in the console's words."""
    await signed_in(client, keys, "provider", 1)
    svc = (await client.get("/providers/1/services")).json()[0]
    outcome = (await client.get(f"/desired-outcomes?pathway={svc['pathway']}")).json()[0]
    pathways = {p["code"]: p["name"] for p in (await client.get("/pathways")).json()}
    other = next(code for code in pathways if code != svc["pathway"])
    path = f"/console/providers/1/services/{svc['id']}/edit"
    _, form = await opened(client, path)
    n = len(svc["outcomes"])
    record = {
        f"outcomes.{n}.outcome": "Into treatment",
        f"outcomes.{n}.measure": "% engaged",
        f"outcomes.{n}.period": "2025",
    }
    bad = await client.post(
        path, data=form | record | {f"outcomes.{n}.desired.{outcome['code']}": "on", "pathway": other}
    )
    assert bad.status_code == 400
    said = errors(bad.text)[fid(f"outcomes.{n}.desired_outcomes")]
    assert said == (
        f"“{outcome['name']}” is an outcome of the {pathways[svc['pathway']]} pathway, not of {pathways[other]}: "
        f"untick it, or keep {pathways[svc['pathway']]}"
    )
    box = re.search(rf'name="outcomes\.{n}\.desired\.{outcome["code"]}"[^>]*>\s*<label[^>]*>([^<]+)</label>', bad.text)
    assert box is not None and box.group(1) == f"{outcome['name']} ({pathways[svc['pathway']]})"  # its name
    assert outcome["code"] not in re.sub(r"<[^>]+>", "", bad.text.split("<main")[1])  # no code shown
    # offered, to untick, only on the record that names it: the blank record to add offers the new pathway's alone
    offered = set(re.findall(rf'name="outcomes\.{n + 1}\.desired\.([A-Z_]+)"', bad.text))
    assert offered and outcome["code"] not in offered, offered


async def test_a_response_with_several_mistakes_shows_them_all_at_once_in_the_forms_order(world: World) -> None:  # noqa: F811
    """The number boxes came back one per save before the response's own rules were told: now all at once, the
    questions in their order (Question 3 was listed before Question 2), a required one told "this question needs an
    answer" beside it."""
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, _ = await ready(w)
    csrf, _ = await provider_signed_in(w, p1)
    path, n = f"/console/exercises/{exercise_id}/respond", f"need.{need_id}"
    form = good_form(
        csrf,
        need_id,
        s1,
        qs,
        **{
            f"{n}.capacity.E06000020": "lots",
            f"{n}.unit_cost": "lots",
            f"answer.{qs[0]['id']}": "one two three four five six seven eight nine ten eleven",
        },
    )
    del form[f"{n}.service.{s1}"], form[f"answer.{qs[1]['id']}"]
    page = await c.post(path, data=form | {f"{n}.partners": ""})
    assert page.status_code == 400
    order = [
        fid(f"{n}.services"),
        fid(f"{n}.capacity.E06000020"),
        fid(f"{n}.unit_cost"),
        fid(f"answer.{qs[0]['id']}"),
        fid(f"answer.{qs[1]['id']}"),
    ]
    assert beside(page.text) == summary(page.text) == order, errors(page.text)
    said = errors(page.text)
    assert said[fid(f"{n}.capacity.E06000020")] == said[fid(f"{n}.unit_cost")] == WHOLE
    assert said[fid(f"answer.{qs[1]['id']}")] == "this question needs an answer"
    # the summary names the question by its words too, not by its number alone
    assert f"Question 2 ({qs[1]['text'][:59]}" in html.unescape(page.text)
    assert "this question needs an answer" in page.text
    assert form_of(page.text, path)[f"{n}.unit_cost"] == "lots"


def test_a_forms_parts_are_read_one_by_one_and_what_decodes_is_named_as_sent() -> None:
    """`check_form` reads every part of a body on its own (msgspec.convert stops at its first error), and decodes
    what is left without the parts with a problem, for the use case's rules: their problems are then named by the
    body's own paths, an item's position as sent."""
    from marketplace.console.service import check_form
    from marketplace.errors import FieldProblem
    from marketplace.providers.models import ServicePatch

    record = {"outcome": "Into work", "measure": "% in work", "period": "2025"}
    body = {
        "name": "",
        "areas": ["Herefordshire", "E06000019", "worse", "E10000034"],
        "outcomes": [record | {"value": "lots"}, record | {"outcome": ""}, record | {"desired_outcomes": ["ETE_JOB"]}],
        "cost": {"amount": 5},
    }
    checked = check_form(body, ServicePatch)
    assert [p.field for p in checked.problems] == [
        "name",
        "areas[0]",
        "areas[2]",
        "outcomes[0].value",
        "outcomes[1].outcome",
        "cost.unit",
    ]
    assert checked.problems[-1].problem == NEEDED_TOO
    data = checked.data
    assert data is not None and data.name is msgspec.UNSET and data.cost is msgspec.UNSET  # left as held
    assert data.areas == ["E06000019", "E10000034"]
    assert [o.value for o in data.outcomes] == [None, None]  # the first without its figure; the second left out
    found = checked.original(
        [
            FieldProblem(field="areas[1]", problem="x"),
            FieldProblem(field="outcomes[1].desired_outcomes[0]", problem="y"),
        ]
    )
    assert [p.field for p in found] == ["areas[3]", "outcomes[2].desired_outcomes[0]"]  # as the form sent them


async def test_the_edit_pages_breadcrumbs_start_at_find_providers_as_the_provider_s_page_does(client, keys):
    """The edit-profile and edit-service pages' breadcrumbs started at the provider's name, where the provider's own
    page's start at *Find providers*. They now start there, then the provider, then the page."""
    await signed_in(client, keys, "provider", 1)
    name = (await client.get("/providers/1")).json()["name"]
    svc = (await client.get("/providers/1/services")).json()[0]
    for path, here in (
        ("/console/providers/1/edit", "Edit profile"),
        (f"/console/providers/1/services/{svc['id']}/edit", "Edit service"),
        ("/console/providers/1", None),
    ):
        shown = await client.get(path)
        assert shown.status_code == 200
        nav = re.search(r'<nav class="breadcrumbs".*?</nav>', shown.text, re.S)
        assert nav is not None
        links = [(href, unescape(text)) for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav.group(0))]
        if here is None:
            assert links == [("/console/providers", "Find providers")]
        else:
            assert links == [("/console/providers", "Find providers"), ("/console/providers/1", name)]
            assert nav.group(0).endswith(f'<li aria-current="page">{here}</li></ol></nav>')


async def test_a_partner_named_close_to_a_directory_provider_is_asked_about_before_anything_is_saved(
    world: World,  # noqa: F811
) -> None:
    w, c = world, world.client
    exercise_id, need_id, qs, p1, s1, p2 = await ready(w)
    csrf, api = await provider_signed_in(w, p1)
    path, n = f"/console/exercises/{exercise_id}/respond", f"need.{need_id}"
    p2_name = (await c.get(f"/providers/{p2}")).json()["name"]
    typo = p2_name[:3] + p2_name[4:]  # one letter left out
    meant = f"{n}.partner.0.meant"

    def with_partner(name: str, **more: str) -> dict[str, str]:
        return good_form(csrf, need_id, s1, qs) | {f"{n}.partners": "", f"{n}.partner.0.name": name} | more

    # asked beside the row, with the provider named; nothing stored
    asked = await c.post(path, data=with_partner(typo))
    assert asked.status_code == 400, asked.text
    said = errors(asked.text)
    assert list(said) == [fid(meant)]
    assert said[fid(meant)] == (
        f"the directory has {p2_name}: choose whether you mean it or an organisation outside the directory"
    )
    page_text = unescape(asked.text)
    assert f"Did you mean {p2_name}, in this directory?" in page_text
    assert f'name="{meant}" type="radio" value="{p2}"' in asked.text and 'value="outside"' in asked.text
    assert f"No: an organisation outside the directory named “{typo}”" in page_text
    assert (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).status_code == 404

    # asked together with the API's own problems, each beside its field
    both = await c.post(path, data=with_partner(typo, **{f"{n}.unit_cost": "lots"}))
    assert set(errors(both.text)) == {fid(meant), fid(f"{n}.unit_cost")}

    # "yes": saved as that provider, by its number
    c.follow_redirects = False
    yes = await c.post(path, data=with_partner(typo, **{meant: str(p2)}))
    assert yes.status_code == 303, errors(yes.text)
    stored = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert stored["needs"][0]["partners"] == [{"provider_id": p2}]

    # revised with the close name again, answered "no": kept as an organisation outside the directory by its name
    form = form_of((await c.get(path)).text, path)
    form |= {f"{n}.partner.1.name": typo}
    again = await c.post(path, data=form)
    assert again.status_code == 400 and list(errors(again.text)) == [fid(f"{n}.partner.1.meant")]
    no = await c.post(path, data=form | {f"{n}.partner.1.meant": "outside"})
    assert no.status_code == 303, errors(no.text)
    stored = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert stored["needs"][0]["partners"] == [{"provider_id": p2}, {"name": typo}]

    # the answer stands: revising the response leaves the name as it is, not asked again
    form = form_of((await c.get(path)).text, path)
    assert f"{n}.partner.1.meant" not in form
    kept = await c.post(path, data=form | {f"{n}.unit_cost": "1900"})
    assert kept.status_code == 303, errors(kept.text)
    stored = (await c.get(f"/exercises/{exercise_id}/responses/{p1}", headers=api)).json()
    assert stored["needs"][0]["partners"] == [{"provider_id": p2}, {"name": typo}]
    assert stored["needs"][0]["unit_cost"] == 1900

    # a name like no provider's is not asked about
    form = form_of((await c.get(path)).text, path)
    fresh = await c.post(path, data=form | {f"{n}.partner.2.name": "Zebedee Quarterly Knitting Circle"})
    assert fresh.status_code == 303, errors(fresh.text)
