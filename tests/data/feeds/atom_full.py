from datetime import UTC, datetime

from reader.models import ParsedEntry, ParsedFeed

URL = "https://bea.example/feeds/atom"
HEADERS = {"content-type": "application/atom+xml"}
BASE = "https://bea.example/blog/"  # the feed's xml:base

EXPECTED = ParsedFeed(
    url=URL,
    title="Bea writes",
    site_url=BASE,  # href="./" against xml:base, not against URL
    author_name="Bea Santos",
    author_email="bea@bea.example",
    author_url="https://bea.example/about",
    entries=(
        ParsedEntry(
            guid="tag:bea.example,2024:1",
            title="Fish & chips",  # type="html": markup removed, entities decoded
            link=BASE + "2024/03/fish",
            author_name="Bea Santos",
            author_email="bea@bea.example",
            author_url="https://bea.example/about",
            summary="<p>Fish, and chips.</p>",  # type="text", escaped into HTML
            content='<p>Fish &amp; <a href="chips">chips</a></p>',  # type="html", raw until sanitize
            published_at=datetime(2024, 3, 1, 8, 0, tzinfo=UTC),  # 10:00+02:00
            updated_at=datetime(2024, 3, 1, 14, 30, tzinfo=UTC),  # 09:30-05:00
            comments_url=BASE + "2024/03/fish#comments",  # rel="replies" type="text/html"
            comments_feed_url=BASE + "2024/03/fish/comments.atom",  # rel="replies" type="application/atom+xml"
            comment_count=5,  # thr:count
            base_url=BASE,
        ),
        ParsedEntry(
            guid="tag:bea.example,2024:2",
            title="Tea for two",  # type="xhtml"
            link=BASE + "2024/03/tea",
            content="<p>Tea <em>for</em> two.</p>",  # type="xhtml": the div's children
            # No <published>: the entry's <updated> stands in.
            published_at=datetime(2024, 3, 1, 23, 30, tzinfo=UTC),  # 00:30+01:00 the next day
            updated_at=datetime(2024, 3, 1, 23, 30, tzinfo=UTC),
            comments_feed_url=BASE + "2024/03/tea/comments.atom",
            comment_count=12,  # thr:total
            base_url=BASE,
        ),
        ParsedEntry(
            guid="tag:bea.example,2024:3",
            title="Plain",
            link="https://elsewhere.example/3",
            # type="text": escaped, blank lines make paragraphs.
            content="<p>One &lt;b&gt;line.</p><p>Two &amp; three.</p>",
            published_at=datetime(2024, 3, 3, 0, 0, tzinfo=UTC),
            updated_at=datetime(2024, 3, 3, 0, 0, tzinfo=UTC),
            base_url=BASE,
        ),
    ),
)
