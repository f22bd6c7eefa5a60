"""Running an options appraisal from the console (after issue 15): a commissioner starts one (standing alone, or from
an exercise's page), edits its settings, options, criteria and weights, an assessor's scores and the moderated
scores (grids of option x criterion), its cost lines, and records the decision, through the real app on real
PostgreSQL, read back from the API. Each form: the service's problems beside the boxes they name, with what was
typed kept and nothing stored; a form opened before someone else's change refused (409), never overwriting; a role
the API refuses refused here too. The console's report renders run one at a time per worker, as the API's do."""

from __future__ import annotations

import asyncio
import re
from html import unescape

from conftest import Renders
from test_console import sign_in
from test_console_forms import errors, form_of

from marketplace.console import routes as console_routes


def fid(name: str) -> str:
    return "f-" + name.replace(".", "-")


async def commissioner(client, keys) -> dict[str, str]:
    """A commissioner signed in to the console; the key's API headers."""
    _, key = await keys.make("commissioner", name="Ada Commissioner")
    await sign_in(client, key)
    return {"Authorization": f"Bearer {key}"}


async def opened(client, path: str, action: str | None = None) -> tuple[str, dict[str, str]]:
    page = await client.get(path)
    assert page.status_code == 200, page.text[:800]
    return page.text, form_of(page.text, action or path.split("?")[0])


async def api_appraisal(client, api: dict[str, str], appraisal_id: int) -> dict:
    got = await client.get(f"/appraisals/{appraisal_id}", headers=api)
    assert got.status_code == 200, got.text
    return got.json()


async def started(client, api: dict[str, str], title: str = "Youth justice delivery model") -> int:
    """An appraisal started through the console's standing-alone form; its id."""
    _, form = await opened(client, "/console/appraisals")
    done = await client.post("/console/appraisals", data=form | {"title": title, "annual_budget": "£1,130,000"})
    assert done.status_code == 303, errors(done.text) or done.text[:800]
    m = re.fullmatch(r"/console/appraisals/(\d+)\?started=1", done.headers["location"])
    assert m, done.headers["location"]
    return int(m.group(1))


OPTIONS = {
    "outsource_vcse": ("single_prime", "Outsource to a third-sector organisation", ""),
    "latc": ("latc", "Local authority trading company", ""),
    "hosted_la": ("hosted", "Hosted by a local authority", "The county council"),
    "hosted_pcc": ("hosted", "Hosted by the police and crime commissioner", "The PCC's office"),
}


async def with_options(client, appraisal_id: int) -> None:
    """The four delivery options, added one by one through the options form's blank item."""
    path = f"/console/appraisals/{appraisal_id}/options"
    for key, (model, label, partner) in OPTIONS.items():
        html, form = await opened(client, path)
        blank = max(int(n) for n in re.findall(r'name="option\.(\d+)\.key"', html))
        p = f"option.{blank}"
        form |= {f"{p}.key": key, f"{p}.model": model, f"{p}.label": label, f"{p}.partner": partner}
        done = await client.post(path, data=form | {"then": "more"})
        assert done.status_code == 303, errors(done.text) or done.text[:800]
        assert done.headers["location"].endswith("/options?saved=1#option-new")


SCORES = {  # assessor -> option -> the four standard criteria's scores
    "Assessor A": {
        "outsource_vcse": [4, 4, 4, 3],
        "latc": [2, 3, 3, 2],
        "hosted_la": [3, 3, 3, 4],
        "hosted_pcc": [3, 2, 3, 3],
    },
    "Assessor B": {
        "outsource_vcse": [5, 4, 3, 3],
        "latc": [2, 2, 3, 3],
        "hosted_la": [3, 4, 3, 4],
        "hosted_pcc": [2, 3, 3, 3],
    },
}
CRITERIA = ["financial_viability", "performance_impact", "quality", "sustainability"]


async def scored(client, appraisal_id: int) -> None:
    for assessor, rows in SCORES.items():
        path = f"/console/appraisals/{appraisal_id}/scores"
        _, form = await opened(client, path)
        assert form["assessor_was"] == "" and form["assessor"] == ""
        form["assessor"] = assessor
        for option, scores in rows.items():
            form |= {f"score.{option}.{c}": str(s) for c, s in zip(CRITERIA, scores, strict=True)}
        done = await client.post(path, data=form)
        assert done.status_code == 303, errors(done.text) or done.text[:800]


