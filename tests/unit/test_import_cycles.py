"""No import cycles between the project's modules.

The layers contract in pyproject.toml orders the packages but says nothing about modules
inside one package; two core modules importing each other (and a function-local import to
dodge the circle at start-up) is the knot this test forbids. grimp (import-linter's graph
builder) reads every import statement: module-level, inside functions and under
TYPE_CHECKING alike, so a cycle hidden in any of them counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

import grimp

PACKAGES = (
    "app",
    "operator_api",
    "payments",
    "scheduler",
    "bot",
    "documents",
    "ocr",
    "observability",
    "storage",
    "core",
)


def cycles(edges: Mapping[str, Set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing
    itself): each is a set of modules that reach each other through imports (Tarjan's
    algorithm, iterative so a deep graph needs no recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, ())))))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1 or module in edges.get(module, ()):
                    found.append(sorted(component))
    return found


def test_the_finder_sees_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert sorted(cycles(edges)) == [["a", "b", "c"], ["e"]]


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    found = cycles(edges)
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)
