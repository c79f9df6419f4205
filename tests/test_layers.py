"""The module dependency table of STYLE.md, checked by parsing imports."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reader"

# module → the reader modules it may import
ALLOWED = {
    "__init__": set(),
    "models": set(),
    "errors": set(),
    "urls": set(),
    "config": {"errors"},
    "sanitize": set(),
    "migrations": set(),
    "fetch": {"__init__", "models", "errors", "urls"},
    "jsonfeed": {"models", "errors", "urls"},
    "parse": {"models", "errors", "urls", "jsonfeed", "sanitize"},
    "discover": {"urls"},
    "opml": {"models", "errors", "urls"},
    "store_rows": {"models", "errors"},
    "store_reading": {"models", "errors", "store_rows"},
    "store": {"models", "errors", "migrations", "store_rows", "store_reading"},
    "update": {"models", "errors", "config", "fetch", "parse", "sanitize", "store"},
    "subscribe": {"models", "errors", "config", "discover", "fetch", "store", "update", "urls"},
    "web": {"config", "errors", "models", "sanitize", "store", "store_reading", "views"},
    "views": {"errors", "opml", "store_reading", "subscribe", "update", "web"},
    "cli": {"config", "errors", "models", "opml", "store", "subscribe", "update", "web"},
}
# third-party library → the only modules that may import it
OWNERS = {
    "feedparser": {"parse"},
    "bleach": {"sanitize"},
    "sqlite_utils": {"store", "store_reading", "migrations"},
    "aiohttp": {"fetch"},
    "yarl": {"fetch"},
    "defusedxml": {"opml"},
    "flask": {"web", "views"},
    "markupsafe": {"web"},
    "werkzeug": {"web"},
    "waitress": {"cli"},
    "click": {"cli"},
}


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(reader modules, top-level third-party packages) imported by a module."""
    own, external = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                own.add(node.module.split(".")[0])
            elif node.level == 1:  # "from . import x": a submodule, or a name from __init__
                own.update(a.name if (PACKAGE / f"{a.name}.py").exists() else "__init__" for a in node.names)
            elif node.module and node.module.split(".")[0] == "reader":
                own.add(node.module.split(".")[1] if "." in node.module else "__init__")
            elif node.module:
                external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                (own if top == "reader" else external).add(top)
    return own, external


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def test_every_module_is_in_the_table():
    assert set(MODULES) <= set(ALLOWED), "add new modules to ALLOWED with their permitted imports"


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_point_downward(module):
    own, external = imports_of(PACKAGE / f"{module}.py")
    assert own <= ALLOWED[module], f"{module} imports {own - ALLOWED[module]}"
    for library, owners in OWNERS.items():
        if library in external:
            assert module in owners, f"{library} may only be imported by {sorted(owners)}"


def test_the_core_imports_without_flask():
    import subprocess
    import sys

    code = (
        "import sys; import reader.update, reader.store, reader.parse, reader.fetch, reader.opml, reader.subscribe;"
        "sys.exit(1 if 'flask' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