async def appraisal_at(client, keys, *, options: bool = True, scores: bool = False) -> tuple[dict[str, str], int]:
    """A commissioner signed in (the key's API headers) and an appraisal started through the console, with the four
    options entered (`options`) and both assessors' scores (`scores`)."""
    api = await commissioner(client, keys)
    appraisal_id = await started(client, api)
    if options or scores:
        await with_options(client, appraisal_id)
    if scores:
        await scored(client, appraisal_id)
    return api, appraisal_id


async def test_a_commissioner_starts_an_appraisal_standing_alone_and_from_an_exercise(client, keys):
    api = await commissioner(client, keys)
    listed, form = await opened(client, "/console/appraisals")
    assert "Start an options appraisal standing alone" in listed
    assert (form["years"], form["discount_rate"]) == ("3", "0.035")
    before = (await client.get("/appraisals", headers=api)).json()["total"]

    # a problem beside each box it names, what was typed kept, nothing stored
    bad = await client.post("/console/appraisals", data=form | {"title": "  ", "years": "30", "annual_budget": "lots"})
    assert bad.status_code == 400
    found = errors(bad.text)
    assert set(found) == {fid("title"), fid("years"), fid("annual_budget")}, found
    assert "25" in found[fid("years")]
    again = form_of(bad.text, "/console/appraisals")
    assert (again["years"], again["annual_budget"]) == ("30", "lots")
    assert "There is a problem" in bad.text and 'href="#f-years"' in bad.text
    assert (await client.get("/appraisals", headers=api)).json()["total"] == before

    appraisal_id = await started(client, api)
    a = await api_appraisal(client, api, appraisal_id)
    assert (a["title"], a["exercise_id"], a["annual_budget"], a["years"]) == (
        "Youth justice delivery model",
        None,
        1130000,
        3,
    )
    assert [c["key"] for c in a["criteria"]] == CRITERIA  # the standard four, equally weighted
    page = (await client.get(f"/console/appraisals/{appraisal_id}?started=1")).text
    assert "The appraisal has been started" in page and f'href="/console/appraisals/{appraisal_id}/options"' in page

    # from an exercise's page: the appraisal draws in that exercise
    exercise_id = (await client.get("/exercises", headers=api)).json()["items"][0]["id"]
    action = f"/console/exercises/{exercise_id}/appraisals"
    _, form = await opened(client, f"/console/exercises/{exercise_id}", action)
    refused = await client.post(action, data=form | {"title": "", "discount_rate": "0.5"})
    assert refused.status_code == 400
    assert set(errors(refused.text)) == {fid("title"), fid("discount_rate")}
    assert form_of(refused.text, action)["discount_rate"] == "0.5"
    done = await client.post(action, data=form | {"title": "Which delivery model for youth justice?"})
    assert done.status_code == 303, errors(done.text)
    made = int(re.search(r"/console/appraisals/(\d+)", done.headers["location"]).group(1))
    assert (await api_appraisal(client, api, made))["exercise_id"] == exercise_id
    assert f'href="/console/appraisals/{made}"' in (await client.get(f"/console/exercises/{exercise_id}")).text


