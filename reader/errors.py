"""The exception tree. Expected failures are ``ReaderError``; anything else is a bug."""

from __future__ import annotations


class ReaderError(Exception):
    """Base of every error Causerie expects and reports."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self):
        # Subclasses take different constructor arguments; rebuild from the
        # instance's attributes so errors cross process boundaries intact
        # (feeds are parsed in worker processes).
        return (_rebuild, (type(self), self.__dict__.copy(), str(self)))

    def __str__(self) -> str:
        cause = self.__cause__
        if cause is not None and str(cause) and str(cause) not in self.message:
            return f"{self.message}: {cause}" if self.message else str(cause)
        return self.message


def _rebuild(cls: type, state: dict, text: str) -> ReaderError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    if text != error.__str__():
        # The cause (an expat error, a timeout) stays behind in the worker;
        # keep what it said.
        error.message = text.split(": ", 1)[1] if isinstance(error, FeedError) and ": " in text else text
    return error


class ConfigError(ReaderError, ValueError):
    pass


class NotFoundError(ReaderError):
    """Something a user asked for does not exist, or is not theirs: the same answer for both."""


class FeedError(ReaderError):
    def __init__(self, url: str, message: str = "") -> None:
        super().__init__(message)
        self.url = url

    def __str__(self) -> str:
        return f"{self.url}: {super().__str__()}"


class FeedNotFoundError(FeedError, NotFoundError):
    def __init__(self, url: str, message: str = "no such feed") -> None:
        super().__init__(url, message)


class FeedExistsError(FeedError):
    def __init__(self, url: str, message: str = "feed already exists") -> None:
        super().__init__(url, message)


class InvalidFeedURLError(FeedError, ValueError):
    pass


class FetchError(FeedError):
    """The feed could not be fetched. ``status`` is None for network errors."""

    def __init__(
        self,
        url: str,
        message: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
        connect_failed: bool = False,
    ) -> None:
        super().__init__(url, message)
        self.status = status
        # Seconds the server asked us to wait (429/503 Retry-After).
        self.retry_after = retry_after
        # No connection was made (refused, no such host, TLS handshake failed): nothing was said.
        self.connect_failed = connect_failed


class ParseError(FeedError):
    pass


class EntryNotFoundError(NotFoundError):
    def __init__(self, entry_id: int, message: str = "") -> None:
        super().__init__(message or f"no entry {entry_id}")
        self.entry_id = entry_id


class PersonNotFoundError(NotFoundError):
    pass


class GroupNotFoundError(NotFoundError):
    pass


class InvalidInputError(ReaderError, ValueError):
    """A value a user typed that cannot be taken as it is (a cursor, a channel id, a name)."""


class StorageError(ReaderError):
    pass


class OPMLError(ReaderError, ValueError):
    pass
