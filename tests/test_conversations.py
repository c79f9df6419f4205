"""The conversation log, comments in place and watched threads: store, pipeline and web."""

import re
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

import pytest

from reader.errors import InvalidInputError, NotFoundError
from reader.models import FeedSource
from reader.store import LOCAL_USER, Store
from reader.update import update_comment_feeds, update_feeds

NOW = datetime.now(UTC).replace(microsecond=0)


def post_feed(site: str, comments_feed: str) -> str:
    return (
        "<?xml version='1.0'?><rss version='2.0' xmlns:wfw='http://wellformedweb.org/CommentAPI/'"
        " xmlns:slash='http://purl.org/rss/1.0/modules/slash/'><channel><title>Ana</title>"
        f"<link>{site}</link><item><guid>p1</guid><title>L’été &amp; « nous »</title><link>{site}p1</link>"
        f"<comments>{site}p1#comments</comments><wfw:commentRss>{comments_feed}</wfw:commentRss>"
        "<slash:comments>2</slash:comments><description>Un post.</description>"
        f"<pubDate>{(NOW - timedelta(days=1)).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
        "</channel></rss>"
    )


def comments_feed(*comments: tuple[str, str, str, datetime]) -> str:
    items = "".join(
        f"<item><guid>{guid}</guid><title>Par {escape(who)}</title><dc:creator>{escape(who)}</dc:creator>"
        f"<description>{escape(text)}</description>"
        f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
        for guid, who, text, when in comments
    )
    return (
        "<?xml version='1.0'?><rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/'><channel>"
        f"<title>Commentaires</title>{items}</channel></rss>"
    )


@pytest.fixture
def thread(feed_server, config):
    """A post with a comment feed of two comments, fetched through the real pipeline from a real server."""
    site = feed_server.url("/ana/")
    comments_url = feed_server.url("/ana/p1/feed")
    feed_server.route(
        "/ana/feed", body=post_feed(site, comments_url).encode(), headers={"content-type": "application/rss+xml"}
    )
    feed_server.route(
        "/ana/p1/feed",
        body=comments_feed(
            ("c1", "Bo", "Très beau <b>texte</b> <script>alert(1)</script>", NOW - timedelta(hours=20)),
            ("c2", "Cy", "Merci & bravo", NOW - timedelta(hours=2)),
        ).encode(),
        headers={"content-type": "application/rss+xml", "etag": '"v1"'},
    )
    store = Store.open(config.db_path).for_user(LOCAL_USER)
    store.add_feeds([FeedSource(feed_server.url("/ana/feed"), "Ana")])
    assert [r.error for r in update_feeds(store, config)] == [None]
    [item] = store.list_timeline()
    yield store, item, comments_url
    store.close()


# -- conversations --------------------------------------------------------------


