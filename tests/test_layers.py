"""The layers stand as the code map says: domain modules never import the web layer, and no module
imports its way back to itself (function-local imports included: they are loops all the same)."""

import ast
from pathlib import Path

import villa

ROOT = Path(villa.__file__).parent
WEB = "villa.web"


def _module_name(path: Path) -> str:
    parts = ("villa", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in ROOT.rglob("*.py")}


def _imports(name: str) -> set[str]:
    """The villa modules this module imports, anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from villa.x import y` imports the module villa.x.y when there is one, else villa.x.
            candidates = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                for a in node.names
            ]
        else:
            continue
        found.update(c for c in candidates if c in MODULES and c != name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _is_web(name: str) -> bool:
    return name == WEB or name.startswith(WEB + ".")


def test_the_map_is_read():
    assert {"villa.customers", "villa.web.clients.routes", "villa.web.reception"} <= set(MODULES)
    assert "villa.customers" in GRAPH["villa.web.clients.routes"]


def test_no_domain_module_imports_the_web_layer():
    # villa/__init__.py is the app factory: it registers the blueprints, so it alone may.
    leaks = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if not _is_web(name) and name != "villa"
        for target in targets
        if _is_web(target)
    )
    assert not leaks, leaks


def _edges(name: str):
    # A blueprint's modules import their package for its `bp` while the package's __init__ imports
    # them to register their routes (Flask's own pattern): a module reaching up to the package it
    # is part of is not a loop.
    return {t for t in GRAPH[name] if not name.startswith(t + ".")}


def _loops() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in _edges(node):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return groups


def test_no_import_loops():
    assert not _loops(), _loops()


def test_the_loop_finder_finds_a_loop():
    GRAPH["villa.customers"].add("villa.review")
    GRAPH["villa.review"].add("villa.customers")
    try:
        assert ["villa.customers", "villa.review"] in [sorted(g)[:2] for g in _loops()] or any(
            {"villa.customers", "villa.review"} <= set(g) for g in _loops()
        )
    finally:
        GRAPH["villa.customers"] = _imports("villa.customers")
        GRAPH["villa.review"] = _imports("villa.review")
