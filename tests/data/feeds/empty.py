from reader.models import ParsedFeed

URL = "https://dee.example/feed"
HEADERS = {"content-type": "application/rss+xml"}

# A feed with no items yet is a feed: zero entries, no error, no warning.
EXPECTED = ParsedFeed(url=URL, title="Nothing yet", site_url="https://dee.example/")
