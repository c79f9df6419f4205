"""Work a page starts but never waits for: fetching a post's comments when its page is opened.

One worker thread per app, so a burst of page views makes at most one fetch
at a time, and a comment feed already being fetched is not asked for twice.
The fetch goes through the pipeline with the app's configuration, whose
parser processes keep the parse under its time budget; the request that
started it has long returned.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from ..config import Config
from ..store import Store

log = logging.getLogger(__name__)


class CommentRefresher:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="causerie-comments")
        self.lock = threading.Lock()
        self.pending: set[str] = set()

    def is_pending(self, url: str) -> bool:
        with self.lock:
            return url in self.pending

    def refresh(self, url: str) -> None:
        """Fetch the comment feed at ``url`` soon, unless that is already under way."""
        with self.lock:
            if url in self.pending:
                return
            self.pending.add(url)
        self.executor.submit(self._run, url)

    def _run(self, url: str) -> None:
        try:
            store = Store.open(self.config.db_path, migrate=False)
            try:
                from ..update import update_comment_feeds  # the pipeline loads only when used

                list(update_comment_feeds(store, self.config, [store.get_comment_feed(url)]))
            finally:
                store.close()
        except Exception:  # noqa: BLE001 - a thread's bug must be logged, not lost; the page shows no comments
            log.exception("fetching comments of %s failed", url)
        finally:
            with self.lock:
                self.pending.discard(url)

    def wait(self) -> None:
        """Until every refresh asked for so far has finished (for tests and shutdown)."""
        self.executor.submit(lambda: None).result()