def test_recording_a_reply_logs_post_person_channel_and_time(thread):
    store, item, _ = thread
    conversation = store.record_conversation(item.entry.id, "email", "ana@ana.example", note="  sur l’été ")
    assert (conversation.person_id, conversation.person_name) == (item.person_id, "Ana")
    assert (conversation.entry_title, conversation.entry_url) == ("L’été & « nous »", item.entry.link)
    assert (conversation.channel_kind, conversation.status, conversation.note) == ("email", "waiting", "sur l’été")
    assert abs(conversation.started_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert store.last_wrote_at(item.person_id) == conversation.started_at

    store.update_conversation(conversation.id, status="answered", note="Elle a répondu")
    assert store.get_conversation(conversation.id).status == "answered"
    with pytest.raises(InvalidInputError):
        store.update_conversation(conversation.id, status="ignored")
    with pytest.raises(InvalidInputError):
        store.record_conversation(item.entry.id, "carrier-pigeon")


def test_the_log_outlives_the_post_and_belongs_to_its_user(thread):
    store, item, _ = thread
    conversation = store.record_conversation(item.entry.id, "comments")
    bea = store.for_user(store.add_user("bea").id)
    with pytest.raises(NotFoundError):
        bea.get_conversation(conversation.id)
    with pytest.raises(NotFoundError):
        bea.record_conversation(item.entry.id, "email")
    assert bea.list_conversations() == []

    store.remove_feed(store.list_subscriptions()[0].feed.url)  # nobody follows it: the post goes
    kept = store.get_conversation(conversation.id)
    assert kept.entry_id is None and kept.entry_title == "L’été & « nous »"


def test_conversations_join_when_people_merge(thread):
    store, item, _ = thread
    store.record_conversation(item.entry.id, "email", "ana@ana.example")
    other = store.add_person("Ana (ancien blog)")
    store.merge_people(other.id, item.person_id)
    assert [c.person_id for c in store.list_conversations()] == [other.id]


# -- comments -------------------------------------------------------------------


def test_comment_feeds_go_through_the_pipeline_with_conditional_get(thread, config, feed_server):
    store, item, comments_url = thread
    [first] = list(update_comment_feeds(store, config, [store.get_comment_feed(comments_url)]))
    assert (first.status, first.new) == ("ok", 2)
    assert [c.author_name for c in store.list_comments(item.entry.id)] == ["Bo", "Cy"]  # newest last

    feed_server.route("/ana/p1/feed", status=304, headers={"etag": '"v1"'})
    [again] = list(update_comment_feeds(store, config, [store.get_comment_feed(comments_url)]))
    assert again.status == "not_modified"
    assert feed_server.requests_to("/ana/p1/feed")[-1].headers.get("if-none-match") == '"v1"'


def test_a_broken_comment_feed_is_noted_and_backs_off(thread, config, feed_server):
    store, item, comments_url = thread
    feed_server.route("/ana/p1/feed", status=500, body=b"oops")
    [result] = list(update_comment_feeds(store, config, [store.get_comment_feed(comments_url)]))
    thread_state = store.get_comment_feed(comments_url)
    assert result.status == "error" and thread_state.last_error == "HTTP 500 Internal Server Error"
    assert thread_state.next_fetch_at > datetime.now(UTC) + timedelta(minutes=10)


def test_watching_marks_comments_newer_than_the_last_visit(thread, config, feed_server):
    store, item, comments_url = thread
    t0 = datetime.now(UTC).replace(microsecond=0)
    list(update_comment_feeds(store, config, [store.get_comment_feed(comments_url)], now=lambda: t0))
    store.watch_thread(item.entry.id)
    store.mark_thread_visited(item.entry.id, t0 + timedelta(minutes=1))
    assert [t.new_comments for t in store.list_watched_threads()] == [0]
    assert store.list_comment_feeds_to_fetch(t0 + timedelta(hours=2))  # on the normal schedule

    feed_server.route(
        "/ana/p1/feed",
        body=comments_feed(
            ("c1", "Bo", "Très beau texte", NOW - timedelta(hours=20)),
            ("c2", "Cy", "Merci & bravo", NOW - timedelta(hours=2)),
            ("c3", "Dee", "Et moi ?", NOW - timedelta(minutes=5)),
        ).encode(),
    )
    later = t0 + timedelta(hours=2)
    list(update_comment_feeds(store, config, store.list_comment_feeds_to_fetch(later), now=lambda: later))

    assert [(c.author_name, c.is_new) for c in store.list_comments(item.entry.id)] == [
        ("Bo", False),
        ("Cy", False),
        ("Dee", True),
    ]
    assert [t.new_comments for t in store.list_watched_threads()] == [1]
    store.mark_thread_visited(item.entry.id, later + timedelta(minutes=1))
    assert [t.new_comments for t in store.list_watched_threads()] == [0]
    store.watch_thread(item.entry.id, False)
    assert store.list_watched_threads() == [] and store.list_comment_feeds_to_fetch(later) == []


# -- through the web ---------------------------------------------------------------


def wait_for_comments(app, client, entry_id) -> str:
    """Open the post (which starts fetching its comments), wait for the fetch, and open it again."""
    client.get(f"/entries/{entry_id}")
    app.extensions["causerie.comments"].wait()
    return client.get(f"/entries/{entry_id}").text


def test_the_post_page_shows_its_comments_sanitized_once_fetched(app, client, thread):
    store, item, comments_url = thread
    first = client.get(f"/entries/{item.entry.id}")
    assert first.status_code == 200 and "L’été &amp; « nous »" in first.text  # the post never waits
    html = wait_for_comments(app, client, item.entry.id)
    section = html[html.index('id="comments"') :]
    assert "Comments (2)" in section
    assert section.index("Bo") < section.index("Cy")
    assert "<b>texte</b>" in section and "<script>" not in section and "alert(1)" not in section
    assert "Merci &amp; bravo" in section and "data-pending" not in section
    assert "Answer on 127.0.0.1" in section


def test_a_broken_comment_feed_never_breaks_the_post(app, client, thread, feed_server):
    store, item, _ = thread
    feed_server.route("/ana/p1/feed", status=500, body=b"oops")
    html = wait_for_comments(app, client, item.entry.id)
    assert "Un post." in html and "could not be fetched: HTTP 500" in html


def test_replying_from_a_post_logs_a_conversation(client, thread):
    store, item, _ = thread
    channel = store.add_channel(item.person_id, "email", "ana@ana.example")
    post = client.get(f"/entries/{item.entry.id}").text
    mailto = re.search(r'class="button reply-default" href="(mailto:[^"]+)"', post).group(1)
    assert mailto.startswith("mailto:ana@ana.example?subject=Re%3A%20L%E2%80%99%C3%A9t%C3%A9%20%26%20")
    assert store.list_conversations() == []  # following a link records nothing

    page = client.get(f"/entries/{item.entry.id}/reply?via={channel.id}").text
    assert "Did you write to them?" in page and f'value="{channel.id}" checked' in page
    response = client.post(f"/entries/{item.entry.id}/replied", data={"via": str(channel.id), "note": "merci"})
    assert response.status_code == 303 and response.location.endswith("/conversations")
    [conversation] = store.list_conversations()
    assert (conversation.channel_kind, conversation.channel_value, conversation.note) == (
        "email",
        "ana@ana.example",
        "merci",
    )

    log = client.get("/conversations").text
    assert "L’été &amp; « nous »" in log and "Waiting for an answer" in log
    client.post(f"/conversations/{conversation.id}", data={"status": "answered", "note": "Elle a répondu"})
    assert store.get_conversation(conversation.id).status == "answered"
    person = client.get(f"/people/{item.person_id}").text
    assert "You last wrote to them" in person and "L’été &amp; « nous »" in person


def test_a_channel_of_someone_else_cannot_be_logged_for_a_post(client, thread):
    store, item, _ = thread
    other = store.add_person("Quelqu’un")
    channel = store.add_channel(other.id, "email", "q@q.example")
    response = client.post(f"/entries/{item.entry.id}/replied", data={"via": str(channel.id)})
    assert response.status_code == 400 and store.list_conversations() == []


def test_watching_from_the_post_page(app, client, thread):
    store, item, _ = thread
    client.post(f"/entries/{item.entry.id}/watch", data={"watch": "1"})
    assert store.is_watching(item.entry.id)
    html = wait_for_comments(app, client, item.entry.id)
    assert "Stop watching this thread" in html
    assert "nothing new since your last visit" in client.get("/conversations").text
