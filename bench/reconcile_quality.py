"""Precision and recall of the reconciliation service's `match: true` on misspelt directory names.

    .venv/bin/python bench/reconcile_quality.py [--providers 20000] [--names 1000] [--seed 1] [--dsn DSN]

Builds a generated directory (bench/generate.py, loaded as the HTTP benchmark loads it: bench/load.py) in a database
of its own on the embedded PostgreSQL (or BENCH_DATABASE_URL's server), or uses --dsn's already loaded one; takes
--names names of it at random (deterministic from --seed), each a name no other provider has exactly; changes each
one or two ways (`mutate`: a typo, a legal suffix added, dropped or spelt another way, "&" for "and" or back,
case, accents) and reconciles them through the real app (in process), as OpenRefine does: form-encoded POSTs of 10
queries (`q0`...`q9`, `type: organisation`, `limit: 5`). Counts, per name:
- TP: `match: true` on the provider the name came from; FP: `match: true` on another provider;
- FN: no candidate is `match: true` (the right one ranked or not; `ranked` says how often it was first).
precision = TP / (TP + FP), recall = TP / names. Prints a table and JSON; the time per batch of 10.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

try:  # bench/ is not a package
    import load
except ImportError:  # pragma: no cover - imported as bench.reconcile_quality
    from bench import load

from marketplace import db
from marketplace.app import create_app
from marketplace.settings import PROJECT_ROOT, Settings

BATCH = 10
SUFFIX_SPELLINGS = {
    "Ltd": ["Limited", ""],
    "Limited": ["Ltd"],
    "CIC": ["Community Interest Company", "C.I.C.", ""],
    "Trust": [""],
    "CIO": [""],
}
ADDED_SUFFIXES = ["Ltd", "CIC", "Trust", "Limited", "CIO"]
ACCENTS = {"e": "é", "a": "à", "o": "ö", "u": "ü", "i": "ï"}
KEYBOARD = "abcdefghijklmnopqrstuvwxyz"


def _typo(name: str, rng: random.Random) -> str:
    words = name.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long_words:
        return name
    i = rng.choice(long_words)
    w = words[i]
    at = rng.randrange(1, len(w) - 1)
    kind = rng.choice(("drop", "swap", "replace", "insert"))
    if kind == "drop":
        w = w[:at] + w[at + 1 :]
    elif kind == "swap":
        w = w[: at - 1] + w[at] + w[at - 1] + w[at + 1 :]
    elif kind == "replace":
        w = w[:at] + rng.choice(KEYBOARD.replace(w[at].lower(), "")) + w[at + 1 :]
    else:
        w = w[:at] + rng.choice(KEYBOARD) + w[at:]
    words[i] = w
    return " ".join(words)


def _suffix(name: str, rng: random.Random) -> str:
    words = name.split(" ")
    last = words[-1]
    if last in SUFFIX_SPELLINGS and len(words) > 2:
        return " ".join([*words[:-1], rng.choice(SUFFIX_SPELLINGS[last])]).strip()
    return f"{name} {rng.choice(ADDED_SUFFIXES)}"


def _ampersand(name: str, rng: random.Random) -> str:
    if " & " in name:
        return name.replace(" & ", " and ")
    if " and " in name:
        return name.replace(" and ", " & ")
    return _typo(name, rng)


def _case_or_accent(name: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return name.upper() if rng.random() < 0.5 else name.lower()
    chars = list(name)
    spots = [i for i, c in enumerate(chars) if c in ACCENTS]
    if spots:
        i = rng.choice(spots)
        chars[i] = ACCENTS[chars[i]]
    return "".join(chars)


MUTATIONS = {"typo": _typo, "suffix": _suffix, "ampersand": _ampersand, "case_or_accent": _case_or_accent}
MUTATION_WEIGHTS = {"typo": 5, "suffix": 3, "ampersand": 1, "case_or_accent": 1}


def mutate(name: str, rng: random.Random) -> tuple[str, list[str]]:
    """The name changed one or two ways (never left as it was), and how."""
    kinds = list(MUTATION_WEIGHTS)
    applied: list[str] = []
    out = name
    for _ in range(rng.choice((1, 1, 2))):
        kind = rng.choices(kinds, weights=[MUTATION_WEIGHTS[k] for k in kinds])[0]
        out = MUTATIONS[kind](out, rng)
        applied.append(kind)
    if out == name:
        out, applied = _typo(name, rng), [*applied, "typo"]
    return out, applied


def sample(names: dict[int, str], n: int, seed: int) -> list[tuple[int, str, str, list[str]]]:
    """n (provider id, name, misspelt name, mutations) of providers whose name no other provider has."""
    counts = Counter(names.values())
    unique = sorted(pid for pid, name in names.items() if counts[name] == 1)
    rng = random.Random(seed)
    chosen = rng.sample(unique, min(n, len(unique)))
    return [(pid, names[pid], *mutate(names[pid], rng)) for pid in chosen]


async def evaluate(client: Any, samples: Sequence[tuple[int, str, str, list[str]]]) -> dict[str, Any]:
    """Reconcile the misspelt names in batches of 10 through `client` (the app); the counts."""
    tp = fp = fn = ranked_first = 0
    by_mutation: Counter[str] = Counter()
    misses: list[dict[str, Any]] = []
    seconds: list[float] = []
    for start in range(0, len(samples), BATCH):
        chunk = samples[start : start + BATCH]
        batch = {f"q{i}": {"query": s[2], "type": "organisation", "limit": 5} for i, s in enumerate(chunk)}
        t = time.perf_counter()
        r = await client.post("/reconcile", data={"queries": json.dumps(batch)})
        seconds.append(time.perf_counter() - t)
        if r.status_code != 200:
            raise RuntimeError(f"reconcile answered {r.status_code}: {r.text}")
        body = r.json()
        for i, (pid, name, typed, kinds) in enumerate(chunk):
            result = body[f"q{i}"]["result"]
            matched = [c for c in result if c["match"]]
            if result and result[0]["id"] == str(pid):
                ranked_first += 1
            if matched and matched[0]["id"] == str(pid):
                tp += 1
                by_mutation.update(kinds)
            elif matched:
                fp += 1
                misses.append({"kind": "FP", "name": name, "typed": typed, "matched": matched[0]["name"]})
            else:
                fn += 1
                top = [(c["name"], c["score"]) for c in result[:2]]
                misses.append({"kind": "FN", "name": name, "typed": typed, "top": top})
    n = len(samples)
    seconds.sort()
    return {
        "names": n,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / n if n else 0.0,
        "right_one_ranked_first": ranked_first / n if n else 0.0,
        "batch_seconds_median": seconds[len(seconds) // 2] if seconds else 0.0,
        "batch_seconds_max": seconds[-1] if seconds else 0.0,
        "misses": misses,
    }


async def run(dsn: str, names: int, seed: int) -> dict[str, Any]:
    conn = await db.connect(dsn)
    try:
        rows = await conn.fetch("select id, name from provider where status = 'published'")
    finally:
        await conn.close()
    samples = sample({r["id"]: r["name"] for r in rows}, names, seed)
    settings = Settings(database_url=db.with_user(dsn, db.APP_ROLE), owner_database_url=dsn, secret="bench")
    async with AsyncTestClient(app=create_app(settings), timeout=600) as client:
        result = await evaluate(client, samples)
    result["providers"] = len(rows)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=20_000)
    parser.add_argument("--names", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dsn", help="an already loaded benchmark database (else one is built and dropped)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("BENCH_DATA_DIR") or PROJECT_ROOT / ".marketplace" / "bench"),
        help="embedded PostgreSQL (default .marketplace/bench, or BENCH_DATA_DIR)",
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--keep", action="store_true", help="keep the database it builds")
    args = parser.parse_args()
    server = name = None
    dsn = args.dsn
    if dsn is None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        server = load.server_dsn(args.data_dir)
        name, dsn = asyncio.run(load.create_database(server))
        asyncio.run(load.prepare_schema(dsn, Settings.from_env().seed_dir))
        t = time.perf_counter()
        load.build_directory(dsn, args.providers, args.seed, workers=2)
        print(f"built {args.providers:,} providers in {time.perf_counter() - t:.0f} s ({dsn})", flush=True)
    try:
        result = asyncio.run(run(dsn, args.names, args.seed))
    finally:
        if server is not None and name is not None and not args.keep:
            asyncio.run(load.drop_database(server, name))
    shown = {k: v for k, v in result.items() if k != "misses"}
    print(json.dumps(shown, indent=2))
    for miss in result["misses"][:25]:
        print(miss)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
