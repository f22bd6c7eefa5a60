"""The search index alone, in process, on synthetic rows: build time, memory and query times.

    .venv/bin/python bench/index_bench.py [--providers 200000] [--repeat 200] [--compare REV] [--json FILE]

Rows are `IndexRow`s as `queries.INDEX_ROW` produces them, made up here (deterministic from --seed): the eleven
West Mercia areas, 1 to 4 active services per provider (2.5 on average) in weighted pathways, each with its
own areas (`area_match_codes`: the areas with every area above and below them), cohorts, capacity, age range,
gender, complexity levels, delivery modes and cost, some missing; accreditations of the organisation and of
services; search-document words by weight class from word banks (name; pathway and area names; description and
services' text from a vocabulary of a few thousand words with a long tail).

Build: `IndexBuilder` in batches of 5,000 as `LiveIndex.load` does. Memory: the process's resident set before
and after the build (after `malloc_trim`), and the index's numpy arrays (`nbytes`). Queries: the HTTP
benchmark's filter combinations (bench/generate.py FILTERS) with and without facets, service-level filters
(age, gender, complexity, delivery mode, cost, capacity), its typo'd text queries (expanded as the service
does), names typed whole or in part (`SearchIndex.query`, the API's text path, where the index has it), a listing
with facets; median and 95th percentile of --repeat runs each.

--compare REV also builds the index of git revision REV (its marketplace/providers/index.py, loaded from git) on
the same rows and prints both, e.g. `--compare fa8c1e9` for the interim one-level index.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from generate import FILTERS, TYPO_QUERIES  # noqa: E402

from marketplace import memory  # noqa: E402
from marketplace.providers import index as current_index  # noqa: E402

WEST_MERCIA, WORCS = "E23000016", "E10000034"
DISTRICTS = ["E07000234", "E07000235", "E07000236", "E07000237", "E07000238", "E07000239"]
UNITARIES = ["E06000019", "E06000051", "E06000020"]
LEAVES = DISTRICTS + UNITARIES
PARENT = {**dict.fromkeys(DISTRICTS, WORCS), WORCS: WEST_MERCIA, **dict.fromkeys(UNITARIES, WEST_MERCIA)}
AREA_WORDS = {
    WEST_MERCIA: "west mercia",
    WORCS: "worcestershire",
    "E07000234": "bromsgrove",
    "E07000235": "malvern hills",
    "E07000236": "redditch",
    "E07000237": "worcester",
    "E07000238": "wychavon",
    "E07000239": "wyre forest",
    "E06000019": "herefordshire",
    "E06000051": "shropshire",
    "E06000020": "telford and wrekin",
}
PATHWAYS = {  # code: (weight, words of its name and synonyms, cohorts)
    "ACCOM": (16, "accommodation housing homelessness tenancy", ["ADULTS", "YOUNG_ADULTS", "CARE_LEAVERS", "WOMEN"]),
    "ETE": (16, "education training employment jobs skills", ["ADULTS", "YOUNG_ADULTS", "CARE_LEAVERS", "CYP"]),
    "HEALTH": (12, "health mental wellbeing", ["ADULTS", "YOUNG_ADULTS", "WOMEN"]),
    "DRUGS": (11, "drugs alcohol substance misuse recovery", ["ADULTS", "YOUNG_ADULTS", "WOMEN"]),
    "FINANCE": (8, "finance benefit debt money advice", ["ADULTS", "FAMILIES", "WOMEN"]),
    "FAMILIES": (8, "children families parenting", ["FAMILIES", "CYP", "WOMEN"]),
    "ATB": (12, "attitudes thinking behaviour mentoring", ["ADULTS", "YOUNG_ADULTS", "CYP"]),
    "WOMEN_ABUSE": (6, "domestic abuse women survivors", ["WOMEN", "VICTIMS", "FAMILIES"]),
    "WOMEN_SEXWORK": (2, "sex work exiting women", ["WOMEN"]),
    "RJ_VICTIMS": (4, "restorative justice victims", ["VICTIMS", "ADULTS", "CYP"]),
    "YOUTH_DIVERSION": (8, "youth diversion county lines", ["CYP", "YOUNG_ADULTS", "CARE_LEAVERS"]),
}
ACCREDITATIONS = [
    "trusted_charity",
    "matrix_standard",
    "iso_9001",
    "investors_in_people",
    "cyber_essentials",
    "living_wage_employer",
    "advice_quality_standard",
    "leading_lights",
    "rsq",
    "approved_provider_mentoring",
]
SECTOR_OF = {"registered_charity": "third_sector", "cio": "third_sector", "cic": "social_enterprise"}
SECTOR_OF |= {"co_operative_society": "co_operative", "community_benefit_society": "co_operative"}
COMMON_TEXT = (
    "support service people local community work help project team based offer provide through young adults "
    "women families housing tenancy mentoring outreach debt advice rural care leavers recovery training "
    "employment volunteers peer group sessions one to one key worker referral pathway release prison probation "
    "court custody resettlement wellbeing trauma informed practical emotional"
)
COMMON = COMMON_TEXT.split()
TOWNS_TEXT = "hereford leominster ledbury ludlow shrewsbury oswestry telford wellington kidderminster evesham"
SERVICE_FILTERS = [
    "age=19",
    "gender=women",
    "complexity=high",
    "delivery_mode=outreach&delivery_mode=remote",
    "max_cost=500",
    "min_capacity=200",
    "pathway=ACCOM&area=E06000020&min_capacity=50",
    "pathway=ACCOM&age=19&gender=women&max_cost=2000",
    "area=E10000034&complexity=high&delivery_mode=residential",
    "accreditation=leading_lights",
]
NAME_QUERIES = [  # names as the synthetic rows make them (town, a common word, a kind), typed whole or in part
    "q=Hereford%20Support%20Trust",
    "q=ludlow%20recovery%20cic",
    "q=Telford%20Mentoring%20Projct",
    "q=kidderminster%20housing",
    "q=trust",
    "q=support%20trust",
]


def match_codes(areas: list[str]) -> list[str]:
    """The areas with every area above and below them (as service.area_match_codes)."""
    out = set()
    for area in areas:
        a = area
        while a:
            out.add(a)
            a = PARENT.get(a, "")
    for a in list(areas):
        out |= {d for d, p in PARENT.items() if p == a or PARENT.get(p) == a}
    return sorted(out)


def make_rows(n: int, seed: int, idx: ModuleType) -> list[Any]:
    rng = random.Random(seed)
    vocab = [
        f"{a}{b}"
        for a in ("sup", "tran", "hous", "ment", "pla", "com", "rec", "adv", "lin", "wor")
        for b in (
            "port",
            "sition",
            "ing",
            "oring",
            "cement",
            "munity",
            "overy",
            "ice",
            "kage",
            "king",
            "ed",
            "er",
            "s",
            "ive",
            "al",
            "ity",
            "ness",
            "ment",
            "ers",
            "ation",
            "ful",
            "less",
            "ship",
            "hood",
            "able",
        )
    ]
    vocab += [f"{w}{k}" for w in ("gen", "loc", "sta", "pro", "dev", "net", "bal", "fir", "val") for k in range(250)]
    vocab += [w.replace(" ", "") for w in AREA_WORDS.values()] + COMMON
    towns = TOWNS_TEXT.split()
    codes = list(PATHWAYS)
    weights = [PATHWAYS[c][0] for c in codes]
    forms = list(SECTOR_OF)
    rows = []
    sid = 0
    for pid in range(1, n + 1):
        org_acc = rng.sample(ACCREDITATIONS, rng.choice([0, 0, 1, 1, 2, 3]))
        services = []
        pathway_words, area_words, text = set(), set(), []
        for _ in range(rng.randint(1, 4)):
            sid += 1
            pathway = rng.choices(codes, weights)[0]
            roll = rng.random()
            if roll < 0.45:
                areas = [rng.choice(LEAVES)]
            elif roll < 0.68:
                areas = rng.sample(LEAVES, rng.randint(2, 3))
            elif roll < 0.83:
                areas = [WORCS]
            elif roll < 0.95:
                areas = [WEST_MERCIA]
            else:
                areas = [WORCS, rng.choice(UNITARIES)]
            low = rng.choice([None, None, 16, 18, 18, 21, 25])
            high = rng.choice([None, None, None, 24, 25, 65]) if low is None or low < 24 else None
            services.append(
                idx.ServiceRow(
                    sid,
                    pathway,
                    rng.sample(PATHWAYS[pathway][2], rng.randint(1, len(PATHWAYS[pathway][2]))),
                    match_codes(areas),
                    rng.sample(ACCREDITATIONS, rng.choice([0, 0, 0, 1])),
                    rng.choice([None, rng.randint(5, 80), rng.randint(20, 400), rng.randint(100, 3000)]),
                    low,
                    high,
                    rng.choices(["both", "men", "women"], [8, 1, 2])[0],
                    rng.sample(["low", "medium", "high"], rng.randint(0, 3)),
                    rng.sample(["in_person", "outreach", "remote", "residential"], rng.randint(0, 2)),
                    rng.choice([None, round(rng.uniform(20, 4000), 2), round(rng.uniform(200, 20000), 2)]),
                )
            )
            pathway_words.update(PATHWAYS[pathway][1].split())
            for a in match_codes(areas):
                area_words.update(AREA_WORDS[a].split())
            text += (
                rng.choices(COMMON, k=25)
                + [vocab[min(int(rng.paretovariate(0.7)), len(vocab)) - 1] for _ in range(15)]
                + rng.sample(towns, 2)
            )
        name = f"{rng.choice(towns).title()} {rng.choice(COMMON).title()} {rng.choice(['Trust', 'CIC', 'Project'])}"
        words = (
            " ".join(sorted(set(name.lower().split()))),
            " ".join(sorted(pathway_words | area_words)),
            " ".join(sorted(set(text))),
        )
        form = rng.choice(forms)
        status = "published" if rng.random() < 0.95 else rng.choice(["pending", "archived"])
        rows.append(idx.IndexRow(pid, name, status, SECTOR_OF[form], form, org_acc, words, services))
    return rows


def parse(query: str, idx: ModuleType) -> tuple[Any, str | None]:
    """A query string as the index's Filters (and the text q)."""
    fields: dict[str, Any] = {}
    q = None
    for part in query.split("&"):
        key, value = part.split("=")
        value = value.replace("%20", " ")
        if key == "q":
            q = value
        elif key in ("age", "min_capacity"):
            fields[key] = int(value)
        elif key == "max_cost":
            fields[key] = float(value)
        elif key in ("gender", "status"):
            fields[key] = value
        else:
            fields.setdefault(key, []).append(value)
    return idx.Filters(**fields), q


