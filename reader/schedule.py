"""When to fetch a feed next: the user's interval, stretched by what the feed and its server say.

A server may say how long its answer stays fresh (``Cache-Control: max-age``, ``Expires``); a feed
may say how often it changes (RSS ``<ttl>``, ``sy:updatePeriod``/``sy:updateFrequency``). Causerie
waits for the longest of these and its own interval, within fixed bounds: never again within ten
minutes (however eager the hint or the setting), never more than a day (a feed that claims to change
yearly is still read daily). A hint can only slow polling down: a server that asks for a fetch every
minute gets the user's interval.

Then a spread of up to a tenth of the delay, so that 1,000 feeds imported together, fetched
together, do not all fall due together again: an hour becomes 60 to 66 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

MIN_DELAY = timedelta(minutes=10)
MAX_DELAY = timedelta(hours=24)
SPREAD = 0.1  # of the delay

# sy:updatePeriod, in minutes (the Syndication module for RSS 1.0, used by many RSS 2.0 feeds too)
_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}


def document_hint_minutes(ttl: object, period: object, frequency: object) -> int | None:
    """Minutes between changes by the feed's own word: the longer of <ttl> and period/frequency.

    Nonsense (a negative ttl, "fortnightly", a frequency of zero) is no hint rather than an error.
    """
    hints = []
    ttl_minutes = _positive_int(ttl)
    if ttl_minutes is not None:
        hints.append(ttl_minutes)
    if period is not None or frequency is not None:
        minutes = _PERIOD_MINUTES.get(str(period or "daily").strip().lower())
        times = _positive_int(frequency) if frequency is not None else 1
        if minutes is not None and times is not None:
            hints.append(max(1, minutes // times))
    return max(hints) if hints else None


def response_hint(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """How long the server says its answer stays fresh: max-age, else Expires (against its Date).

    ``no-cache``/``no-store`` say nothing about how often to ask again, only how to keep the answer:
    they are no hint. Headers are lower-cased names, as the fetcher gives them.
    """
    directives = _cache_control(headers.get("cache-control", ""))
    if "max-age" in directives:
        seconds = _positive_int(directives["max-age"])
        return timedelta(seconds=seconds) if seconds is not None else None
    expires = _http_date(headers.get("expires"))
    if expires is None:
        return None
    served_at = _http_date(headers.get("date")) or now
    fresh_for = expires - served_at
    return fresh_for if fresh_for > timedelta(0) else None


def next_fetch_time(
    now: datetime,
    interval: timedelta,
    *,
    response: timedelta | None = None,
    document_minutes: int | None = None,
    spread: float = 0.0,
) -> datetime:
    """``now`` plus the longest of the interval and the hints, within bounds, plus ``spread`` (0 ≤ s < 1)
    of the allowed spread. At the one-day ceiling the spread goes below it instead of above."""
    delay = max(interval, response or timedelta(0), timedelta(minutes=document_minutes or 0))
    delay = min(max(delay, MIN_DELAY), MAX_DELAY)
    extra = delay * (SPREAD * spread)
    if delay + extra > MAX_DELAY:
        return now + MAX_DELAY - extra
    return now + delay + extra


def _positive_int(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _cache_control(value: str) -> dict[str, str]:
    directives = {}
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = argument.strip().strip('"')
    return directives


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None
