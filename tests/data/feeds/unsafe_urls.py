from reader.models import Enclosure, ParsedEntry, ParsedFeed

URL = "https://ivo.example/feed"
HEADERS = {"content-type": "application/rss+xml"}

# javascript:, data: and file: URLs never come out: links, comment URLs and
# enclosures that are not http(s) are dropped.
EXPECTED = ParsedFeed(
    url=URL,
    title="Ivo",
    site_url=None,
    entries=(
        ParsedEntry(
            guid="ivo-1",
            title="Script links",
            link=None,
            comments_url=None,
            comments_feed_url=None,
            enclosures=(Enclosure("https://ivo.example/ok.mp3", "audio/mpeg", 10),),
            base_url=URL,
        ),
        ParsedEntry(
            # Neither a guid nor a usable link: a content hash is the identity.
            guid="hash:d518db049a6e5b44b2ff939353862572",
            title="Data link, no guid",
            link=None,
            comments_url=None,
            base_url=URL,
        ),
    ),
)