def timed(fn: Any, repeat: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def rss() -> int:
    gc.collect()
    memory.trim()
    return int(psutil.Process().memory_info().rss)


def index_bytes(index: Any) -> int:
    total = 0
    for value in vars(index).values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, dict):
            for v in value.values():
                if isinstance(v, np.ndarray):
                    total += v.nbytes
                elif isinstance(v, dict):
                    total += sum(a.nbytes for a in v.values() if isinstance(a, np.ndarray))
    return total


def measure(idx: ModuleType, label: str, n: int, seed: int, repeat: int) -> dict[str, Any]:
    rows = make_rows(n, seed, idx)
    services = sum(len(r.services) for r in rows)
    batches = [rows[i : i + 5000] for i in range(0, len(rows), 5000)]
    before = rss()
    t0 = time.perf_counter()
    builder = idx.IndexBuilder()
    for batch in batches:
        builder.add(batch)
    index = builder.finish()
    build_s = time.perf_counter() - t0
    del builder
    rows_kept = rows
    after = rss()
    out: dict[str, Any] = {
        "index": label,
        "providers": n,
        "services": services,
        "build_s": round(build_s, 2),
        "rss_growth_mib": round((after - before) / 2**20, 1),
        "arrays_mib": round(index_bytes(index) / 2**20, 1),
        "queries": {},
    }

    def run(query: str, facets: bool) -> Any:
        f, q = parse(query, idx)
        if q is None:
            return lambda: index.search(f, limit=20, facets=facets)

        def text_search() -> Any:
            if hasattr(index, "query"):  # the API's text path
                return index.query(f, q, by_relevance=True, limit=20, facets=facets)
            groups = [words for _, words in index.expand(q)]
            return index.search(f, groups=groups, by_relevance=True, limit=20, facets=facets)

        return text_search

    for name, queries, facets in (
        ("filters (bench FILTERS)", FILTERS, False),
        ("filters + facets", FILTERS, True),
        ("service filters", SERVICE_FILTERS, False),
        ("service filters + facets", SERVICE_FILTERS, True),
        ("typo'd text + filters", TYPO_QUERIES, False),
        ("names (q only)", NAME_QUERIES, False),
        ("listing + facets", ["status=published"], True),
        ("pathway only + facets", ["pathway=ACCOM"], True),
    ):
        p50s, p95s = [], []
        for query in queries:
            p50, p95 = timed(run(query, facets), max(5, repeat // len(queries)))
            p50s.append(p50)
            p95s.append(p95)
        out["queries"][name] = {"p50_ms": round(statistics.median(p50s), 3), "worst_p95_ms": round(max(p95s), 3)}
    # one provider changed, as LiveIndex.catch_up takes it in
    changed = rows_kept[n // 2]
    out["apply_one_ms"] = round(timed(lambda: index.apply([changed]), 20)[0], 2)
    t0 = time.perf_counter()
    index.compact()
    out["compact_s"] = round(time.perf_counter() - t0, 2)
    return out


def load_revision(rev: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:marketplace/providers/index.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"index_{rev}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"index_{rev}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--providers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=200, help="runs per query group")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compare", help="a git revision whose index to measure on the same rows too")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    if args.compare:
        results.append(measure(load_revision(args.compare), args.compare, args.providers, args.seed, args.repeat))
    results.append(measure(current_index, "this tree", args.providers, args.seed, args.repeat))
    for r in results:
        print(
            f"\n{r['index']}: {r['providers']:,} providers, {r['services']:,} services: build {r['build_s']} s, "
            f"RSS +{r['rss_growth_mib']} MiB (numpy arrays {r['arrays_mib']} MiB), apply one {r['apply_one_ms']} ms, "
            f"compact {r['compact_s']} s"
        )
        for name, q in r["queries"].items():
            print(f"  {name:28s} p50 {q['p50_ms']:7.3f} ms   worst p95 {q['worst_p95_ms']:7.3f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
