"""Print the layer picture: which app imports which, module by module, and which imports go up.

Layers, low to high (DESIGN.md "Architecture", the contracts in pyproject.toml): lib < partners <
syncs < circuit_breaks < season < bts_portal. Every import between two apps is listed under
``app → app`` with its modules; an import from a lower layer into a higher one is marked UPWARD
(the one declared exception, syncs.ingest → circuit_breaks.api, is marked as such). Imports inside
functions count too (grimp reads them all). Then every import of another app's private name
(``from syncs.ingest import _apply``). Exits 1 when an undeclared upward import or a private-name
import between apps exists.

Usage: .venv/bin/python bin/layers.py   (from the project root; migrations are left out)
"""

import ast
import sys
from collections import defaultdict
from pathlib import Path

import grimp

LAYERS = ["lib", "partners", "syncs", "circuit_breaks", "season", "bts_portal"]
DECLARED = {("syncs.ingest", "circuit_breaks.api")}
ROOT = Path(__file__).resolve().parent.parent


def private_imports(root: Path = ROOT) -> list[str]:
    """``path:line: from module import _name`` for every import of a name starting with ``_`` from
    another app under ``root`` (migrations aside); an app's own modules may share private names."""
    found = []
    for app in LAYERS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                    continue
                if node.module.split(".")[0] in (app, "__future__"):
                    continue
                for alias in node.names:
                    if alias.name.startswith("_"):
                        where = path.relative_to(root)
                        found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
    return found


def main() -> int:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*LAYERS, cache_dir=None)
    edges: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for importer in graph.modules:
        if ".migrations" in importer:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            a, b = importer.split(".")[0], imported.split(".")[0]
            if a != b:
                edges[(a, b)].add((importer, imported))
    undeclared = 0
    for a, b in sorted(edges, key=lambda pair: (LAYERS.index(pair[0]), LAYERS.index(pair[1]))):
        upward = LAYERS.index(a) < LAYERS.index(b)
        print(f"{a} → {b}: {len(edges[(a, b)])} import(s){'  UPWARD' if upward else ''}")
        for importer, imported in sorted(edges[(a, b)]):
            mark = ""
            if upward:
                declared = (importer, imported) in DECLARED
                undeclared += not declared
                mark = "  (the declared exception)" if declared else "  <- UPWARD, not allowed"
            print(f"    {importer} → {imported}{mark}")
    print(f"{undeclared} undeclared upward import(s).")
    private = private_imports()
    for line in private:
        print(f"    {line}  <- another app's private name")
    print(f"{len(private)} import(s) of another app's private names.")
    return 1 if undeclared or private else 0


if __name__ == "__main__":
    sys.exit(main())
