from datetime import UTC, datetime

from reader.models import Enclosure, ParsedEntry, ParsedFeed

URL = "https://ana.example/feed.xml"
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}

EXPECTED = ParsedFeed(
    url=URL,
    title="Ana's Notebook",  # runs of whitespace collapsed
    site_url="https://ana.example/",
    # <managingEditor> "email (Name)"; ".example" is longer than the four
    # letters feedparser's email pattern allows for a top-level domain.
    author_name="Ana Lima",
    author_email="ana@ana.example",  # <managingEditor>
    entries=(
        ParsedEntry(
            guid="tag:ana.example,2024:post-1",  # isPermaLink="false": an id, not a link
            title="First & foremost",
            link="https://ana.example/2024/01/first",
            author_name="Ana Lima",  # <dc:creator>
            author_email="ana@ana.example",  # from <author>
            summary="<p>A short <em>summary</em>.</p>",  # <description>
            content='<p>The <strong>whole</strong> post, with <a href="/about">a link</a>.</p>',  # content:encoded
            published_at=datetime(2024, 1, 2, 20, 0, tzinfo=UTC),  # 21:00 +0100
            comments_url="https://ana.example/2024/01/first#comments",  # <comments>
            comments_feed_url="https://ana.example/2024/01/first/comments.rss",  # wfw:commentRss
            comment_count=7,  # slash:comments
            enclosures=(Enclosure("https://cdn.ana.example/ep1.mp3", "audio/mpeg", 12345678),),
            base_url=URL,
        ),
        ParsedEntry(
            # A permalink guid doubles as the link.
            guid="https://ana.example/2024/01/second",
            other_guids=("https://ana.example/2024/01/second#causerie-8bc873d36c4b",),  # the link is its identity; parse._told_apart
            title="Second",
            link="https://ana.example/2024/01/second",
            summary="Plain words only.",
            published_at=datetime(2024, 1, 3, 8, 15, 30, tzinfo=UTC),
            enclosures=(Enclosure("https://cdn.ana.example/ep2.ogg", "audio/ogg", None),),  # length="0": unknown
            base_url=URL,
        ),
    ),
)
