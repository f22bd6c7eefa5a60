"""Known-item search: a provider's name typed with one typo, found in the first results? At 200,000 providers.

    .venv/bin/python bench/known_item.py [--providers 200000] [--sample 1000] [--compare REV] [--json FILE]

The directory is the HTTP benchmark's (bench/generate.py, --seed), turned into the search index's rows the way
`refresh_provider_search` and `queries.INDEX_ROW` build them: the name's words (weight class A), the services'
pathway names and synonyms and the names of their areas and the areas below (B), the description, the services'
names, descriptions and outcomes records and the premises (C), each class's distinct words as PostgreSQL's
`to_tsvector('simple', fold(...))` splits them (approximated here: letters and digits, folded); every provider
published. The index is built in batches of 5,000 as `LiveIndex.load` does.

The sample: --sample providers drawn with --typo-seed; in each name one word of four letters or more gets one
typo (a letter dropped, doubled, replaced by a neighbour on the keyboard, or two letters swapped; drawn with the
same seed). Each query runs through `SearchIndex.query`, the code path of `GET /providers?q=...` (the words
expanded, typos corrected against the index's vocabulary, relevance order), 10 per page, no filters; its time
includes the expansion. A query finds its item at rank k when the k-th result's name is the item's name (folded:
case and accents aside; the generator's word banks give some names to several providers, and those providers are
indistinguishable by name). Printed: recall at 1 and at 10, the same for the sampled names no other provider has,
the exact names typed correctly (recall at 1), and the query times' median and 95th percentile.

--compare REV also measures git revision REV's index (its marketplace/providers/index.py, loaded from git; a
revision without `SearchIndex.query` runs `expand` then `search` as its service did) on the same rows and sample.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import generate  # noqa: E402
from index_bench import load_revision  # noqa: E402

from marketplace.providers import index as current_index  # noqa: E402
from marketplace.providers.index import QUERY_SPLIT, fold  # noqa: E402
from marketplace.providers.models import NewProvider  # noqa: E402

SEED_DIR = ROOT / "seed_data"
KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _taxonomy() -> tuple[dict[str, str], dict[str, str], dict[str, str | None], dict[str, str | None]]:
    pathways = json.loads((SEED_DIR / "pathways.json").read_text())
    areas = json.loads((SEED_DIR / "areas.json").read_text())
    forms = json.loads((SEED_DIR / "legal_forms.json").read_text())
    pathway_text = {p["code"]: " ".join([p["name"], *p.get("synonyms", [])]) for p in pathways}
    area_name = {a["code"]: a["name"] for a in areas}
    parent = {a["code"]: a["parent"] for a in areas}
    sector = {f["code"]: f.get("sector") for f in forms}
    return pathway_text, area_name, parent, sector


PATHWAY_TEXT, AREA_NAME, PARENT, SECTOR = _taxonomy()


def _words(text: str) -> str:
    """A text's distinct words as the search document holds them (sorted, space-separated)."""
    return " ".join(sorted({w for w in QUERY_SPLIT.split(fold(text)) if w}))


def _up(code: str) -> list[str]:
    out = []
    at: str | None = code
    while at:
        out.append(at)
        at = PARENT.get(at)
    return out


def _down(code: str) -> list[str]:
    return [a for a in AREA_NAME if code in _up(a)]


def index_row(idx: ModuleType, pid: int, p: NewProvider, next_service: list[int]) -> Any:
    services = []
    pathway_text, area_text, text = [], [], [p.description]
    for s in p.services:
        next_service[0] += 1
        match = sorted({a for code in s.areas for a in (*_up(code), *_down(code))})
        services.append(
            idx.ServiceRow(
                next_service[0],
                s.pathway,
                s.cohorts,
                match,
                s.accreditations,
                s.capacity.service_users_per_year,
                s.eligibility.min_age,
                s.eligibility.max_age,
                s.eligibility.gender,
                s.complexity_levels,
                s.delivery_modes,
                None if s.cost is None else s.cost.amount,
            )
        )
        pathway_text.append(PATHWAY_TEXT[s.pathway])
        area_text += [AREA_NAME[a] for code in s.areas for a in _down(code)]
        text += [s.name, s.description] + [f"{o.outcome} {o.measure} {o.note or ''}" for o in s.outcomes]
    text += [x.description for x in p.resources.premises]
    words = (_words(p.name), _words(" ".join(pathway_text + area_text)), _words(" ".join(text)))
    return idx.IndexRow(
        pid, p.name, "published", SECTOR.get(p.legal_form), p.legal_form, p.accreditations, words, services
    )


