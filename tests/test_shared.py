"""The shared modules every room uses: settings, the clock, partial changes; and the one clock seen
through the whole app."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import msgspec
import pytest
from conftest import app_settings
from litestar.testing import AsyncTestClient
from msgspec import UNSET, UnsetType

from marketplace.app import create_app
from marketplace.clock import Clock, FixedClock
from marketplace.settings import ENVIRONMENT, Settings, SettingsError
from marketplace.types import merge, project

# --- settings -------------------------------------------------------------------------------------


def test_settings_default_when_the_environment_says_nothing() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env(dict.fromkeys(ENVIRONMENT.values(), "")) == Settings()


def test_settings_are_decoded_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "MARKETPLACE_POOL_MAX": "7",
            "MARKETPLACE_DATA_DIR": "/srv/provision",
            "DATABASE_URL": "postgresql://db/x",
            "MARKETPLACE_MATCH_SLOTS": "3",
        }
    )
    assert (s.pool_max_size, s.data_dir, s.database_url, s.match_slots) == (
        7,
        Path("/srv/provision"),
        "postgresql://db/x",
        3,
    )
    assert s.pool_min_size == Settings().pool_min_size


def test_a_setting_that_does_not_decode_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="MARKETPLACE_POOL_MAX='many'"):
        Settings.from_env({"MARKETPLACE_POOL_MAX": "many"})


def test_the_base_url_must_be_an_address() -> None:
    given = Settings.from_env({"MARKETPLACE_BASE_URL": "https://provision.example.org"})
    assert given.base_url == "https://provision.example.org"
    for bad in ("provision.example.org", "https://", "https://provision.example.org/?x=1", "ftp://x"):
        with pytest.raises(SettingsError, match=f"MARKETPLACE_BASE_URL='{re.escape(bad)}': must be an address"):
            Settings.from_env({"MARKETPLACE_BASE_URL": bad})


def test_every_variable_sets_a_real_setting() -> None:
    assert set(ENVIRONMENT) <= set(Settings.__struct_fields__)


# --- the clock ------------------------------------------------------------------------------------


def test_the_as_of_date_is_the_date_in_england() -> None:
    late_summer_evening = FixedClock(dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC))  # 00:30 BST on 1 July
    assert late_summer_evening.today() == dt.date(2026, 7, 1)
    winter = FixedClock(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC))  # GMT: still 31 December
    assert winter.today() == dt.date(2026, 12, 31)
    assert Clock().now().tzinfo is dt.UTC


def test_a_fixed_clock_needs_a_time_zone() -> None:
    with pytest.raises(ValueError):
        FixedClock(dt.datetime(2026, 1, 1))


# --- partial changes ------------------------------------------------------------------------------


class Contact(msgspec.Struct):
    name: str | None = None
    email: str | None = None


class ContactPatch(msgspec.Struct):
    name: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET


class Weights(msgspec.Struct):
    a: float = 0.0
    b: float = 0.0


class Record(msgspec.Struct):
    title: str
    contact: Contact
    weights: Weights
    version: int = 1


class RecordPatch(msgspec.Struct):
    title: str | UnsetType = UNSET
    contact: ContactPatch | UnsetType = UNSET
    weights: Weights | UnsetType = UNSET


class Editable(msgspec.Struct):
    title: str
    weights: Weights


def test_merge_changes_only_what_the_patch_sets() -> None:
    current = Record(title="t", contact=Contact(name="Ann", email="a@x.org"), weights=Weights(a=1, b=2))
    assert merge(current, RecordPatch()) == current
    changed = merge(current, RecordPatch(contact=ContactPatch(email=None)))
    assert changed.contact == Contact(name="Ann", email=None), "a patch type changes its object field by field"
    replaced = merge(current, RecordPatch(weights=Weights(b=5)))
    assert replaced.weights == Weights(a=0, b=5), "a value of the field's own type replaces it whole"
    assert merge(current, RecordPatch(title="new")).title == "new" and current.title == "t"


def test_project_keeps_the_fields_the_target_has() -> None:
    current = Record(title="t", contact=Contact(), weights=Weights(a=1), version=9)
    assert project(current, Editable) == Editable(title="t", weights=Weights(a=1))


# --- one clock through the app ----------------------------------------------------------------------


async def test_the_app_reads_the_time_from_its_clock(fresh_db: str, keys) -> None:
    """Staleness and a match run's "as of" date both come from the clock the app is given."""
    later = FixedClock(dt.datetime(2031, 3, 2, 12, tzinfo=dt.UTC))
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=later)) as client:
        found = (await client.get("/providers", params={"per_page": 100})).json()
        assert found["items"] and all(item["stale"] for item in found["items"])
        first = found["items"][0]["id"]
        assert (await client.get(f"/providers/{first}")).json()["stale"] is True
        h = await keys.headers("commissioner")
        exercise = (await client.get("/exercises", headers=h)).json()["items"][0]
        need = (await client.get(f"/exercises/{exercise['id']}/needs", headers=h)).json()[0]
        run = (await client.post(f"/needs/{need['id']}/match-runs", params={"limit": 3}, headers=h)).json()
        assert run["as_of"] == "2031-03-02"
        own = await keys.headers("provider", first)
        confirmed = (await client.post(f"/providers/{first}/confirm", headers=own)).json()
        assert confirmed["last_confirmed_at"].startswith("2031-03-02T12:00:00") and confirmed["stale"] is False
