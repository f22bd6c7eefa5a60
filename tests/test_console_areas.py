"""Areas in the console's forms are typed and shown by name: a commissioner or a provider does not know ONS GSS
codes. A box naming areas (a need's, a service's, a premises' area) reads each by its name or its code, whatever the
case, accents or punctuation; shows the stored ones by name; and an area the directory does not know is refused
in the words of such a box, with the closest by name. The API itself still takes and gives codes."""

from __future__ import annotations

from html import unescape
from types import SimpleNamespace

from test_console import signed_in
from test_console_forms import errors, form_of, opened

from marketplace.console import forms
from marketplace.console.routes import _need_form_labels

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
    # it, with the closest area), as is a name no area has
    assert forms.area_codes("Cumbria (E23000002)\nCumbria\nTelfrod", NAMES) == ["E23000002", "Cumbria", "Telfrod"]
    assert forms.area_codes("", NAMES) == [] and forms.area_codes(" \n , ", NAMES) == []


def test_a_box_shows_areas_by_name_and_reads_back_what_it_shows() -> None:
    codes = ["E10000034", "E06000019", "E10000006", "E99999999"]
    shown = forms.area_lines(codes, NAMES)
    assert shown == "Worcestershire\nHerefordshire, County of\nCumbria (E10000006)\nE99999999"
    assert forms.area_codes(shown, NAMES) == codes  # saved as shown, the same areas


def test_the_api_refusing_an_area_is_said_in_the_words_of_a_box_taking_names() -> None:
    api = "'Telfrod' is not an area code: areas are ONS GSS codes, e.g. E06000019 for Herefordshire"
    assert forms.as_form_words(api + "; did you mean E06000020 (Telford and Wrekin)?") == (
        "'Telfrod' is not an area the directory knows: type the area's name, or its ONS code; "
        "did you mean Telford and Wrekin (E06000020)?"
    )
    assert forms.as_form_words(api) == (
        "'Telfrod' is not an area the directory knows: type the area's name, or its ONS code"
    )
    quoted = '"O\'Neill" is not an area code: areas are ONS GSS codes, e.g. E06000019 for Herefordshire'
    assert forms.as_form_words(quoted).startswith('"O\'Neill" is not an area the directory knows')


def test_a_need_asks_service_users_for_its_areas_and_those_within_them() -> None:
    area = SimpleNamespace
    taxonomy = [
        area(code="E23000016", name="West Mercia", parent=None),
        area(code="E10000034", name="Worcestershire", parent="E23000016"),
        area(code="E07000236", name="Redditch", parent="E10000034"),
        area(code="E07000237", name="Worcester", parent="E10000034"),
        area(code="E06000019", name="Herefordshire", parent="E23000016"),
        area(code="E06000020", name="Telford and Wrekin", parent="E23000016"),
    ]
    held = {"need.area_volumes.E06000019": "10", "need.area_volumes.E99999999": "5", "need.area_volumes.E06000020": ""}
    shown = forms.volume_areas(["E06000020", "E10000034"], taxonomy, held)
    # its areas and every area within them, in the taxonomy's order; an area the form holds a figure for that is
    # no longer the need's, so that it is not dropped unseen (and one the taxonomy does not hold, by its code)
    assert [getattr(a, "code", a) for a in shown] == [
        "E10000034",
        "E07000236",
        "E07000237",
        "E06000019",
        "E06000020",
        "E99999999",
    ]
    labels = _need_form_labels(held, {"E06000019": "Herefordshire"})
    assert labels["need.area_volumes.E06000019"] == "Service users a year in Herefordshire"
    assert labels["need.area_volumes.E99999999"] == "Service users a year in E99999999"


async def test_a_provider_types_a_services_areas_by_name_and_sees_them_by_name(client, keys):
    await signed_in(client, keys, "provider", 1)
    client.follow_redirects = False
    svc = (await client.get("/providers/1/services")).json()[0]
    path = f"/console/providers/1/services/{svc['id']}/edit"
    html, form = await opened(client, path)
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
