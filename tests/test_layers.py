"""The layer map of ``graphrec.layers`` holds: every import points downward, no cycle inside a layer.

Lazy imports inside functions count too: an upward import is a dependency whenever it runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

from graphrec.layers import LAYERS, layer_of, unit_of

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"graphrec": ROOT / "src" / "graphrec", "api": ROOT / "api"}


def sources() -> dict[str, str]:
    """Every module of graphrec and of the web app, by dotted name."""
    found: dict[str, str] = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path.read_text(encoding="utf-8")
    return found


def imported(module: str, source: str) -> Iterator[tuple[int, str]]:
    """``(line, imported module)`` for every import of graphrec or api in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module}:{node.lineno}: graphrec uses absolute imports only"
            # ``from graphrec.graph import port`` imports a submodule: the longest known unit decides
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                yield node.lineno, name


def violations(modules: Mapping[str, str]) -> list[str]:
    """Upward imports, modules outside every layer, and cycles between units of one layer."""
    problems: list[str] = []
    edges: dict[str, set[str]] = {}
    for module, source in modules.items():
        unit = unit_of(module)
        if unit is None:
            problems.append(f"{module} belongs to no layer: add it to graphrec.layers.LAYERS")
            continue
        reported: set[tuple[int, str]] = set()
        for line, target in imported(module, source):
            target_unit = unit_of(target)
            if target_unit is None or target_unit == unit or (line, target_unit) in reported:
                continue
            reported.add((line, target_unit))
            if layer_of(target_unit) > layer_of(unit):
                problems.append(
                    f"{module}:{line} imports {target_unit}: the {LAYERS[layer_of(unit)][0]} layer may "
                    f"not import the {LAYERS[layer_of(target_unit)][0]} layer above it"
                )
            elif layer_of(target_unit) == layer_of(unit):
                edges.setdefault(unit, set()).add(target_unit)
    problems += [f"import cycle inside a layer: {' -> '.join(cycle)}" for cycle in cycles(edges)]
    return problems


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of units (depth-first search)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_every_import_points_downward() -> None:
    modules = sources()
    assert len(modules) > 100  # the walk found the code
    assert violations(modules) == []


def test_a_deliberate_upward_import_fails() -> None:
    modules = sources()
    modules["graphrec.graph.port"] += "\nfrom api.main import create_app\n"
    modules["graphrec.events.pipeline"] += "\ndef later():\n    from graphrec.recommend import ranking\n"
    problems = violations(modules)
    assert any(p.startswith("graphrec.graph.port:") and "imports api:" in p and "graph layer" in p for p in problems)
    assert any(p.startswith("graphrec.events.pipeline:") and "graphrec.recommend" in p for p in problems)


def test_a_cycle_inside_a_layer_fails() -> None:
    modules = sources()
    modules["graphrec.events.pipeline"] += "\nimport graphrec.data.readers\n"
    modules["graphrec.data.readers"] += "\nimport graphrec.events.pipeline\n"
    assert any("cycle" in p and "graphrec.events" in p and "graphrec.data" in p for p in violations(modules))


def test_a_module_outside_the_map_fails() -> None:
    modules = {**sources(), "graphrec.grab_bag": "import numpy\n"}
    assert "graphrec.grab_bag belongs to no layer: add it to graphrec.layers.LAYERS" in violations(modules)


def test_the_readme_names_the_layers_of_the_map_in_its_order() -> None:
    """The README's architecture table and :data:`LAYERS` tell one story: the same layers, bottom first."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| layer (bottom first) | place | job |", 1)[1].split("\n\n", 1)[0]
    named = [row.split("|")[1].strip() for row in table.splitlines()[2:]]
    assert [name for name in named if name] == [name for name, _ in LAYERS]
