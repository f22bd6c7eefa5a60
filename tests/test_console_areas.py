"""Areas in the console's forms are typed and shown by name: a commissioner or a provider does not know ONS GSS
codes. A box naming areas (a need's, a service's, a premises' area) reads each by its name or its code, whatever the
case, accents or punctuation; shows the stored ones by name; and an area the directory does not know is refused
in the words of such a box, with the closest by name. The API itself still takes and gives codes."""

from __future__ import annotations

from html import unescape
from types import SimpleNamespace

from test_console_forms import errors, form_of, opened, service_form

from marketplace.console import forms
from marketplace.console.routes import _need_form_labels
from marketplace.errors import FieldProblem

NAMES = {
    "E10000034": "Worcestershire",
    "E07000237": "Worcester",
    "E06000020": "Telford and Wrekin",
    "E06000019": "Herefordshire, County of",
    "E10000006": "Cumbria",
    "E23000002": "Cumbria",  # a county and a police force area of the same name
    "E06000057": "Northumberland",
}


def test_a_box_reads_areas_by_name_or_code_one_a_line_or_separated_by_commas() -> None:
    typed = "worcestershire\n  TELFORD & WREKIN , e07000237\n\nHerefordshire, County of\nNorthümberland"
    assert forms.area_codes(typed, NAMES) == ["E10000034", "E06000020", "E07000237", "E06000019", "E06000057"]
    # a name with a comma in it is read whole; its parts are not areas
    assert forms.area_codes("Herefordshire, County of, Worcester", NAMES) == ["Herefordshire", "County of", "E07000237"]
    # a name two areas share is read by the code written after it, and kept as typed without one (the API refuses
    # it, and the box says how to write each), as is a name no area has, or a name and the code of another area
    assert forms.area_codes("Cumbria (E23000002)\nCumbria\nTelfrod", NAMES) == ["E23000002", "Cumbria", "Telfrod"]
    assert forms.area_codes("Worcestershire (E06000020)\n(e06000020)", NAMES) == [
        "Worcestershire (E06000020)",
        "E06000020",
    ]
    # codes separated by spaces, as the box took them before it took names
    assert forms.area_codes("E06000020 e10000034, Worcester", NAMES) == ["E06000020", "E10000034", "E07000237"]
    assert forms.area_codes("Telford Wrekin", NAMES) == ["Telford Wrekin"]
    assert forms.area_codes("", NAMES) == [] and forms.area_codes(" \n , ", NAMES) == []


def test_a_box_shows_areas_by_name_and_reads_back_what_it_shows() -> None:
    codes = ["E10000034", "E06000019", "E10000006", "E99999999"]
    shown = forms.area_lines(codes, NAMES)
    assert shown == "Worcestershire\nHerefordshire, County of\nCumbria (E10000006)\nE99999999"
    assert forms.area_codes(shown, NAMES) == codes  # saved as shown, the same areas


def test_the_api_refusing_an_area_is_said_in_the_words_of_a_box_taking_names() -> None:
    looks = " is not an area code: areas are ONS GSS codes, e.g. E06000019 for Herefordshire"
    api = [
        FieldProblem(field="areas[1]", problem="'Telfrod'" + looks + "; did you mean E06000020 (Telford and Wrekin)?"),
        FieldProblem(field="areas[2]", problem="'Nowhere at all'" + looks),
        FieldProblem(field="areas[3]", problem="'cumbria'" + looks + "; did you mean E10000006 (Cumbria)?"),
        FieldProblem(field="areas[4]", problem='"O\'Neill"' + looks),
        FieldProblem(field="name", problem="must not be empty"),
    ]
    assert [p.problem for p in forms.area_problems(api, NAMES)] == [
        "'Telfrod' is not an area the directory knows: type the area's name, or its ONS code; "
        "did you mean Telford and Wrekin (E06000020)?",
        "'Nowhere at all' is not an area the directory knows: type the area's name, or its ONS code",
        "'cumbria' is the name of 2 areas: write the one you mean as Cumbria (E10000006) or Cumbria (E23000002)",
        "\"O'Neill\" is not an area the directory knows: type the area's name, or its ONS code",
        "must not be empty",
    ]
    assert [p.field for p in forms.area_problems(api, NAMES)] == [p.field for p in api]


