"""Static guards: matching/ stays a pure core (imports, no clock, no I/O, no mutable globals)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "matching"
SOURCES = sorted(PACKAGE.glob("*.py"))

ALLOWED_TOP_LEVEL = {
    "__future__",
    "array",
    "bisect",
    "collections",
    "dataclasses",
    "datetime",
    "heapq",
    "itertools",
    "math",
    "operator",
    "re",
    "threading",  # only threading.Lock: a full pool builds its word index once, whichever ranking thread needs it
    "types",
    "typing",
    "msgspec",
    "numpy",
    "rapidfuzz",
}
FORBIDDEN_CALLS = {"now", "today", "utcnow", "time", "perf_counter", "monotonic", "open", "print", "input"}


def test_sources_found() -> None:
    assert len(SOURCES) > 5


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_only_allowed_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in ALLOWED_TOP_LEVEL, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_threading_only_for_locks(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "threading":
            raise AssertionError(f"{path.name}:{node.lineno} use threading.Lock, not from-imports")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "threading":
            assert node.attr == "Lock", f"{path.name}:{node.lineno} uses threading.{node.attr}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_clock_or_io_calls(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_module_level_mutable_globals(path: Path) -> None:
    mutable_calls = {"list", "dict", "set", "defaultdict", "OrderedDict", "Counter", "deque", "bytearray"}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            value = node.value
            assert not isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)), (
                f"{path.name}:{node.lineno} module-level mutable value"
            )
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                assert value.func.id not in mutable_calls, f"{path.name}:{node.lineno} module-level {value.func.id}()"
