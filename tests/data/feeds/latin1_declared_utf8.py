from reader.models import ParsedEntry, ParsedFeed

URL = "https://flor.example/feed"
HEADERS = {"content-type": "application/rss+xml"}

# Declared UTF-8, written in Latin-1: feedparser falls back to windows-1252
# (bozo CharacterEncodingOverride). Usable, so a warning rather than an error.
EXPECTED = ParsedFeed(
    url=URL,
    title="Café Flôr",
    site_url="https://flor.example/",
    entries=(
        ParsedEntry(
            guid="https://flor.example/creme",  # no guid: the link
            other_guids=("https://flor.example/creme#causerie-4acb07c17794",),  # the link is its identity; parse._told_apart
            title="Crème brûlée",
            link="https://flor.example/creme",
            summary="Naïve “quotes”",
            base_url=URL,
        ),
    ),
    warnings=("document declared as utf-8, but parsed as windows-1252",),
)
