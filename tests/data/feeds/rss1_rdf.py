from datetime import UTC, datetime

from reader.models import ParsedEntry, ParsedFeed

URL = "https://cai.example/index.rdf"
HEADERS = {"content-type": "application/rdf+xml"}

EXPECTED = ParsedFeed(
    url=URL,
    title="Cai's log",
    site_url="https://cai.example/",
    author_name="Cai Moreno",  # dc:creator of the channel
    entries=(
        ParsedEntry(
            guid="https://cai.example/log/1",  # rdf:about
            other_guids=("https://cai.example/log/1#causerie-31564ea79e0a",),  # the link is its identity; parse._told_apart
            title="One",
            link="https://cai.example/log/1",
            author_name="Cai Moreno",
            summary="First <i>entry</i>",
            # dc:date is the only date RSS 1.0 has; it fills both.
            published_at=datetime(2024, 4, 4, 21, 7, 8, tzinfo=UTC),  # 06:07:08+09:00
            updated_at=datetime(2024, 4, 4, 21, 7, 8, tzinfo=UTC),
            base_url=URL,
        ),
        ParsedEntry(
            guid="https://cai.example/log/2",  # rdf:about, not the link
            title="Two",
            link="https://cai.example/log/2?from=rss",
            content="<p>Second</p>",
            published_at=datetime(2024, 4, 6, tzinfo=UTC),  # a bare date is midnight UTC
            updated_at=datetime(2024, 4, 6, tzinfo=UTC),
            base_url=URL,
        ),
    ),
)
