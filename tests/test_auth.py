"""Accounts: the CLI, logging in and out, sessions, rate limits, and one user never reaching another's data."""

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import rss

from reader.cli import main
from reader.models import FeedSource
from reader.passwords import hash_password
from reader.store import LOCAL_USER, Store
from reader.update import update_feeds

PASSWORD = "correct horse battery"


def run_cli(db, *args, password=PASSWORD, input=None):
    return CliRunner().invoke(main, ["--db", str(db), *args], env={"READER_PASSWORD": password}, input=input)


@pytest.fixture
def accounts(config):
    """An install with two accounts: zoé (who took over the local user's data) and bo."""
    store = Store.open(config.db_path)
    zoe = store.add_user("zoé", hash_password(PASSWORD))
    bo = store.add_user("bo", hash_password("bo's own password"))
    store.close()
    return zoe, bo


def log_in(client, name="zoé", password=PASSWORD, **form):
    return client.post("/login", data={"name": name, "password": password, **form})


# -- the CLI ----------------------------------------------------------------------


def test_the_first_account_takes_over_the_readers_data(config, fetch):
    store = Store.open(config.db_path).for_user(LOCAL_USER)
    store.add_feed("https://ana.example/feed", title="Ana")
    store.close()

    first = run_cli(config.db_path, "user", "add", "zoé")
    second = run_cli(config.db_path, "user", "add", "bo", password="another password")

    assert first.exit_code == 0 and "reading state so far are theirs" in first.output
    assert second.exit_code == 0 and second.output == "created bo\n"
    store = Store.open(config.db_path)
    zoe, bo = store.get_user_by_name("zoé"), store.get_user_by_name("BO")
    assert zoe.id == LOCAL_USER and bo.id != LOCAL_USER
    assert [s.feed.url for s in store.for_user(zoe.id).list_subscriptions()] == ["https://ana.example/feed"]
    assert store.for_user(bo.id).list_subscriptions() == []
    store.close()
    assert run_cli(config.db_path, "user", "list").output.splitlines()[0].startswith("zoé")


def test_the_cli_refuses_bad_names_short_passwords_and_duplicates(config):
    assert "at least 8 characters" in run_cli(config.db_path, "user", "add", "zoé", password="short").output
    assert "1 to 64 letters" in run_cli(config.db_path, "user", "add", "zo é").output
    assert run_cli(config.db_path, "user", "add", "zoé").exit_code == 0
    assert "already a user named zoé" in run_cli(config.db_path, "user", "add", "ZOÉ").output


