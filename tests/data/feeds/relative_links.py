from datetime import UTC, datetime

from reader.models import Enclosure, ParsedEntry, ParsedFeed

URL = "https://eli.example/blog/feed/atom"
HEADERS = {"content-type": "application/atom+xml"}

# No xml:base on the feed: relative references resolve against the feed's URL.
EXPECTED = ParsedFeed(
    url=URL,
    title="Eli",
    site_url="https://eli.example/blog/",  # "../"
    entries=(
        ParsedEntry(
            guid="urn:uuid:1d9a7b0c-5e2f-4c6a-8b3d-7f0e9a1c2b4d",
            title="Relative everything",
            link="https://eli.example/blog/feed/posts/1",
            author_name="Eli",
            author_url="https://eli.example/eli",
            content='<img src="img/1.png">',  # left for clean_html to resolve against base_url
            published_at=datetime(2024, 5, 1, tzinfo=UTC),
            updated_at=datetime(2024, 5, 1, tzinfo=UTC),
            comments_url="https://eli.example/blog/feed/posts/1#comments",
            comments_feed_url="https://eli.example/blog/comments/1.atom",
            enclosures=(Enclosure("https://eli.example/media/1.mp3", "audio/mpeg", 1000),),
            base_url=URL,
        ),
        ParsedEntry(
            guid="urn:uuid:2b8c6d1e-4f3a-4e5b-9c2d-8a1f0b3e4c5d",
            title="Entry with its own base",
            link="https://cdn.eli.example/mirror/2",  # the entry's xml:base wins
            content='<img src="img/2.png">',
            published_at=datetime(2024, 5, 2, tzinfo=UTC),
            updated_at=datetime(2024, 5, 2, tzinfo=UTC),
            base_url="https://cdn.eli.example/mirror/",
        ),
    ),
)
