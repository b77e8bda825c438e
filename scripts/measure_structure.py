"""The shape of the code, as issue 22 measured it: the import graph of agent/, collector/ and
energy_common/ (cycles at module level, and counting imports made inside functions;
TYPE_CHECKING blocks left out), the function-level imports of project modules, modules over
500 lines, uses of the ledger's private members outside ledger.py, and collector imports of
agent.*.

    python3 scripts/measure_structure.py [CHECKOUT]
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

PACKAGES = ("agent", "collector", "energy_common")
PRIVATE = re.compile(r"(ledger|led)\.(_lock|_begin|_sql|_commit|_rollback|conn)\b")


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def imports(mods: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]], list]:
    """Module-level edges, all edges, and the (module, target) pairs imported in functions."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    top: dict[str, set[str]] = defaultdict(set)
    every: dict[str, set[str]] = defaultdict(set)
    inner: list[tuple[str, str]] = []
    for m, path in mods.items():
        tree = ast.parse(path.read_text())
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }

        def visit(node: ast.AST, depth: int, m: str = m, typing_only: set = typing_only) -> None:
            for ch in ast.iter_child_nodes(node):
                d = depth + isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef))
                if isinstance(ch, (ast.Import, ast.ImportFrom)) and id(ch) not in typing_only:
                    if isinstance(ch, ast.ImportFrom):
                        names = [f"{ch.module}.{a.name}" for a in ch.names] if ch.module else []
                    else:
                        names = [a.name for a in ch.names]
                    for n in names:
                        t = resolve(n)
                        if t and t != m:
                            every[m].add(t)
                            if d == 0:
                                top[m].add(t)
                            else:
                                inner.append((m, t))
                visit(ch, d)

        visit(tree, 0)
    return top, every, inner


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    sys.setrecursionlimit(10_000)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def walk(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                walk(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            walk(v)
    return out


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    mods = modules(root)
    top, every, inner = imports(mods)
    print("modules", len(mods))
    print("module-level cycles", cycles(top))
    print("cycles counting function-level imports", cycles(every))
    print("function-level imports of project modules", len(inner))
    for m, t in sorted(inner):
        print("   ", m, "->", t)
    sizes = sorted(((len(p.read_text().splitlines()), m) for m, p in mods.items()), reverse=True)
    print("modules over 500 lines", [(n, m) for n, m in sizes if n > 500])
    private = sum(
        1
        for m, p in mods.items()
        if m != "collector.ledger"
        for line in p.read_text().splitlines()
        if PRIVATE.search(line)
    )
    print("uses of the ledger's private members outside ledger.py", private)
    agent = sum(
        1
        for m, ts in every.items()
        if m.startswith("collector")
        for t in ts
        if t.startswith("agent")
    )
    print("collector modules' imports of agent.*", agent)


if __name__ == "__main__":
    main()