def test_a_password_is_asked_twice_on_the_terminal(config):
    result = CliRunner().invoke(main, ["--db", config.db_path, "user", "add", "zoé"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    store = Store.open(config.db_path)
    assert store.get_user_by_name("zoé").has_password
    store.close()


def test_removing_an_account_removes_what_is_theirs(config, accounts):
    zoe, bo = accounts
    store = Store.open(config.db_path)
    store.for_user(bo.id).add_feed("https://bo.example/feed")
    store.close()
    assert run_cli(config.db_path, "user", "remove", "bo", "--yes").exit_code == 0
    store = Store.open(config.db_path)
    assert [u.name for u in store.list_users()] == ["zoé"]
    assert store.db.execute("SELECT count(*) FROM feeds").fetchone()[0] == 0
    store.close()


def test_serving_beyond_loopback_needs_an_account(config):
    result = run_cli(config.db_path, "serve", "--host", "0.0.0.0", "--no-fetch")
    assert result.exit_code == 2 and "reader user add NAME" in result.output


# -- logging in -------------------------------------------------------------------


def test_without_an_account_on_loopback_the_reader_stays_open(client):
    assert client.get("/").status_code == 200
    assert "Log out" not in client.get("/").text


def test_beyond_loopback_every_page_asks_to_log_in(config):
    from reader.web import create_app

    app = create_app(replace(config, listen_host="0.0.0.0"))
    response = app.test_client().get("/people")
    assert response.status_code == 303 and response.location.endswith("/login?next=/people")


def test_behind_a_proxy_loopback_is_not_this_machine_alone(config, monkeypatch):
    # The proxy connects from 127.0.0.1 for anyone on the internet: no open single-user mode.
    from reader.web import create_app

    app = create_app(replace(config, trusted_proxies=1))
    response = app.test_client().get("/people")
    assert response.status_code == 303 and response.location.endswith("/login?next=/people")
    monkeypatch.setenv("READER_TRUSTED_PROXIES", "1")
    result = run_cli(config.db_path, "serve", "--no-fetch")
    assert result.exit_code == 2 and "behind a proxy" in result.output and "reader user add NAME" in result.output


def test_with_an_account_every_page_but_login_asks_to_log_in(client, accounts):
    for path in ("/", "/people", "/subscriptions/", "/entries/1", "/search?q=x", "/conversations"):
        response = client.get(path)
        assert response.status_code == 303 and "/login?next=" in response.location, path
    assert client.post("/mark-read").status_code == 401
    assert client.get("/login").status_code == 200
    with client.get("/static/style.css") as response:
        assert response.status_code == 200


def test_a_wrong_password_or_unknown_name_says_the_same_and_logs_nobody_in(client, accounts):
    wrong = log_in(client, password="wrong password")
    unknown = log_in(client, name="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        "That name and password do not match." in wrong.text and "That name and password do not match." in unknown.text
    )
    assert client.get("/").status_code == 303


def test_logging_in_goes_back_where_one_was_and_logging_out_ends_it(client, accounts):
    response = log_in(client, name="ZOÉ", next="/people")
    assert response.status_code == 303 and response.location.endswith("/people")
    page = client.get("/people")
    assert page.status_code == 200 and "Log out zoé" in page.text
    assert client.post("/logout").status_code == 303
    assert client.get("/people").status_code == 303


def test_the_session_cookie_is_http_only_same_site_and_secure_over_https(app, accounts):
    plain = app.test_client()
    cookie = log_in(plain).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires" not in cookie  # gone with the browser session

    https = app.test_client()
    cookie = https.post(
        "/login", data={"name": "zoé", "password": PASSWORD, "remember": "1"}, base_url="https://reader.example"
    ).headers["Set-Cookie"]
    assert "Secure" in cookie and "Expires" in cookie  # remembered for 30 days


def test_a_new_password_logs_that_account_out_everywhere(client, accounts, config):
    log_in(client)
    assert client.get("/").status_code == 200
    assert run_cli(config.db_path, "user", "password", "zoé", password="a brand new one").exit_code == 0
    assert client.get("/").status_code == 303


def test_failed_logins_are_limited_per_address_with_a_clear_message(client, accounts):
    for _ in range(10):
        assert log_in(client, password="guess").status_code == 401
    blocked = log_in(client)  # even the right password waits
    assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
    # Another address is not held up by this one's failures.
    elsewhere = client.post(
        "/login", data={"name": "zoé", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert elsewhere.status_code == 303


def test_failed_logins_are_limited_per_account_whatever_the_address(client, accounts):
    for i in range(20):
        response = client.post(
            "/login", data={"name": "bo", "password": "guess"}, environ_base={"REMOTE_ADDR": f"198.51.100.{i}"}
        )
        assert response.status_code == 401
    blocked = client.post("/login", data={"name": "bo", "password": "x"}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert blocked.status_code == 429
    # Someone else's account is not affected.
    assert log_in(client).status_code == 303


# -- isolation ------------------------------------------------------------------------------


def test_a_user_reaches_none_of_another_users_things_by_any_route(app, config, accounts, fetch):
    """Bo, logged in, asks every route for Zoé's ids: nothing of hers is shown or changed."""
    zoe, bo = accounts
    store = Store.open(config.db_path)
    mine = store.for_user(zoe.id)
    mine.add_feeds([FeedSource("https://ana.example/feed", "Ana Secrète", group_path=("Amis intimes",))])
    fetch.responses["https://ana.example/feed"] = rss(("a1", "Journal privé"), title="Ana Secrète")
    list(update_feeds(store, config, fetch=fetch))
    [item] = mine.list_timeline()
    person = item.person_id
    channel = mine.add_channel(person, "email", "ana@secret.example")
    conversation = mine.record_conversation(item.entry.id, "email", "ana@secret.example", note="très privé")
    mute = mine.add_mute("mot secret")
    mine.watch_thread(item.entry.id)
    mine.update_person(person, notes="Notes intimes")
    before = {t: store.db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in USER_TABLES}
    ids = {
        "entry_id": item.entry.id,
        "person_id": person,
        "feed_id": item.entry.feed_id,
        "group_id": mine.list_groups()[0].id,
        "channel_id": channel.id,
        "conversation_id": conversation.id,
        "mute_id": mute.id,
    }
    store.close()

    client = app.test_client()
    assert log_in(client, name="bo", password="bo's own password").status_code == 303
    secrets = (
        "Ana Secrète",
        "Journal privé",
        "ana@secret.example",
        "très privé",
        "mot secret",
        "Notes intimes",
        "Amis intimes",
    )
    form = {
        **{"read": "1", "saved": "1", "muted": "1", "other": str(person), "person": str(person), "name": "x"},
        **{"value": "x@y.example", "kind": "email", "via": str(channel.id), "status": "closed", "note": "x"},
        **{"channel": str(channel.id), "watch": "1", "phrase": "x", "title": "x", "group": "x", "home_url": ""},
    }
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "auth.login", "auth.login_post", "auth.logout"):
            continue
        path = rule.build({name: ids[name] for name in rule.arguments}, append_unknown=False)[1]
        for method in rule.methods & {"GET", "POST"}:
            query = {"q": "Journal", "muted": "1"} if method == "GET" else None
            response = client.open(path, method=method, data=form if method == "POST" else None, query_string=query)
            body = response.get_data(as_text=True)
            assert response.status_code in (200, 204, 303, 400, 404, 405), (method, path, response.status_code)
            if rule.arguments and response.status_code not in (303, 405) and method == "GET":
                assert response.status_code == 404, (method, path)
            assert not [s for s in secrets if s in body], (method, path)
            checked += 1
    assert checked > 40
    store = Store.open(config.db_path)
    after = {t: store.db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in USER_TABLES}
    store.close()
    for table in USER_TABLES:
        theirs = [row for row in after[table] if row not in before[table]]
        gone = [row for row in before[table] if row not in after[table]]
        assert not gone, f"{table}: Zoé lost {gone}"
        assert all(_not_zoes(table, row, zoe.id) for row in theirs), f"{table}: {theirs}"


USER_TABLES = ("people", "groups", "subscriptions", "entry_states", "channels", "mutes", "conversations", "watches")


def _not_zoes(table: str, row: tuple, zoe_id: int) -> bool:
    """A row Bo's requests added is Bo's own (user_id is the second column, or the first for some tables)."""
    user_column = {"entry_states": 0, "watches": 0}.get(table, 1)
    return row[user_column] != zoe_id


# -- keys and proxies -------------------------------------------------------------------


def test_without_a_secret_key_setting_a_random_one_is_made_once_and_kept(config):
    import os
    import stat
    from pathlib import Path

    from reader.web import create_app

    first = create_app(config).config["SECRET_KEY"]
    again = create_app(config).config["SECRET_KEY"]
    key_file = Path(config.db_path).parent / "secret_key"
    assert first == again and len(first) >= 48
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert create_app(replace(config, secret_key="from the setting")).config["SECRET_KEY"] == "from the setting"


def test_forwarded_headers_count_only_behind_trusted_proxies(config, accounts):
    from reader.web import create_app

    def client(**changes):
        app = create_app(replace(config, **changes))
        app.config["WTF_CSRF_ENABLED"] = False  # these posts carry no token
        return app.test_client()

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.50"}
    direct = client()
    response = direct.post("/login", data={"name": "zoé", "password": PASSWORD}, headers=forwarded)
    assert response.status_code == 303 and "Secure" not in response.headers["Set-Cookie"]  # anyone can send them

    proxied = client(trusted_proxies=1)
    response = proxied.post("/login", data={"name": "zoé", "password": PASSWORD}, headers=forwarded)
    assert response.status_code == 303 and "Secure" in response.headers["Set-Cookie"]
    # The login limit counts the client behind the proxy, not the proxy.
    for _ in range(10):
        proxied.post("/login", data={"name": "zoé", "password": "guess"}, headers=forwarded)
    assert proxied.post("/login", data={"name": "zoé", "password": PASSWORD}, headers=forwarded).status_code == 429
    other_client = {**forwarded, "X-Forwarded-For": "198.51.100.99"}
    assert proxied.post("/login", data={"name": "zoé", "password": PASSWORD}, headers=other_client).status_code == 303


def test_healthz_answers_without_a_login_and_says_nothing_of_anyone(client, accounts):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok\n"
    assert response.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in response.headers


def test_healthz_says_when_the_database_cannot_be_read(config, tmp_path):
    from reader.web import create_app

    app = create_app(config)
    Path(config.db_path).unlink()
    Path(config.db_path).write_bytes(b"not a database, ni une base \xc3\xa9")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and "database unavailable" in response.text