async def test_the_options_form_adds_renames_and_removes_options(client, keys):
    api, appraisal_id = await appraisal_at(client, keys)
    a = await api_appraisal(client, api, appraisal_id)
    assert [o["key"] for o in a["options"]] == list(OPTIONS)
    assert a["options"][2]["partner"] == "The county council"
    path = f"/console/appraisals/{appraisal_id}/options"

    html, form = await opened(client, path)
    assert 'name="option.0.held" value="outsource_vcse"' in html  # a held option's key is not retyped
    # a hosted option without its partner: said beside the box, nothing stored, what was typed kept
    bad = await client.post(path, data=form | {"option.2.partner": "", "option.0.label": "Outsource (VCSE prime)"})
    assert bad.status_code == 400
    assert errors(bad.text) == {fid("option.2.partner"): "a hosted option names its partner organisation"}
    assert form_of(bad.text, path)["option.0.label"] == "Outsource (VCSE prime)"
    assert await api_appraisal(client, api, appraisal_id) == a

    # a new option's key already used: beside the key box
    blank = max(int(n) for n in re.findall(r'name="option\.(\d+)\.key"', html))
    dup = await client.post(path, data=form | {f"option.{blank}.key": "latc", f"option.{blank}.model": "in_house"})
    assert dup.status_code == 400
    assert "already used" in errors(dup.text)[fid(f"option.{blank}.key")]

    # rename one, remove another
    done = await client.post(path, data=form | {"option.0.label": "Outsource (VCSE prime)", "option.1.remove": "on"})
    assert done.status_code == 303, errors(done.text)
    after = await api_appraisal(client, api, appraisal_id)
    assert [o["key"] for o in after["options"]] == ["outsource_vcse", "hosted_la", "hosted_pcc"]
    assert after["options"][0]["label"] == "Outsource (VCSE prime)"

    # saving the form as it opened changes nothing: the version stays
    _, form = await opened(client, path)
    assert (await client.post(path, data=form)).status_code == 303
    assert (await api_appraisal(client, api, appraisal_id))["version"] == after["version"]


async def test_an_option_still_scored_cannot_be_removed_and_the_form_says_so_beside_it(client, keys):
    api, appraisal_id = await appraisal_at(client, keys, scores=True)
    a = await api_appraisal(client, api, appraisal_id)
    path = f"/console/appraisals/{appraisal_id}/options"
    _, form = await opened(client, path)
    bad = await client.post(path, data=form | {"option.1.remove": "on"})
    assert bad.status_code == 400
    said = errors(bad.text)
    assert list(said) == [fid("option.1.remove")], said
    assert "assessors’ scores still refer to it" in said[fid("option.1.remove")]
    assert await api_appraisal(client, api, appraisal_id) == a


async def test_criteria_and_weights_are_edited_and_all_zero_weights_are_refused(client, keys):
    api, appraisal_id = await appraisal_at(client, keys, options=False)
    path = f"/console/appraisals/{appraisal_id}/criteria"
    html, form = await opened(client, path)
    a = await api_appraisal(client, api, appraisal_id)

    zero = {f"criterion.{i}.weight": "0" for i in range(4)}
    bad = await client.post(path, data=form | zero)
    assert bad.status_code == 400
    assert "weights are all zero" in errors(bad.text)[fid("criterion.0.weight")]
    assert form_of(bad.text, path)["criterion.3.weight"] == "0"
    assert await api_appraisal(client, api, appraisal_id) == a

    blank = max(int(n) for n in re.findall(r'name="criterion\.(\d+)\.key"', html))
    n = f"criterion.{blank}"
    weights = {"criterion.0.weight": "30", "criterion.1.weight": "30", "criterion.2.weight": "20"}
    added = {f"{n}.key": "social_value", f"{n}.name": "Social value", f"{n}.weight": "10", f"{n}.scale": "10"}
    done = await client.post(path, data=form | weights | added | {"criterion.3.weight": "10"})
    assert done.status_code == 303, errors(done.text)
    after = await api_appraisal(client, api, appraisal_id)
    assert [(c["key"], c["weight"], c["scale"]) for c in after["criteria"]] == [
        ("financial_viability", 30, 5),
        ("performance_impact", 30, 5),
        ("quality", 20, 5),
        ("sustainability", 10, 5),
        ("social_value", 10, 10),
    ]
    assert after["criteria"][0]["anchors"] == a["criteria"][0]["anchors"]  # kept as held


