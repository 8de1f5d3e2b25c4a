"""The package import graph of bot/ and storage/, drawn from the code, for docs/architecture.md.

`python -m tools.deps` prints the graph as a Mermaid block; `--write` puts it into
docs/architecture.md between its `deps` markers (tests/test_docs.py checks that it is current).
A node is a package directly under bot/ (bot.handlers), a module directly under bot/
(bot.dispatch), storage, or run_bot; an arrow A --> B says that some module of A imports one
of B, wherever the import statement stands (inside a function too).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- deps:start -->", "<!-- deps:end -->"


def node(module: str) -> str | None:
    """The node a dotted module name belongs to, or None outside bot/ and storage/."""
    parts = module.split(".")
    if parts[0] == "bot":
        return ".".join(parts[:2])
    return parts[0] if parts[0] in ("storage", "run_bot") else None


def imported(tree: ast.AST) -> Iterator[str]:
    """Every absolute module name an import statement of the tree names."""
    for statement in ast.walk(tree):
        if isinstance(statement, ast.Import):
            yield from (alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            yield statement.module
            yield from (f"{statement.module}.{alias.name}" for alias in statement.names)


def edges() -> dict[str, set[str]]:
    """Node -> the other nodes its modules import."""
    files = [*sorted((ROOT / "bot").rglob("*.py")), *sorted((ROOT / "storage").rglob("*.py"))]
    files.append(ROOT / "run_bot.py")
    modules = {path: ".".join(path.relative_to(ROOT).with_suffix("").parts) for path in files}
    nodes = {n for n in map(node, modules.values()) if n is not None} - {"bot.__init__"}
    graph: dict[str, set[str]] = {}
    for path, module in modules.items():
        if (source := node(module)) in nodes:
            targets = {node(name) for name in imported(ast.parse(path.read_bytes()))}
            graph.setdefault(source, set()).update(t for t in nodes & targets if t != source)
    return graph


def in_circles(graph: dict[str, set[str]]) -> list[str]:
    """The nodes from which an import path leads back to themselves."""

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph.get(start, ()))
        while todo:
            if (current := todo.pop()) not in seen:
                seen.add(current)
                todo += graph.get(current, ())
        return seen

    return sorted(n for n in graph if n in reach(n))


def mermaid() -> str:
    """The graph as a Mermaid flowchart: a line per importer, the nodes in a circle in red."""
    graph = edges()
    ids = {
        name: name.replace(".", "_")
        for name in {*graph, *(t for ts in graph.values() for t in ts)}
    }
    lines = ["```mermaid", "flowchart TD"]
    lines += [f'  {ids[name]}["{name}"]' for name in sorted(ids)]
    for source in sorted(graph, key=lambda n: (-len(graph[n]), n)):
        if graph[source]:
            lines.append(
                f"  {ids[source]} --> {' & '.join(ids[t] for t in sorted(graph[source]))}"
            )
    if circles := in_circles(graph):
        lines.append("  classDef circle stroke:#c00,stroke-width:3px")
        lines.append(f"  class {','.join(ids[n] for n in circles)} circle")
    return "\n".join([*lines, "```"])


def write() -> None:
    """Replace the block between the markers in docs/architecture.md."""
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{mermaid()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        print(mermaid())
