"""No import circles between the rehearsal model's modules (STYLE.md, "The rehearsal model").

Shared state is owned by one object and passed down, never imported back up: a circle means two
modules own one thing. Every import counts, including those under `if TYPE_CHECKING:` and those
inside functions, since each is a module reaching for another's thing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "tools.rehearsal"


def modules(root: Path, package: str) -> dict[str, Path]:
    """Each module of `package` under `root`, by its dotted name."""
    found: dict[str, Path] = {}
    for path in sorted(root.joinpath(*package.split(".")).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(path: Path, module: str) -> Iterator[str]:
    """Every dotted name the module's import statements name, wherever they stand."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                anchor = module.split(".")[: None if is_package else -1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (`import a.b.c` imports a, a.b and a.b.c)."""
    known = modules(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        targets: set[str] = set()
        for name in imported(path, module):
            parts = name.split(".")
            prefixes = (".".join(parts[:n]) for n in range(1, len(parts) + 1))
            targets.update(p for p in prefixes if p in known and p != module)
        graph[module] = targets
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle, once each, from its smallest module round to it again."""
    found: list[list[str]] = []

    def walk(start: str, path: list[str]) -> None:
        for target in sorted(graph.get(path[-1], ())):
            if target == start:
                found.append([*path, start])
            elif target > start and target not in path:
                walk(start, [*path, target])

    for start in sorted(graph):
        walk(start, [start])
    return found


def described(found: list[list[str]], package: str) -> str:
    short = [[m.removeprefix(f"{package}.") for m in cycle] for cycle in found]
    return f"import cycles in {package}: " + "; ".join(" -> ".join(c) for c in short)


def test_the_rehearsal_model_has_no_import_cycle() -> None:
    found = cycles(import_graph(ROOT, PACKAGE))
    if found:
        pytest.fail(described(found, PACKAGE))


def test_every_kind_of_import_counts(tmp_path: Path) -> None:
    """Run-time, TYPE_CHECKING-only, function-level, `from package import module` and relative
    imports are all edges, and each circle they close is named."""
    package = tmp_path / "pkg" / "model"
    package.mkdir(parents=True)
    (package / "owner.py").write_text("from pkg.model import part\nimport pkg.model.helper\n")
    (package / "part.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.model.owner import X\n"
    )
    (package / "helper.py").write_text("def f():\n    from . import leaf\n")
    (package / "leaf.py").write_text("import json\nfrom .helper import f\n")

    graph = import_graph(tmp_path, "pkg.model")

    assert graph == {
        "pkg.model.helper": {"pkg.model.leaf"},
        "pkg.model.leaf": {"pkg.model.helper"},
        "pkg.model.owner": {"pkg.model.part", "pkg.model.helper"},
        "pkg.model.part": {"pkg.model.owner"},
    }
    assert described(cycles(graph), "pkg.model") == (
        "import cycles in pkg.model: helper -> leaf -> helper; owner -> part -> owner"
    )
