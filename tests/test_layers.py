"""The layers of the package, checked by parsing every module's imports.

Each module has a rank, and may import only modules of a strictly lower rank:
data flows one way (fetch → parse → store → render), and an import that
runs back up — or sideways, between two modules of one rank — fails here.
Ranks rather than a list of allowed imports per module: making room for an
upward import means moving a module above everything that imports it, which
shows in review as what it is.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reader"

# The floors of the house, from the ground up. A module's name is its dotted
# path inside the package; a package's __init__ is the package's own name.
RANKS = {
    # data and errors
    "reader": 0,  # the version only
    "models": 0,
    "errors": 0,
    "urls": 0,
    "collation": 0,  # how names sort
    "config": 1,
    "passwords": 1,
    "budget": 1,
    "schedule": 1,  # pure: when to fetch next
    "migrations": 1,
    "sanitize": 1,
    # pure readers of documents, one library behind each
    "fetch": 2,
    "jsonfeed": 2,
    "discover": 2,
    "opml": 2,
    "xmlfeed": 2,  # the fast path: lxml, and feedparser's own helpers so that results agree
    "parse": 3,  # uses jsonfeed, xmlfeed and sanitize
    "channels": 2,
    "homepage": 2,
    "reply": 3,  # builds links from channels
    # storage: rows, then one module per aggregate, then the Store facade
    "store.rows": 10,
    "store.groups": 11,
    "store.users": 11,
    "store.mutes": 11,
    "store.leases": 11,
    "store.backup": 11,  # the database as a file: in-use lock, backup, restore
    "store.people": 12,  # the people page filters by group
    "store.entries": 12,  # timelines filter by group and leave mutes out
    "store.search": 13,
    "store.channels": 13,
    "store.conversations": 13,
    "store.comments": 13,
    "store.feeds": 13,  # storing a fetch writes entries
    "store.subscriptions": 14,  # subscribing creates people; deleting a person unsubscribes
    "store.portable": 15,  # one user's data as a document, and back
    "store": 16,
    # the pipeline, and what runs on it
    "update": 20,
    "subscribe": 21,  # discovery runs on the pipeline
    "reach": 21,  # so does looking for ways to reach people
    "background": 21,
    "userdata": 21,  # the JSON export and import of a user's data  # the fetch lease and serve's refresh loop
    # the web: shared helpers, one blueprint a module, then the factory
    "web.rows": 30,  # what a post shows in a list, as values for the templates
    "web.pages": 31,
    "web.background": 30,
    "web.conversations": 32,
    "web.timeline": 33,  # the entry page shows its comments
    "web.people": 32,
    "web.subscriptions": 33,  # a Causerie export given to the OPML form goes to settings
    "web.settings": 32,
    "web.auth": 32,
    "web": 34,
    "cli": 40,
}
# third-party library → the only modules that may import it
OWNERS = {
    "feedparser": {"parse", "xmlfeed"},
    "lxml": {"xmlfeed"},
    "mf2py": {"homepage"},
    "argon2": {"passwords"},
    "flask_limiter": {"web", "web.auth"},
    "flask_wtf": {"web"},
    "bleach": {"sanitize"},
    "sqlite_utils": {"migrations", *(name for name in RANKS if name == "store" or name.startswith("store."))},
    "aiohttp": {"fetch"},
    "yarl": {"fetch"},
    "defusedxml": {"opml"},
    "flask": {name for name in RANKS if name == "web" or name.startswith("web.")},
    "markupsafe": {"web"},
    "werkzeug": {"web"},
    "waitress": {"cli"},
    "click": {"cli"},
}
# The core must run without the web (a fetch from cron, a worker process).
CORE_RANK_LIMIT = 30


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "reader"


def package_of(path: Path) -> tuple[str, ...]:
    """The package a module's relative imports start from, as dotted parts."""
    parts = path.relative_to(PACKAGE).parent.parts
    return tuple(parts)


