"""Fakes for the network boundary, used above the fetcher (update, CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reader.errors import FetchError, ReaderError
from reader.fetch import FetchRequest, FetchSettings
from reader.models import FetchResult


@dataclass
class FakeFetch:
    """Maps URL → bytes, a FetchResult, or an exception; records every request.

    Has the shape of ``reader.fetch.fetch_all``. A URL it does not know is a 404.
    """

    responses: dict[str, object] = field(default_factory=dict)
    calls: list[FetchRequest] = field(default_factory=list)

    def __call__(self, requests, settings: FetchSettings):
        for request in requests:
            self.calls.append(request)
            yield request, self._answer(request)

    def _answer(self, request: FetchRequest):
        response = self.responses.get(request.url)
        if response is None:
            return FetchError(request.url, "HTTP 404 Not Found", status=404)
        if isinstance(response, Exception):
            if not isinstance(response, ReaderError):
                raise response  # an unexpected error: a bug, which must propagate
            return response
        if isinstance(response, FetchResult):
            return response
        if isinstance(response, str):
            response = response.encode()
        etag = f'"{hash(response) & 0xFFFFFFFF:x}"'
        if request.etag == etag:
            return FetchResult(request.url, request.url, "not_modified", 304, etag=etag)
        return FetchResult(
            request.url,
            request.url,
            "ok",
            200,
            content=response,
            headers={"content-type": "application/xml"},
            etag=etag,
        )


def rss(*items: tuple[str, str], title: str = "A blog", author: str | None = None) -> str:
    """A small RSS 2.0 document; items are (guid, title) with a description derived from them."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{name}</title>"
        f"<link>https://blog.example/{guid}</link><description>&lt;p&gt;About {name}&lt;/p&gt;</description>"
        f"<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>"
        for guid, name in items
    )
    managing = f"<managingEditor>{author}</managingEditor>" if author else ""
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>"
        f"<link>https://blog.example/</link>{managing}{body}</channel></rss>"
    )
