"""The house's layout holds: no module imports itself back through others (an import cycle), and
the layering contracts in pyproject.toml ([tool.importlinter]) are kept; CI runs `lint-imports`
too, and this test makes the same check part of README's test command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("bot", "handlers", "storage")
    assert cycles(graph) == []


def test_the_layering_contracts_are_kept() -> None:
    # In a process of its own: import-linter's command configures logging, and would silence the
    # loggers of every test after this one.
    command = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(command), "--no-cache", "--no-logo"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
