from datetime import UTC, datetime

from reader.models import ParsedEntry, ParsedFeed

URL = "https://lu.example/feed.json"
HEADERS = {"content-type": "application/feed+json"}

# JSON Feed goes to reader.jsonfeed; the shared rules (caps, repairs) still apply.
EXPECTED = ParsedFeed(
    url=URL,
    title="Lu's JSON",
    site_url="https://lu.example/",
    author_name="Lu",
    entries=(
        ParsedEntry(
            guid="lu-1",
            title="Hello from JSON",
            link="https://lu.example/posts/1",
            author_name="Lu",
            content="<p>Hi</p>",
            published_at=datetime(2024, 8, 1, 8, 0, tzinfo=UTC),  # 10:00+02:00
            base_url="https://lu.example/posts/1",
        ),
    ),
)