def resolve(path: Path, level: int, target: str | None) -> str:
    """The module a ``from <dots><target> import`` names, as a key of RANKS."""
    base = package_of(path)
    if level > 1:
        base = base[: len(base) - (level - 1)]
    parts = base + tuple(target.split(".") if target else ())
    return ".".join(parts) or "reader"


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(reader modules, top-level third-party packages) imported by a module."""
    own, external = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                name = resolve(path, node.level, node.module)
                # "from . import x": x is a submodule when one of that name exists.
                for alias in node.names if node.module is None else ():
                    sub = f"{name}.{alias.name}" if name != "reader" else alias.name
                    own.add(sub if sub in RANKS else name)
                if node.module is not None:
                    own.add(name)
            elif node.module and node.module.split(".")[0] == "reader":
                own.add(node.module.removeprefix("reader.") if node.module != "reader" else "reader")
            elif node.module:
                external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "reader":
                    own.add(alias.name.removeprefix("reader.") if alias.name != "reader" else "reader")
                else:
                    external.add(alias.name.split(".")[0])
    return own, external


FILES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_rank():
    assert set(FILES) == set(RANKS), "give new modules a rank (and remove the ranks of deleted ones)"


@pytest.mark.parametrize("module", sorted(FILES))
def test_module_imports_only_point_downward(module):
    own, external = imports_of(FILES[module])
    for imported in own:
        assert imported in RANKS, f"{module} imports {imported}, which has no rank"
        assert RANKS[imported] < RANKS[module], (
            f"{module} (rank {RANKS[module]}) imports {imported} (rank {RANKS[imported]}): imports point down only"
        )
    for library, owners in OWNERS.items():
        if library in external:
            assert module in owners, f"{library} may only be imported by {sorted(owners)}"


def test_the_resolver_sees_relative_imports(tmp_path):
    # The test above is only as good as this: a check that finds no imports passes everything.
    own, external = imports_of(FILES["web.timeline"])
    assert "web.pages" in own and "flask" in external
    own, _ = imports_of(FILES["store.feeds"])
    assert {"store.entries", "store.rows", "models", "errors"} <= own
    own, _ = imports_of(FILES["web"])
    assert {"web.people", "web.timeline", "web.subscriptions", "store"} <= own


def test_the_core_imports_without_flask():
    import subprocess
    import sys

    core = [f"reader.{name}" for name, rank in RANKS.items() if rank < CORE_RANK_LIMIT and name != "reader"]
    code = f"import sys; import {', '.join(core)}; sys.exit(1 if 'flask' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# What each long-lived process must not carry (docs/design.md, "Memory"): the web app, showing
# pages, needs no HTTP client, feed parser or microformats parser; a fetch needs no web framework,
# HTML sanitizer or microformats parser until it meets a new person or a first view, and no feed
# parser in a round where nothing changed.
NOT_LOADED = {
    "from reader.web import create_app; from reader.config import load_config;"
    " create_app(load_config({}, db_path=sys.argv[1]))": {"aiohttp", "feedparser", "mf2py", "bs4", "requests"},
    "import reader.cli": {"flask", "jinja2", "werkzeug", "bleach", "mf2py", "bs4", "requests", "argon2", "waitress"},
    # what `reader serve` loads before it serves: the web app and the refresh loop, not the pipeline
    "import reader.cli, reader.web, reader.background, waitress": {"aiohttp", "feedparser", "mf2py", "bs4"},
    # what a fetch round loads: the pipeline, not the web app; the parsers only once a feed has changed
    "import reader.cli, reader.update, reader.reach": {
        "flask",
        "jinja2",
        "bleach",
        "mf2py",
        "argon2",
        "waitress",
        "feedparser",
        "lxml",
    },
}


@pytest.mark.parametrize("code", sorted(NOT_LOADED))
def test_a_process_loads_only_the_libraries_it_uses(code, tmp_path):
    import subprocess
    import sys

    check = f"import sys; {code}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path / "reader.sqlite")], capture_output=True, text=True, check=True
    )
    assert NOT_LOADED[code].isdisjoint(done.stdout.split()), done.stdout