async def test_an_assessors_scores_and_the_moderated_scores_are_grids_of_option_by_criterion(client, keys):
    api, appraisal_id = await appraisal_at(client, keys)
    path = f"/console/appraisals/{appraisal_id}/scores"
    html, form = await opened(client, path)
    for key in OPTIONS:  # a row per option, a box per criterion
        for c in CRITERIA:
            assert f'name="score.{key}.{c}"' in html
    a = await api_appraisal(client, api, appraisal_id)
    bad = await client.post(
        path, data=form | {"assessor": "Assessor A", "score.latc.quality": "7", "score.latc.sustainability": "3"}
    )
    assert bad.status_code == 400
    assert errors(bad.text) == {fid("score.latc.quality"): "Quality is scored from 0 to 5"}
    words = await client.post(path, data=form | {"assessor": "Assessor A", "score.latc.quality": "four"})
    assert errors(words.text) == {fid("score.latc.quality"): "enter a number from 0 to 5"}  # its own scale
    kept = form_of(bad.text, path)
    assert (kept["assessor"], kept["score.latc.quality"], kept["score.latc.sustainability"]) == ("Assessor A", "7", "3")
    assert await api_appraisal(client, api, appraisal_id) == a
    # a new assessor with every box empty has nothing to save: told so beside their name (it led to a 404 page)
    empty = await client.post(path, data=form | {"assessor": "Assessor C"})
    assert empty.status_code == 400
    assert errors(empty.text) == {fid("assessor"): "enter at least one score in the grid for this assessor"}
    assert await api_appraisal(client, api, appraisal_id) == a

    await scored(client, appraisal_id)
    a = await api_appraisal(client, api, appraisal_id)
    assert len(a["scores"]) == 32 and a["results"]["ranking"][0] == "outsource_vcse"

    # one assessor's grid opens with their scores; a change there leaves the other's as they are
    html, form = await opened(client, f"{path}?assessor=Assessor%20B", path)
    assert form["score.latc.quality"] == "3" and form["assessor_was"] == "Assessor B"
    form |= {"score.latc.quality": "4", "rationale.latc.quality": "Strong quality framework"}
    done = await client.post(path, data=form)
    assert done.status_code == 303, errors(done.text)
    after = await api_appraisal(client, api, appraisal_id)
    changed = [s for s in after["scores"] if s not in a["scores"]]
    assert changed == [
        {
            "option": "latc",
            "criterion": "quality",
            "assessor": "Assessor B",
            "score": 4,
            "rationale": "Strong quality framework",
        }
    ]

    # moderation: a score without its note is refused beside the note box
    mpath = f"/console/appraisals/{appraisal_id}/moderation"
    html, form = await opened(client, mpath)
    assert "Assessors: 4 to 5, mean 4.5 (2)" in html  # the spread under the box
    bad = await client.post(mpath, data=form | {"moderated.outsource_vcse.financial_viability": "4"})
    assert bad.status_code == 400
    assert list(errors(bad.text)) == [fid("note.outsource_vcse.financial_viability")]
    assert form_of(bad.text, mpath)["moderated.outsource_vcse.financial_viability"] == "4"
    good = {
        "moderated.outsource_vcse.financial_viability": "4",
        "note.outsource_vcse.financial_viability": "Agreed at moderation: reserves are thin",
    }
    assert (await client.post(mpath, data=form | good)).status_code == 303
    moderated = (await api_appraisal(client, api, appraisal_id))["moderation"]
    assert moderated == [
        {
            "option": "outsource_vcse",
            "criterion": "financial_viability",
            "score": 4,
            "note": "Agreed at moderation: reserves are thin",
        }
    ]

    # an assessor whose every score is cleared has none left: back to the appraisal, the others' scores kept
    html, form = await opened(client, f"{path}?assessor=Assessor%20B", path)
    cleared = {k: "" for k in form if k.startswith(("score.", "rationale."))}
    gone = await client.post(path, data=form | cleared)
    assert gone.status_code == 303 and gone.headers["location"] == f"/console/appraisals/{appraisal_id}?saved=scores"
    left = (await api_appraisal(client, api, appraisal_id))["scores"]
    assert {s["assessor"] for s in left} == {"Assessor A"} and len(left) == 16
    assert (await client.get(gone.headers["location"])).status_code == 200


