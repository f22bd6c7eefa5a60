"""The allowed direction of imports inside `marketplace/` (see the layers in marketplace/app.py).

- Shared modules import no room (`context` may name the taxonomy's types: every room validates against them).
- A room imports its own modules, and of a lower room only what that room offers the others (its service,
  its models, and the guards and pools named below), never a room beside or above it.
- Inside a room, routes call the service (never queries), and models import neither.
- The composition modules (app, cli, openapi, seed) may use every room, but the command line calls services,
  never queries.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from marketplace.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "marketplace"
ROOM_ORDER = {
    "taxonomy": 0,
    "system": 0,
    "accounts": 1,
    "providers": 2,
    "exercises": 3,
    "standards": 3,
    "imports": 4,
    "reconciliation": 3,
    "engagement": 4,
    "reports": 5,
    "appraisals": 6,
    "console": 7,
}
"""Rooms by level (a room may use only rooms below it). Some are reserved for rooms being built."""
OFFERED = {
    "service",
    "models",
    "accounts.auth",
    "exercises.pools",
    "providers.live_index",
    "providers.filters",
    "taxonomy.checks",
    "reports.render",
    "reports.charts",
    "appraisals.render",
}
"""What a room offers the rooms above it (and the composition modules)."""
SHARED = {
    "types",
    "errors",
    "clock",
    "settings",
    "context",
    "db",
    "http",
    "audit",
    "concurrency",
    "changes",
    "memory",
    "templating",
    "formatting",
    "throttle",
    "migrate",
    "messages",
    "sheets",
}
COMPOSITION = {"app", "cli", "openapi", "seed", "__main__", "__init__"}


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def is_module(name: str, root: Path) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(path: Path, root: Path = PROJECT_ROOT) -> set[str]:
    """The marketplace modules a file imports (`from marketplace.x import y` counts y when y is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("marketplace"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("marketplace"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if is_module(full, root) else node.module)
    return {name for name in found if name != "marketplace"}


def place(module: str) -> tuple[str, str]:
    """(kind, name): ("room", "providers"), ("shared", "http"), ("composition", "cli")."""
    parts = [*module.split("."), "__init__"]
    if parts[1] in ROOM_ORDER:
        return "room", parts[1]
    if parts[1] in SHARED:
        return "shared", parts[1]
    assert parts[1] in COMPOSITION, f"{module}: a module the layers do not place; add it to test_architecture.py"
    return "composition", parts[1]


def problems(root: Path = PROJECT_ROOT) -> list[str]:
    found = []
    for path in sorted((root / "marketplace").rglob("*.py")):
        me = module_name(path, root)
        kind, name = place(me)
        for other in sorted(imports(path, root)):
            o_kind, o_name = place(other)
            inner = ".".join(other.split(".")[2:])  # "service", "auth"...
            offered = inner in OFFERED or f"{o_name}.{inner}" in OFFERED
            if kind == "shared":
                if o_kind == "composition" or (o_kind == "room" and other != "marketplace.taxonomy.models"):
                    found.append(f"{me} (shared) imports {other}")
                if name == "http" and o_kind == "room":
                    found.append(f"{me} imports a room: {other}")
            elif kind == "room":
                if o_kind == "composition":
                    found.append(f"{me} imports the composition module {other}")
                elif o_kind == "room" and o_name != name:
                    if ROOM_ORDER[o_name] >= ROOM_ORDER[name]:
                        found.append(f"{me} imports {other}: a room beside or above it")
                    elif not offered:
                        found.append(f"{me} imports {other}: not what that room offers ({sorted(OFFERED)})")
                elif o_kind == "room":
                    mine = me.split(".")[2]
                    if mine == "routes" and inner == "queries":
                        found.append(f"{me} imports {other}: routes call the service")
                    if mine == "models" and inner in ("routes", "service", "queries"):
                        found.append(f"{me} imports {other}: models hold types")
                    if mine == "queries" and inner in ("routes", "service"):
                        found.append(f"{me} imports {other}: queries hold SQL")
            elif name == "cli" and o_kind == "room" and not offered:
                found.append(f"{me} imports {other}: the command line calls services")
    return found


def test_imports_go_in_the_allowed_direction() -> None:
    assert problems() == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The rules bite: an import from a room above, and a route reaching for SQL, are both reported."""
    shutil.copytree(PACKAGE, tmp_path / "marketplace", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "marketplace" / "accounts" / "zz_probe.py").write_text("from marketplace.reports import service\n")
    routes = tmp_path / "marketplace" / "taxonomy" / "routes.py"
    routes.write_text(routes.read_text() + "\nfrom marketplace.taxonomy import queries\n")
    (tmp_path / "marketplace" / "http.py").write_text("from marketplace.providers import models\n")
    found = problems(tmp_path)
    assert "marketplace.accounts.zz_probe imports marketplace.reports.service: a room beside or above it" in found
    assert "marketplace.taxonomy.routes imports marketplace.taxonomy.queries: routes call the service" in found
    assert "marketplace.http imports a room: marketplace.providers.models" in found
    assert len(found) == 4  # http's import breaks two rules: shared modules import no room, http none at all


def test_the_pure_core_imports_nothing_of_the_shell() -> None:
    for path in sorted((PROJECT_ROOT / "matching").rglob("*.py")):
        assert not imports(path), f"{path} imports the shell"
