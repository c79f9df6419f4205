"""The full JSON export of a user's data and its import: leave with everything, arrive with everything."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from test_people import feed

from reader.cli import main
from reader.config import load_config
from reader.models import FeedSource
from reader.passwords import hash_password
from reader.store import LOCAL_USER, Store
from reader.update import update_feeds
from reader.userdata import UserDataError, import_user_data, read_user_data, write_user_data

NOW = datetime.now(UTC).replace(microsecond=0)
ANA = "https://ana.example/feed.xml"
ANA_NOTES = "https://ana.example/carnet.xml"
BO = "https://bo.example/rss"
PIGEON = {"kind": "pigeon", "value": "roucou"}
LONG_POST = "<p>Un long texte « gardé » &amp; précieux.</p>" * 50


def rich_store(path, fetch, config) -> Store:
    """A user with some of everything: people in groups, notes, channels, a mute, read and saved posts, a talk."""
    store = Store.open(path).for_user(LOCAL_USER)
    store.add_feeds(
        [
            FeedSource(ANA, "Ana", group_path=("Amis", "Poètes")),
            FeedSource(ANA_NOTES, "Le carnet d'Ana", group_path=("Amis", "Poètes")),
            FeedSource(BO, "Bo & « Co » #1"),
        ]
    )
    fetch.responses = {
        ANA: feed(
            ("a1", "L'été à Sète & « la mer »", NOW - timedelta(days=1), LONG_POST),
            ("a2", "Vieux poème", NOW - timedelta(days=20)),
            title="Ana",
        ),
        ANA_NOTES: feed(("n1", "Note brève #3", NOW - timedelta(days=3)), title="Le carnet d'Ana"),
        BO: feed(("b1", "Élection : mon vote", NOW - timedelta(hours=5)), title="Bo &amp; « Co » #1"),
    }
    assert all(r.error is None for r in update_feeds(store, config, fetch=fetch, now=lambda: NOW))
    ana = store.get_subscription(ANA).person_id
    store.merge_people(ana, store.get_subscription(ANA_NOTES).person_id)
    store.rename_person(ana, "Ana Lefèvre")
    store.update_person(ana, notes="Rencontrée à Lyon ; « poésie » & cafés.", home_url="https://ana.example/")
    email = store.add_channel(ana, "email", "ana@ana.example", label="perso")
    store.add_channel(ana, "signal", "+33 6 12 34 56 78")
    store.set_preferred_channel(ana, email.id)
    store.mute_person(store.get_subscription(BO).person_id)
    store.add_mute("élection")
    by_guid = {item.entry.guid: item.entry.id for item in store.list_timeline(hide_muted=False)}
    store.mark_read(by_guid["a1"])
    store.set_saved(by_guid["a1"])
    store.mark_read(by_guid["b1"])
    store.set_saved(by_guid["n1"])
    store.watch_thread(by_guid["a2"])
    talk = store.record_conversation(by_guid["a1"], "email", "ana@ana.example", note="Merci pour « la mer » !")
    store.update_conversation(talk.id, status="answered")
    return store


def comparable(document: dict) -> dict:
    """An export with what may differ between two installs left out (times of export, local ids)."""
    document = json.loads(json.dumps(document))
    document.pop("exported_at")
    names = {person["id"]: person["name"] for person in document["people"]}
    for person in document["people"]:
        person.pop("id")
        for item in person["feeds"]:
            item.pop("subscribed_at")
    for talk in document["conversations"]:
        talk["person"] = names[talk["person"]]
    document["people"].sort(key=lambda person: person["name"])
    document["groups"].sort()
    return document


@pytest.fixture
def source(config, fetch):
    store = rich_store(config.db_path, fetch, config)
    yield store
    store.close()


@pytest.fixture
def elsewhere(tmp_path):
    """A new install on another server, where nothing has been fetched yet."""
    store = Store.open(tmp_path / "new-server" / "reader.sqlite").for_user(LOCAL_USER)
    yield store
    store.close()


def test_everything_moves_to_a_new_server_and_comes_back_out_the_same(source, elsewhere):
    exported = write_user_data(source)
    report = import_user_data(elsewhere, exported)
    assert (report.people_added, report.feeds_added, report.conversations_added) == (2, 3, 1)
    assert comparable(json.loads(write_user_data(elsewhere))) == comparable(json.loads(exported))

    (ana,) = [p for p in elsewhere.list_people() if p.name == "Ana Lefèvre"]
    assert ana.notes == "Rencontrée à Lyon ; « poésie » & cafés."
    channels = {(c.kind, c.value, c.label) for c in elsewhere.list_channels(ana.id)}
    assert channels == {("email", "ana@ana.example", "perso"), ("signal", "+33612345678", None)}
    assert elsewhere.get_channel(ana.preferred_channel_id).value == "ana@ana.example"
    assert [m.phrase for m in elsewhere.list_mutes()] == ["élection"]
    # Nothing fetched here yet, but the saved post is whole and the read marks are there.
    items = {item.entry.guid: item for item in elsewhere.list_timeline(hide_muted=False)}
    assert set(items) == {"a1", "b1", "n1", "a2"}  # a2: a watched thread
    assert (items["a1"].is_read, items["a1"].is_saved, items["b1"].is_read, items["n1"].is_saved) == (
        True,
        True,
        True,
        True,
    )
    saved = elsewhere.get_entry_content(items["a1"].entry.id)
    assert saved.summary.count("« gardé » &amp; précieux") == 50
    (talk,) = elsewhere.list_conversations()
    assert (talk.status, talk.note, talk.entry_id) == ("answered", "Merci pour « la mer » !", items["a1"].entry.id)
    assert [item.entry.guid for item in elsewhere.search("sete")] == ["a1"]


def test_the_first_fetch_on_the_new_server_keeps_the_marks_and_duplicates_nothing(source, elsewhere, fetch, tmp_path):
    import_user_data(elsewhere, write_user_data(source))
    config = load_config({}, db_path=str(tmp_path / "new-server" / "reader.sqlite"), parse_workers=0)
    assert all(r.error is None for r in update_feeds(elsewhere, config, fetch=fetch, now=lambda: NOW))
    items = {item.entry.guid: item for item in elsewhere.list_timeline(hide_muted=False)}
    assert sorted(items) == ["a1", "a2", "b1", "n1"]
    assert items["a1"].is_read and items["a1"].is_saved and items["n1"].is_saved and not items["a2"].is_read


def test_importing_the_same_file_twice_changes_nothing(source, elsewhere):
    exported = write_user_data(source)
    import_user_data(elsewhere, exported)
    once = comparable(json.loads(write_user_data(elsewhere)))
    again = import_user_data(elsewhere, exported)
    assert again.people_added == again.feeds_added == again.channels_added == again.mutes_added == 0
    assert again.states_set == again.conversations_added == again.entries_added == 0
    assert again.people_matched == 2
    assert comparable(json.loads(write_user_data(elsewhere))) == once


def test_importing_into_an_install_in_use_merges_and_deletes_nothing(source, elsewhere, fetch, tmp_path):
    config = load_config({}, db_path=str(tmp_path / "new-server" / "reader.sqlite"), parse_workers=0)
    elsewhere.add_feeds([FeedSource(ANA, "Ana ici"), FeedSource("https://zoe.example/feed", "Zoé")])
    fetch.responses["https://zoe.example/feed"] = feed(("z1", "Bonjour", NOW), title="Zoé")
    list(update_feeds(elsewhere, config, fetch=fetch, now=lambda: NOW))
    here = elsewhere.get_subscription(ANA).person_id
    elsewhere.update_person(here, notes="Vue à Paris.")
    report = import_user_data(elsewhere, write_user_data(source))
    assert report.people_matched == 1 and report.people_added == 1  # Ana by her feed; Bo is new
    ana = elsewhere.get_person(here)
    assert ana.notes == "Vue à Paris.\n\nRencontrée à Lyon ; « poésie » & cafés."
    assert elsewhere.get_subscription(ANA_NOTES).person_id == here  # her other feed joins her
    assert "Zoé" in [p.name for p in elsewhere.list_people()]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda doc: b"{ not json", "not valid JSON: Expecting property name"),
        (lambda doc: b"\xff\xfe{}", "not UTF-8"),
        (lambda doc: json.dumps({"people": []}).encode(), "not a Causerie export"),
        (lambda doc: json.dumps({**doc, "version": 7}).encode(), "export version 7 is not one this Causerie reads"),
        (
            lambda doc: json.dumps(
                {**doc, "people": [doc["people"][0], {**doc["people"][1], "channels": [PIGEON]}]}
            ).encode(),
            "people[1].channels[0].kind: unknown kind of channel 'pigeon'",
        ),
        (
            lambda doc: json.dumps({**doc, "entries": [{**doc["entries"][0], "is_read": "yes"}]}).encode(),
            "entries[0].is_read: expected true or false",
        ),
        (
            lambda doc: json.dumps({**doc, "conversations": [{**doc["conversations"][0], "person": 999}]}).encode(),
            "conversations[0].person: no person has the id 999",
        ),
        (
            lambda doc: json.dumps(
                {**doc, "people": [{**doc["people"][0], "feeds": [{"url": "file:///etc/passwd"}]}]}
            ).encode(),
            "people[0].feeds[0].url: not an http(s) URL",
        ),
    ],
    ids=["json", "utf8", "format", "version", "channel-kind", "flag", "person-ref", "feed-url"],
)
def test_a_bad_file_imports_nothing_and_says_where_it_is_wrong(source, elsewhere, change, says):
    document = json.loads(write_user_data(source))
    with pytest.raises(UserDataError) as error:
        import_user_data(elsewhere, change(document))
    assert says in str(error.value)
    assert elsewhere.list_people() == [] and elsewhere.list_subscriptions() == []


def test_a_failure_halfway_through_the_import_leaves_nothing_behind(source, elsewhere, monkeypatch):
    exported = write_user_data(source)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(type(elsewhere), "_import_conversation", broken)
    with pytest.raises(RuntimeError):
        import_user_data(elsewhere, exported)
    assert elsewhere.list_people() == [] and elsewhere.list_subscriptions() == [] and elsewhere.list_mutes() == []


def test_an_export_holds_only_its_own_users_data(config, fetch):
    store = rich_store(config.db_path, fetch, config)
    zoe = store.add_user("zoé", hash_password("un mot de passe assez long"))  # takes over the local data
    bo = store.add_user("bo", hash_password("another long password"))
    bo_store = store.for_user(bo.id)
    bo_store.add_feed(ANA, title="Ana, chez Bo")  # a feed both follow: its entries are shared
    text = write_user_data(bo_store).decode()
    for secret in ("Lefèvre", "Lyon", "ana@ana.example", "élection", "Merci", "Poètes", BO, "Vieux poème"):
        assert secret not in text, secret
    document = json.loads(text)
    assert document["entries"] == [] and document["conversations"] == [] and document["account"]["name"] == "bo"
    assert "Lyon" in write_user_data(store.for_user(zoe.id)).decode()
    store.close()


def test_the_commands_export_and_import_json(source, tmp_path):
    out = tmp_path / "moi.json"
    cli = CliRunner()
    done = cli.invoke(main, ["--db", source_path(source), "export", "--format", "json", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert read_user_data(out.read_bytes())["people"]
    new_db = tmp_path / "new.sqlite"
    done = cli.invoke(main, ["--db", str(new_db), "import", str(out)])
    assert done.exit_code == 0, done.output
    assert "imported 2 people (0 already here), 3 feeds" in done.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "causerie-user-data", "version": 1, "people": [{"name": ""}]}')
    done = cli.invoke(main, ["--db", str(new_db), "import", str(bad)])
    assert done.exit_code == 1
    assert "people[0].name: empty" in done.output


def source_path(store) -> str:
    return store.db.execute("PRAGMA database_list").fetchone()[2]


def test_the_settings_page_downloads_and_uploads_it(client, source, elsewhere):
    page = client.get("/settings").text
    assert "Download all my data (JSON)" in page and 'name="data"' in page
    response = client.get("/settings/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.data)["people"]
    # Back in through the form: same data, so nothing new; a bad file says why.
    from io import BytesIO

    again = client.post("/settings/import", data={"data": (BytesIO(response.data), "moi.json")})
    assert again.status_code == 303
    assert "Imported 0 people (2 already here)" in client.get("/settings").text
    client.post("/settings/import", data={"data": (BytesIO(b"{]"), "moi.json")})
    assert "Nothing imported: not valid JSON" in client.get("/settings").text
    # Given to the OPML form instead, it is recognised too.
    client.post("/subscriptions/import", data={"opml": (BytesIO(response.data), "moi.json")})
    assert "Imported 0 people (2 already here)" in client.get("/subscriptions/").text


def test_the_commands_act_for_the_account_named(config, fetch, tmp_path):
    store = rich_store(config.db_path, fetch, config)
    store.add_user("zoé", hash_password("un mot de passe assez long"))
    bo = store.add_user("bo", hash_password("another long password"))
    store.close()
    cli = CliRunner()
    zoe_file, bo_file = tmp_path / "zoe.json", tmp_path / "bo.json"
    run = ["--db", config.db_path, "export", "--format", "json"]
    assert cli.invoke(main, [*run, "--user", "zoé", "-o", str(zoe_file)]).exit_code == 0
    assert cli.invoke(main, [*run, "--user", "bo", "-o", str(bo_file)]).exit_code == 0
    assert "Lefèvre" in zoe_file.read_text() and "Lefèvre" not in bo_file.read_text()
    done = cli.invoke(main, ["--db", config.db_path, "import", "--user", "bo", str(zoe_file)])
    assert done.exit_code == 0, done.output
    again = Store.open(config.db_path).for_user(bo.id)
    assert "Ana Lefèvre" in [p.name for p in again.list_people()]
    again.close()
    missing = cli.invoke(main, [*run, "--user", "personne"])
    assert missing.exit_code == 1 and "personne" in missing.output