async def test_cost_lines_per_option_and_year(client, keys):
    api, appraisal_id = await appraisal_at(client, keys)
    path = f"/console/appraisals/{appraisal_id}/costs"
    _, form = await opened(client, path)
    a = await api_appraisal(client, api, appraisal_id)
    line = {"cost.0.option": "latc", "cost.0.year": "4", "cost.0.category": "staff", "cost.0.amount": "£950,000"}
    bad = await client.post(path, data=form | line)
    assert bad.status_code == 400
    assert errors(bad.text) == {fid("cost.0.year"): "the appraisal runs for 3 contract years"}
    assert form_of(bad.text, path)["cost.0.amount"] == "£950,000"
    assert await api_appraisal(client, api, appraisal_id) == a

    done = await client.post(path, data=form | line | {"cost.0.year": "1", "then": "more"})
    assert done.status_code == 303, errors(done.text)
    _, form = await opened(client, path)
    form |= {
        "cost.1.option": "latc",
        "cost.1.year": "1",
        "cost.1.category": "setup_transition",
        "cost.1.amount": "80000",
    }
    assert (await client.post(path, data=form)).status_code == 303
    costs = (await api_appraisal(client, api, appraisal_id))["costs"]
    assert [(c["option"], c["year"], c["category"], c["amount"]) for c in costs] == [
        ("latc", 1, "staff", 950000),
        ("latc", 1, "setup_transition", 80000),
    ]
    # settings: fewer years than a cost line runs to is said beside the years box
    spath = f"/console/appraisals/{appraisal_id}/settings"
    _, form = await opened(client, spath)
    assert form["annual_budget"] == "1130000"
    costs_line = {"cost.0.year": "3"}
    _, cform = await opened(client, path)
    assert (await client.post(path, data=cform | costs_line)).status_code == 303
    _, form = await opened(client, spath)
    bad = await client.post(spath, data=form | {"years": "2"})
    assert bad.status_code == 400
    assert "cost lines are entered for later years" in errors(bad.text)[fid("years")]
    done = await client.post(spath, data=form | {"years": "5", "title": "Renamed"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/appraisals/{appraisal_id}?saved=settings"
    after = await api_appraisal(client, api, appraisal_id)
    assert (after["years"], after["title"]) == (5, "Renamed")


async def test_the_decision_is_recorded_and_the_services_rules_show_beside_its_boxes(client, keys):
    api, appraisal_id = await appraisal_at(client, keys, scores=True)
    costs = f"/console/appraisals/{appraisal_id}/costs"
    _, form = await opened(client, costs)
    line = {
        "cost.0.option": "outsource_vcse",
        "cost.0.year": "1",
        "cost.0.category": "staff",
        "cost.0.amount": "900000",
    }
    assert (await client.post(costs, data=form | line)).status_code == 303
    path = f"/console/appraisals/{appraisal_id}"
    action = f"{path}/decision"
    page, form = await opened(client, path, action)
    assert form["option"] == "outsource_vcse"  # the preferred option, ticked
    # with a budget, an option with no costs is "not costed" (not known to be affordable), never "no budget set"
    results = page.split(">Results</h2>", 1)[1].split("</table>", 1)[0]
    assert results.count("Not costed") == 3 and "No budget set" not in results, results
    a = await api_appraisal(client, api, appraisal_id)

    # not the preferred option, no reasons: the service's 422 beside the reasons box, what was typed kept
    typed = {"option": "latc", "decided_by": "Youth justice management board, 12 March 2027", "reasons": ""}
    bad = await client.post(action, data=form | typed)
    assert bad.status_code == 422
    said = errors(bad.text)
    assert list(said) == [fid("reasons")] and said[fid("reasons")].startswith("required:"), said
    kept = form_of(bad.text, action)
    assert (kept["option"], kept["decided_by"]) == ("latc", typed["decided_by"])
    short = await client.post(action, data=form | typed | {"reasons": "tbc"})
    assert short.status_code == 422 and "too short" in errors(short.text)[fid("reasons")]
    assert form_of(short.text, action)["reasons"] == "tbc"
    missing = await client.post(action, data=form | {"option": "latc", "decided_by": ""})
    assert missing.status_code == 400 and fid("decided_by") in errors(missing.text)
    assert await api_appraisal(client, api, appraisal_id) == a

    reasons = "YJMB minute 2027/14: the council's staff stay with the partnership"
    done = await client.post(action, data=form | typed | {"reasons": reasons})
    assert done.status_code == 303, errors(done.text)
    decided = (await api_appraisal(client, api, appraisal_id))["decision"]
    assert (decided["option"], decided["decided_by"], decided["reasons"]) == ("latc", typed["decided_by"], reasons)
    page = (await client.get(done.headers["location"])).text
    assert "The decision has been recorded" in page and 'action="/console/appraisals/' not in page
    # frozen: its forms are refused, as the API refuses any change
    frozen = await client.get(f"{path}/options")
    assert frozen.status_code == 409 and "decided and frozen" in frozen.text


async def test_a_form_opened_before_someone_elses_change_is_refused_never_overwriting(client, keys):
    api, appraisal_id = await appraisal_at(client, keys, scores=True)
    base = f"/console/appraisals/{appraisal_id}"
    opened_forms = {}
    for part in ("settings", "options", "criteria", "scores", "moderation", "costs"):
        _, opened_forms[part] = await opened(client, f"{base}/{part}")
    _, decision = await opened(client, base, f"{base}/decision")

    a = await api_appraisal(client, api, appraisal_id)
    meanwhile = await client.patch(
        f"/appraisals/{appraisal_id}",
        json={"title": "Changed meanwhile"},
        headers={**api, "If-Match": f'"v{a["version"]}"'},
    )
    assert meanwhile.status_code == 200, meanwhile.text
    now = await api_appraisal(client, api, appraisal_id)
    typed = {
        "settings": {"title": "Mine, typed over"},
        "options": {"option.0.label": "Mine, typed over"},
        "criteria": {"criterion.0.weight": "50"},
        "scores": {"assessor": "Assessor C", "score.latc.quality": "1"},
        "moderation": {"moderated.latc.quality": "1", "note.latc.quality": "Mine, typed over"},
        "costs": {"cost.0.option": "latc", "cost.0.year": "1", "cost.0.category": "staff", "cost.0.amount": "5"},
    }
    for part, form in opened_forms.items():
        clash = await client.post(f"{base}/{part}", data=form | typed[part])
        assert clash.status_code == 409, (part, clash.text[:500])
        assert "This appraisal was changed since you opened this form" in clash.text, part
        assert "Nothing of yours has been saved" in clash.text
        again = form_of(clash.text, f"{base}/{part}")
        assert all(again[k] == v for k, v in typed[part].items()), part  # what was typed, kept
        assert again["version"] == str(now["version"])
        assert await api_appraisal(client, api, appraisal_id) == now, part
    if_stale = await client.post(
        f"{base}/decision", data=decision | {"option": "outsource_vcse", "decided_by": "The board"}
    )
    assert if_stale.status_code == 409 and "No decision has been recorded" in if_stale.text
    assert form_of(if_stale.text, f"{base}/decision")["decided_by"] == "The board"
    assert (await api_appraisal(client, api, appraisal_id))["decision"] is None

    # a form without its version is refused, not saved over whatever is there
    lost = await client.post(f"{base}/settings", data={**opened_forms["settings"], "version": ""})
    assert lost.status_code == 400 and "lost the version" in lost.text
    assert (await api_appraisal(client, api, appraisal_id))["title"] == "Changed meanwhile"


async def test_only_roles_that_may_change_appraisals_in_the_api_may_in_the_console(client, keys):
    api, appraisal_id = await appraisal_at(client, keys, options=False)
    a = await api_appraisal(client, api, appraisal_id)
    base = f"/console/appraisals/{appraisal_id}"
    _, settings = await opened(client, f"{base}/settings")
    total = (await client.get("/appraisals", headers=api)).json()["total"]

    _, key = await keys.make("provider", provider_id=1)
    csrf = await sign_in(client, key)
    provider_api = {"Authorization": f"Bearer {key}"}
    assert (await client.patch(f"/appraisals/{appraisal_id}", json={}, headers=provider_api)).status_code == 403
    for path in (f"{base}/settings", f"{base}/options", f"{base}/scores"):
        assert (await client.get(path)).status_code == 403, path
    for path, data in (
        (f"{base}/settings", {**settings, "title": "A provider's"}),
        (f"{base}/options", {"version": str(a["version"]), "option.0.key": "mine", "option.0.model": "in_house"}),
        (f"{base}/decision", {"version": str(a["version"]), "option": "x", "decided_by": "Me"}),
        ("/console/appraisals", {"title": "A provider's appraisal"}),
    ):
        refused = await client.post(path, data={**data, "csrf_token": csrf})
        assert refused.status_code == 403, path
        assert "This page is for admins and commissioners; you are signed in as a provider" in refused.text
    assert await api_appraisal(client, api, appraisal_id) == a
    assert (await client.get("/appraisals", headers=api)).json()["total"] == total

    # an admin may, as in the API
    _, admin = await keys.make("admin")
    await sign_in(client, admin)
    _, settings = await opened(client, f"{base}/settings")
    assert (await client.post(f"{base}/settings", data=settings | {"title": "An admin's"})).status_code == 303


async def test_the_consoles_report_renders_run_one_at_a_time_per_worker(at_once, keys, monkeypatch):
    """As the API's (reports.service.in_turn): the live market report and the appraisal report, page or CSV, asked
    for at once, as one worker serves them (litestar's test client serves one request at a time, so its gathered
    requests never overlapped); the session's cookie is kept by the client, as a browser's."""
    client = at_once
    api, appraisal_id = await appraisal_at(client, keys, options=False)
    exercise_id = (await client.get("/exercises", headers=api)).json()["items"][0]["id"]
    renders = Renders()
    for name in ("to_html", "to_csv_bytes", "appraisal_html", "appraisal_csv"):
        monkeypatch.setattr(console_routes, name, renders.wrap(getattr(console_routes, name)))
    answers = await asyncio.gather(
        client.get(f"/console/exercises/{exercise_id}/report?format=html"),
        client.get(f"/console/exercises/{exercise_id}/report?format=csv"),
        client.get(f"/console/appraisals/{appraisal_id}/report?format=html"),
        client.get(f"/console/appraisals/{appraisal_id}/report?format=csv"),
    )
    assert [r.status_code for r in answers] == [200] * 4
    assert sorted(renders.made) == ["to_csv_bytes", "to_csv_bytes", "to_html", "to_html"] and renders.most == 1


async def test_an_options_partner_stands_on_its_own_line_and_scores_are_out_of_100(client, keys):
    """ "Hosted by a local authority (with The host county council (fictional))" read as one run-on phrase."""
    await commissioner(client, keys)
    page = await client.get("/console/appraisals/1")
    assert page.status_code == 200
    html = page.text
    assert '<span class="body-s">Partner: The host county council (fictional)</span>' in html
    assert "(with " not in html
    # weighted scores out of 100, as the appraisal's report gives them (the console gave 0.770 beside its 77.0)
    a = (await client.get("/appraisals/1", headers=await keys.headers("commissioner"))).json()
    top = max(o["weighted_score"] for o in a["results"]["options"] if o["weighted_score"] is not None)
    assert "Weighted score (out of 100)" in html and f'<td class="numeric">{top * 100:.1f}</td>' in html


async def test_the_consoles_appraisal_report_leads_back_to_the_appraisal_and_the_apis_does_not(client, keys):
    """The appraisal report opened from the console had no way back to it (the market report's page has one): the
    console's page has its breadcrumbs and links above the cover, hidden in print; the API's page is the report
    alone."""
    await commissioner(client, keys)
    title = (await client.get("/appraisals/1", headers=await keys.headers("commissioner"))).json()["title"]
    page = await client.get("/console/appraisals/1/report?format=html")
    assert page.status_code == 200
    controls = re.search(r'<div class="console-controls">(.*?)</div>\n</div>', page.text, re.S)
    assert controls is not None, page.text[:2000]
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', unescape(controls.group(1)))
    assert ("/console/appraisals", "Options appraisals") in links and ("/console/appraisals/1", title) in links
    assert ("/console/appraisals/1", "Back to the appraisal") in links
    assert ("/console/appraisals/1/report?format=csv", "Download this report as CSV") in links
    assert "@media print { .console-controls { display: none; } }" in page.text
    assert page.text.index("console-controls") < page.text.index('<header class="cover">')
    api = await client.get(
        "/appraisals/1/report", params={"format": "html"}, headers=await keys.headers("commissioner")
    )
    assert api.status_code == 200 and '<header class="cover">' in api.text and "console-controls" not in api.text


async def test_the_results_table_marks_the_preferred_option_even_when_it_is_the_top_score(client, keys):
    """ "Top score" and "Chosen" were marked, and "Preferred" only when it was not the top: a commissioner could not
    tell the top option was also the preferred one."""
    await commissioner(client, keys)
    results = (await client.get("/appraisals/1", headers=await keys.headers("commissioner"))).json()["results"]
    page = (await client.get("/console/appraisals/1")).text
    tags = re.findall(r'<strong class="tag">([^<]+)</strong>', page)
    assert results["top"] == results["preferred"], "the sample's top option is affordable"
    assert "Top score and preferred" in tags and "Top score" not in tags, tags
