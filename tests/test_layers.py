"""The domain modules stand without the web layer: none imports a package that serves pages."""

import ast
from pathlib import Path

import villa

ROOT = Path(villa.__file__).parent


def _web_packages() -> set[str]:
    """villa's packages that hold a Flask blueprint."""
    return {
        folder.name
        for folder in ROOT.iterdir()
        if (folder / "__init__.py").exists()
        and any("Blueprint(" in path.read_text(encoding="utf-8") for path in folder.rglob("*.py"))
    }


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_domain_module_imports_the_web_layer():
    web = _web_packages()
    assert {"reception", "clients", "admin"} <= web
    domain = [
        path
        for path in ROOT.rglob("*.py")
        if path.relative_to(ROOT).parts[0] not in web and path != ROOT / "__init__.py"  # the factory
    ]
    leaks = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in domain
        for name in _imported(path)
        if name.split(".")[:2] in [["villa", package] for package in web]
    }
    assert not leaks, sorted(leaks)
