from datetime import UTC, datetime

from reader.models import ParsedEntry, ParsedFeed

URL = "https://gil.example/feed"
HEADERS = {"content-type": "application/rss+xml"}

# Items with neither guid nor link: identity is a hash of what they say and when.
EXPECTED = ParsedFeed(
    url=URL,
    title="Gil's status",
    site_url="https://gil.example/",
    entries=(
        ParsedEntry(
            guid="hash:485fb7581b35a641fa4f5e61558844df",
            summary="Coffee, then the bus.",
            published_at=datetime(2024, 5, 6, 7, 0, tzinfo=UTC),
            base_url=URL,
        ),
        ParsedEntry(
            guid="hash:0c6195df19fd0d41b7f2f7aad4caf9cd",
            title="Lunch",
            summary="Soup.",
            published_at=datetime(2024, 5, 6, 12, 30, tzinfo=UTC),
            base_url=URL,
        ),
    ),
)
