from datetime import UTC, datetime

from reader.models import ParsedEntry, ParsedFeed

URL = "https://ivo.example/feed.atom"
HEADERS = {"content-type": "application/atom+xml"}

EXPECTED = ParsedFeed(
    url=URL,
    title="Ivo (Atom)",
    site_url=None,
    entries=(
        ParsedEntry(
            guid="tag:ivo.example,2024:1",
            title="Unsafe everywhere",
            link=None,
            author_name="Ivo",
            author_url=None,
            published_at=datetime(2024, 6, 1, tzinfo=UTC),
            updated_at=datetime(2024, 6, 1, tzinfo=UTC),
            comments_url=None,
            comments_feed_url=None,
            enclosures=(),
            base_url=URL,
        ),
    ),
)
