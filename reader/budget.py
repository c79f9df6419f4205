"""A time budget for work on untrusted documents (parsing a feed, reading a home page).

feedparser and html.parser are pure Python, so a SIGALRM handler gets to run
between their callbacks and stop a document that takes too long. Signals
reach only a process's main thread: the pipeline runs this work either in
the main thread (the CLI) or in parser processes (the web app, where request
threads could not be interrupted), so the budget always holds.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ParseError

TIME_BUDGET = 10.0  # seconds; a document that needs more is that document's error


class _OutOfTime(BaseException):
    """Raised by the alarm. A BaseException because feedparser catches Exception
    from its strict parser and carries on with its lenient one, which would
    swallow the interruption and let the parse run on past its budget."""


def can_enforce() -> bool:
    """Whether a budget started here would be enforced (only in a main thread)."""
    return threading.current_thread() is threading.main_thread()


@contextmanager
def time_budget(seconds: float, url: str) -> Iterator[None]:
    """Raise ``ParseError`` for ``url`` if the block runs longer than ``seconds``.

    Nested budgets keep the outer one: the pipeline gives every prepare step a
    budget, and ``parse_feed`` asks for one of its own when called directly.
    """
    if seconds <= 0 or not can_enforce() or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return

    def on_alarm(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _OutOfTime as exc:
        raise ParseError(url, f"reading the document took longer than {seconds:g} s") from exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
