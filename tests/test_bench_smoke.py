"""The HTTP benchmark harness (bench/): a deterministic, valid generator, and a small run of the whole thing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import Counter

import asyncpg
import msgspec
from conftest import bench_module

from marketplace.providers.models import NewProvider, profile_problems
from marketplace.seed import load_taxonomy
from marketplace.settings import PROJECT_ROOT, Settings

BENCH = PROJECT_ROOT / "bench"


gen = bench_module("generate")
drivers = bench_module("drivers")


def encoded(profiles: list[NewProvider]) -> bytes:
    return msgspec.json.encode(profiles)


def test_same_seed_same_providers_and_different_seed_different() -> None:
    assert encoded(gen.generate(1500, seed=7)) == encoded(gen.generate(1500, seed=7))
    assert encoded(gen.generate(1500, seed=7)) != encoded(gen.generate(1500, seed=8))


def test_any_slice_generates_alone_as_in_the_whole() -> None:
    whole = gen.generate(3000, seed=3)
    assert encoded(gen.generate_range(1000, 2500, seed=3)) == encoded(whole[1000:2500])
    assert [gen.last_confirmed_days_ago(i, 3) for i in range(50)] == [
        gen.last_confirmed_days_ago(i, 3) for i in range(50)
    ]


def test_generated_profiles_are_valid_profiles() -> None:
    taxonomy = load_taxonomy(Settings.from_env().seed_dir)
    profiles = gen.generate(3000, seed=11)
    for p in profiles:
        assert isinstance(p, NewProvider)
        assert profile_problems(p, taxonomy, today=dt.date(gen.YEAR, 12, 31)) == [], p.name  # services' rules included
        # msgspec enforces the schema's constraints (patterns, lengths, ranges) only when decoding
        assert msgspec.json.decode(msgspec.json.encode(p), type=NewProvider) == p
    identifiers = [i for p in profiles for i in p.identifiers]
    assert len(identifiers) == len(set(identifiers))


def test_generated_directory_looks_like_a_market() -> None:
    profiles = gen.generate(5000, seed=1)
    services = [x for p in profiles for x in p.services]
    per_provider = Counter(len(p.services) for p in profiles)
    assert set(per_provider) == {1, 2, 3, 4}  # 1 to 4 services each, most with one or two
    assert per_provider[1] > per_provider[2] > per_provider[3] > per_provider[4] > 0.05 * len(profiles)
    pathways = Counter(x.pathway for x in services)
    assert set(pathways) == set(gen.PATHWAY_WEIGHTS)  # every pathway offered somewhere
    assert pathways["ACCOM"] > 4 * pathways["WOMEN_SEXWORK"]  # common and rare ones
    # one pathway twice in different areas, and services narrower than where the organisation works
    assert any(len({x.pathway for x in p.services}) < len(p.services) for p in profiles)
    assert any(len({tuple(x.areas) for x in p.services}) > 1 for p in profiles)
    coverage = Counter(len(x.areas) for x in services)
    assert coverage[1] > 0 and max(coverage) >= 2
    assert any(x.areas == [gen.WEST_MERCIA] for x in services) and any(
        x.areas == [gen.WORCESTERSHIRE] for x in services
    )
    # who is served, capacity, cost, outcomes
    assert all(x.eligibility.gender == "women" for x in services if x.pathway in gen.WOMEN_PATHWAYS)
    assert any((x.eligibility.min_age, x.eligibility.max_age) == (10, 17) for x in services)
    assert any(x.eligibility.gender == "men" for x in services)
    assert 0.5 < sum(x.cost is not None for x in services) / len(services) < 0.95
    assert {x.cost.unit for x in services if x.cost} == {
        "per_service_user",
        "per_place_per_year",
        "per_hour",
        "per_session",
    }
    assert 0.3 < sum(bool(x.outcomes) for x in services) / len(services) < 0.9
    assert {o.source for x in services for o in x.outcomes} == {
        "self_declared",
        "independently_evaluated",
        "commissioner_reported",
    }
    assert any(x.capacity.places_available is not None for x in services)
    assert all(len(x.complexity_levels) <= 3 and len(x.delivery_modes) >= 1 for x in services)
    assert len({p.legal_form for p in profiles}) == len(gen.LEGAL_FORM_WEIGHTS)
    assert any("advice_quality_standard" in p.accreditations for p in profiles)
    assert any("advice_quality_standard" in x.accreditations for x in services)
    text = " ".join(p.description + " ".join(x.name + " " + x.description for x in p.services) for p in profiles)
    for words in (
        "housing",
        "tenancy",
        "employment",
        "mentoring",
        "county lines",
        "care leavers",
        "rural outreach",
        "debt advice",
        "herefordshire",
        "kidderminster",
    ):
        assert words in text.lower(), words
    incomes = sorted(p.finances.annual_income for p in profiles if p.finances.annual_income is not None)
    assert incomes[0] < 50_000 and incomes[-1] > 5_000_000
    assert sum(p.finances.accounts_scrutiny is not None for p in profiles) > 0.8 * len(profiles)


def test_percentiles() -> None:
    values = sorted(float(i) for i in range(1, 101))
    assert drivers.percentile(values, 50) == 50
    assert drivers.percentile(values, 95) == 95
    assert drivers.percentile(values, 99) == 99
    assert drivers.percentile([3.0], 99) == 3.0
    assert drivers.percentile([], 50) is None


SCENARIOS = {
    "reference",
    "get_profile",
    "search_filters",
    "search_typo",
    "search_facets",
    "patch_profile",
    "match_narrow",
    "match_broad",
}


def test_a_small_run_of_the_whole_harness(server_dsn: str, tmp_path) -> None:
    """2000 providers, 1 s phases: a fresh database on the test server, the real server, every scenario."""
    results = tmp_path / "results.json"
    # every worker ranks with a helper process, as at 200,000 providers (not at 2,000 by default)
    env = {**os.environ, "BENCH_DATABASE_URL": server_dsn, "MARKETPLACE_MATCH_SPLIT_FROM": "0"}
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--providers",
            "2000",
            "--seconds",
            "1",
            "--json",
            str(results),
            "--data-dir",
            str(tmp_path / "bench"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "scenario" in out and "p50 ms" in out and "req/s @32" in out and "vs ref" in out
    assert "targets:" in out and "generate + load" in out
    doc = json.loads(results.read_text())
    assert {s["key"] for s in doc["scenarios"]} == SCENARIOS
    for s in doc["scenarios"]:
        assert s["latency_1_client"]["requests"] > 0, s["key"]
        assert s["latency_1_client"]["p50_ms"] is not None, s["key"]
        assert s["throughput"]["requests"] > 0, s["key"]
        assert s["throughput"]["connections"] == 32
        assert s["ratio_to_reference"] is not None, s["key"]
        assert all(status < 400 for status in s["probe"]["statuses"]), s
    typo = next(s for s in doc["scenarios"] if s["key"] == "search_typo")
    assert all(found["total"] > 0 for found in typo["probe"]["searches"])  # every typo was corrected
    assert doc["config"]["providers"] == 2000 and doc["load"]["rows"]["provider"] == 2000
    assert (
        doc["machine"]["logical_cores"] and doc["machine"]["memory_bytes"] and doc["machine"]["postgresql"]["version"]
    )
    assert doc["rss"]["peak_bytes"] > 0 and doc["rss"]["target_bytes"] == 1024**3
    assert {t["target"] for t in doc["targets"]} >= {
        "server memory peak (PSS, all processes)",
        "generate + load",
        "a killed worker replaced and serving",
    }
    assert len(doc["helpers"]) >= 3, "each worker, and the one respawned, forked a helper"
    assert doc["respawn_seconds"] is not None and doc["rss"]["rss_sum_peak_bytes"] >= doc["rss"]["peak_bytes"]
    # the run's own database is gone
    name = re.search(r"database (provision_bench_[0-9a-f]+) on BENCH_DATABASE_URL", out).group(1)

    async def exists() -> bool:
        conn = await asyncpg.connect(server_dsn)
        try:
            return await conn.fetchval("select exists(select 1 from pg_database where datname = $1)", name)
        finally:
            await conn.close()

    assert asyncio.run(exists()) is False