def typo(rng: random.Random, name: str) -> str | None:
    """The name with one typo in one of its words of four letters or more (None when it has none)."""
    spans = [(i, w) for i, w in enumerate(name.split(" ")) if sum(c.isalpha() for c in w) >= 4]
    if not spans:
        return None
    at, word = rng.choice(spans)
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    kind = rng.choice(["drop", "double", "replace", "swap"])
    if kind == "swap":  # two different letters side by side ("ss" swapped is no typo)
        letters = [i for i in letters[:-1] if word[i + 1].isalpha() and word[i].lower() != word[i + 1].lower()]
        kind = kind if letters else "drop"
        letters = letters or [i for i, c in enumerate(word) if c.isalpha()]
    i = rng.choice(letters)
    if kind == "drop":
        new = word[:i] + word[i + 1 :]
    elif kind == "double":
        new = word[:i] + word[i] + word[i:]
    elif kind == "replace":
        row = next((r for r in KEYBOARD if word[i].lower() in r), KEYBOARD[0])
        j = row.find(word[i].lower())
        near = [row[k] for k in (j - 1, j + 1) if 0 <= k < len(row)] or ["e"]
        new = word[:i] + rng.choice(near) + word[i + 1 :]
    else:
        new = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    words = name.split(" ")
    words[at] = new
    return " ".join(words)


def run_query(idx: ModuleType, index: Any, q: str) -> list[int]:
    f = idx.Filters()
    if hasattr(index, "query"):
        hits, _ = index.query(f, q, by_relevance=True, limit=10)
    else:  # an older index: its service expanded, then searched
        groups = [words for _, words in index.expand(q)]
        if any(not words for words in groups):
            return []
        hits = index.search(f, groups=groups, by_relevance=True, limit=10)
    ids: list[int] = hits.ids
    return ids


def measure(
    idx: ModuleType, label: str, profiles: list[NewProvider], sample: list[tuple[int, str]], exact: list[int]
) -> dict[str, Any]:
    t0 = time.perf_counter()
    builder = idx.IndexBuilder()
    counter = [0]
    for start in range(0, len(profiles), 5000):
        builder.add([index_row(idx, i + 1, p, counter) for i, p in enumerate(profiles[start : start + 5000], start)])
    index = builder.finish()
    build_s = time.perf_counter() - t0
    names = [fold(p.name) for p in profiles]
    shared = Counter(names)
    times, at1, at10, u1, u10, unique = [], 0, 0, 0, 0, 0
    misses: list[str] = []
    for i, q in sample:
        run_query(idx, index, q)  # warm (the vocabulary's length buckets, caches)
        t = time.perf_counter()
        ids = run_query(idx, index, q)
        times.append((time.perf_counter() - t) * 1000)
        ranks = [k for k, pid in enumerate(ids) if names[pid - 1] == names[i]]
        first = ranks[0] if ranks else None
        at1 += first == 0
        at10 += first is not None
        if first is None:
            misses.append(f"{q!r} (for {profiles[i].name!r}): read as {index.expand(q)}")
        if shared[names[i]] == 1:
            unique += 1
            u1 += first == 0
            u10 += first is not None
    exact_at1 = sum(
        bool(ids := run_query(idx, index, profiles[i].name)) and names[ids[0] - 1] == names[i] for i in exact
    )
    times.sort()
    n = len(sample)
    return {
        "index": label,
        "providers": len(profiles),
        "build_s": round(build_s, 1),
        "queries": n,
        "recall_at_1": round(at1 / n, 3),
        "recall_at_10": round(at10 / n, 3),
        "unique_names": unique,
        "unique_recall_at_1": round(u1 / max(unique, 1), 3),
        "unique_recall_at_10": round(u10 / max(unique, 1), 3),
        "exact_typed_recall_at_1": round(exact_at1 / max(len(exact), 1), 3),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "misses_at_10": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--providers", type=int, default=200_000)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1, help="the generator's")
    parser.add_argument("--typo-seed", type=int, default=12)
    parser.add_argument("--compare", help="a git revision whose index to measure on the same rows too")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--misses", type=int, default=0, help="print this many queries not found in the first 10")
    args = parser.parse_args()
    t0 = time.perf_counter()
    profiles = generate.generate(args.providers, args.seed)
    print(f"{len(profiles):,} providers generated in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rng = random.Random(args.typo_seed)
    sample: list[tuple[int, str]] = []
    for i in rng.sample(range(len(profiles)), min(len(profiles), args.sample * 2)):
        typed = typo(rng, profiles[i].name)
        if typed is not None and len(sample) < args.sample:
            sample.append((i, typed))
    exact = [i for i, _ in sample]
    results = []
    if args.compare:
        results.append(measure(load_revision(args.compare), args.compare, profiles, sample, exact))
    results.append(measure(current_index, "this tree", profiles, sample, exact))
    for r in results:
        print(
            f"{r['index']}: {r['providers']:,} providers (index built in {r['build_s']} s), {r['queries']} names with "
            f"one typo: recall@1 {r['recall_at_1']:.3f}, recall@10 {r['recall_at_10']:.3f}; "
            f"names no other provider has ({r['unique_names']}): @1 {r['unique_recall_at_1']:.3f}, "
            f"@10 {r['unique_recall_at_10']:.3f}; exact names typed correctly @1 {r['exact_typed_recall_at_1']:.3f}; "
            f"query p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms"
        )
        if args.misses:
            print("  not in the first 10:", *r["misses_at_10"][: args.misses], sep="\n    ")
    print("examples:", *[q for _, q in sample[:8]], sep="\n  ")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
