from reader.models import ParsedEntry, ParsedFeed

URL = "https://hana.example/feed"
HEADERS = {"content-type": "application/rss+xml"}

# The same guid twice in one document: the first (newest) copy is kept.
EXPECTED = ParsedFeed(
    url=URL,
    title="Hana",
    site_url="https://hana.example/",
    entries=(
        ParsedEntry(
            guid="post-1",
            title="The newer copy",
            link="https://hana.example/p/1",
            base_url="https://hana.example/p/1",
        ),
        ParsedEntry(
            guid="post-2",
            title="Another post",
            link="https://hana.example/p/2",
            base_url="https://hana.example/p/2",
        ),
    ),
)
