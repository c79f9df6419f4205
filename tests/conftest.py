from collections.abc import Iterator

import pytest
from httpserver import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A real HTTP server on 127.0.0.1 (see tests/httpserver.py), stopped after the test."""
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()
    # A route function that raised is a bug in the test, not in the code under test.
    assert not server.errors, f"route functions raised: {server.errors!r}"


@pytest.fixture
def config(tmp_path):
    from reader.config import load_config

    # Parse in-process: worker processes are tested on their own (test_update). The tests' servers
    # are on 127.0.0.1: private addresses are allowed here, and tests/test_ssrf.py checks the default.
    return load_config({}, db_path=str(tmp_path / "reader.sqlite"), parse_workers=0, allow_private_addresses=("all",))


@pytest.fixture
def store(config):
    from reader.store import LOCAL_USER, Store

    store = Store.open(config.db_path).for_user(LOCAL_USER)
    yield store
    store.close()


@pytest.fixture
def fetch():
    from fakes import FakeFetch

    return FakeFetch()


@pytest.fixture
def app(config):
    from reader.web import create_app

    app = create_app(config)
    app.config["TESTING"] = True
    # Test-client posts carry no CSRF token; tests/test_csrf.py (and the browser tests) keep it on.
    app.config["WTF_CSRF_ENABLED"] = False
    yield app
    app.extensions["causerie.connections"].close()


@pytest.fixture
def client(app):
    return app.test_client()