def test_a_need_asks_service_users_for_its_areas_and_those_within_them() -> None:
    area = SimpleNamespace
    taxonomy = [  # as the database gives it: by depth, then by name (taxonomy/queries.fetch_taxonomy)
        area(code="E23000016", name="West Mercia", parent=None),
        area(code="E06000019", name="Herefordshire", parent="E23000016"),
        area(code="E06000020", name="Telford and Wrekin", parent="E23000016"),
        area(code="E10000034", name="Worcestershire", parent="E23000016"),
        area(code="E07000236", name="Redditch", parent="E10000034"),
        area(code="E07000237", name="Worcester", parent="E10000034"),
    ]
    held = {"need.area_volumes.E06000019": "10", "need.area_volumes.E99999999": "5", "need.area_volumes.E06000020": ""}
    shown = forms.volume_areas(["E10000034", "E06000020"], taxonomy, held)
    # each of its areas followed by the areas within it (a county's districts under it, a group of its own); then
    # the areas the form holds a figure for that are no longer the need's, so that none is dropped unseen (one the
    # taxonomy does not hold by its code)
    assert [(g.name, [getattr(a, "code", a) for a in g.areas]) for g in shown] == [
        ("Worcestershire", ["E10000034", "E07000236", "E07000237"]),
        (None, ["E06000020"]),
        (forms.LEFT_OVER, ["E06000019", "E99999999"]),
    ]
    # the need's areas with none within them side by side, in the need's order
    flat = forms.volume_areas(["E06000020", "E06000019", "E10000034"], taxonomy, {})
    assert [(g.name, [a.code for a in g.areas]) for g in flat] == [
        (None, ["E06000020", "E06000019"]),
        ("Worcestershire", ["E10000034", "E07000236", "E07000237"]),
    ]
    labels = _need_form_labels(held, {"E06000019": "Herefordshire"})
    assert labels["need.area_volumes.E06000019"] == "Service users a year in Herefordshire"
    assert labels["need.area_volumes.E99999999"] == "Service users a year in E99999999"


async def test_a_provider_types_a_services_areas_by_name_and_sees_them_by_name(client, keys):
    svc, path, html, form = await service_form(client, keys)
    assert "The areas the directory knows" in html and "Telford and Wrekin <span" in html  # the list to look at
    bad = await client.post(path, data=form | {"areas": "Worcestershire\nTelfrod"})
    assert bad.status_code == 400
    assert unescape(errors(bad.text)["f-areas"]) == (
        "'Telfrod' is not an area the directory knows: type the area's name, or its ONS code; "
        "did you mean Telford and Wrekin (E06000020)?"
    )
    assert form_of(bad.text, path)["areas"] == "Worcestershire\nTelfrod"  # as typed
    assert (await client.get(f"/providers/1/services/{svc['id']}")).json() == svc  # nothing stored
    done = await client.post(path, data=form | {"areas": "worcestershire\ntelford & wrekin"})
    assert done.status_code == 303, errors(done.text)
    stored = (await client.get(f"/providers/1/services/{svc['id']}")).json()["areas"]
    assert stored == ["E06000020", "E10000034"]  # as codes, in the API's order
    _, again = await opened(client, path)
    assert again["areas"] == "Telford and Wrekin\nWorcestershire"


def test_a_number_box_shows_what_it_saves_and_reads_thousands_commas_only_in_their_places() -> None:
    assert [forms.number(x) for x in (0.00001, 2.5, 2300000.0, 1.0)] == ["0.00001", "2.5", "2300000", "1"]
    assert forms.read_number(forms.number(0.00001), whole=False) == 0.00001  # shown as saved again
    assert [forms.without_thousands(t) for t in ("1,250", "12,500.50", "0,250", "10,50", "1,5")] == [
        "1250",
        "12500.50",
        "0,250",  # a decimal comma perhaps: left, so the box is refused, never read as 250
        "10,50",
        "1,5",
    ]


def test_the_need_form_shows_three_priority_rows_at_least_and_one_more_than_a_need_may_have_at_most() -> None:
    assert forms.priority_rows({}) == [0, 1, 2]
    held = {f"need.local_priorities.{i}.text": f"priority {i}" for i in range(4)}
    assert forms.priority_rows(held) == [0, 1, 2, 3, 4]  # a blank row after them
    full = {f"need.local_priorities.{i}.text": f"priority {i}" for i in range(30)}
    assert forms.priority_rows(full) == list(range(21))  # 20 a need may have, and one more, said too many


def test_two_stored_priorities_alike_but_for_spacing_keep_their_texts_saved_unchanged() -> None:
    from marketplace.exercises.models import LocalPriority

    stored = [LocalPriority("women  leaving custody", 2.0), LocalPriority("women leaving custody", 1.0)]
    typed = [LocalPriority("women leaving custody", 2.0), LocalPriority("women leaving custody", 1.0)]
    assert forms.kept_priorities(typed, stored) == stored
