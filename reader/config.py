"""Settings: declared once, read from the environment once, validated there."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import ConfigError

SECRET_KEY_FILE = "secret_key"  # beside the database, when READER_SECRET_KEY is not set


def default_db_path(environ: Mapping[str, str]) -> str:
    """Where the database lives unless told otherwise (XDG data dir)."""
    data_home = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", ".")) / ".local" / "share")
    return str(Path(data_home) / "causerie" / "reader.sqlite")


@dataclass(frozen=True)
class Setting:
    env: str
    field: str
    default: object
    parse: Callable[[str], object]
    help: str


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be positive")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive integer")
    return number


def _allowed_addresses(value: str) -> tuple[str, ...]:
    """ "" (refuse every private address), "all", or "host:port,host:port"."""
    items = tuple(item.strip().lower() for item in value.split(",") if item.strip())
    if items == ("all",):
        return items
    for item in items:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r}: expected 'all' or host:port entries, e.g. 127.0.0.1:8080")
    return items


def _host_table(value: str) -> tuple[tuple[str, str], ...]:
    """ "ana.example=127.0.0.1,bo.example=::1": names answered without DNS."""
    pairs = []
    for item in value.split(","):
        if not item.strip():
            continue
        name, sep, address = item.strip().partition("=")
        if not sep or not name or not address:
            raise ValueError("expected name=address pairs, separated by commas")
        pairs.append((name.strip().lower(), address.strip()))
    return tuple(pairs)


SETTINGS = (
    Setting("READER_DB", "db_path", None, str, "SQLite database file"),
    Setting("READER_OPML", "opml_path", "feeds.opml", str, "subscriptions a new install starts from"),
    Setting("READER_FETCH_TIMEOUT", "fetch_timeout", 30.0, _positive_float, "seconds per fetch, all steps"),
    Setting("READER_MAX_FEED_BYTES", "max_feed_bytes", 10 * 2**20, _positive_int, "largest feed body"),
    Setting("READER_USER_AGENT", "user_agent", None, str, "User-Agent sent with every fetch"),
    Setting("READER_UPDATE_INTERVAL", "update_interval", 60, _positive_int, "minutes between fetches of a feed"),
    Setting("READER_FETCH_WORKERS", "fetch_workers", 32, _positive_int, "fetches in flight at once"),
    Setting("READER_FETCH_PER_HOST", "fetch_per_host", 8, _positive_int, "fetches in flight to one host"),
    Setting("READER_PARSE_WORKERS", "parse_workers", 0, _non_negative_int, "parser processes (0: in-process)"),
    Setting("READER_PARSE_TIME_BUDGET", "parse_time_budget", 10.0, _positive_float, "seconds to parse one document"),
    Setting(
        "READER_SECRET_KEY",
        "secret_key",
        None,
        str,
        "signs the web app's sessions (default: a random key kept beside the database)",
    ),
    Setting(
        "READER_TRUSTED_PROXIES",
        "trusted_proxies",
        0,
        _non_negative_int,
        "reverse proxies in front whose X-Forwarded-* headers count",
    ),
    Setting("READER_RESOLVE", "resolve", (), _host_table, "host names answered without DNS (name=address,…)"),
    Setting(
        "READER_ALLOW_PRIVATE_ADDRESSES",
        "allow_private_addresses",
        (),
        _allowed_addresses,
        "private addresses that may be fetched: 'all', or host:port,… (default: none)",
    ),
)


@dataclass(frozen=True)
class Config:
    db_path: str
    opml_path: str = "feeds.opml"
    fetch_timeout: float = 30.0
    max_feed_bytes: int = 10 * 2**20
    user_agent: str | None = None
    update_interval: int = 60
    fetch_workers: int = 32
    fetch_per_host: int = 8
    parse_workers: int = 0
    parse_time_budget: float = 10.0
    secret_key: str | None = None
    trusted_proxies: int = 0
    resolve: tuple[tuple[str, str], ...] = ()
    allow_private_addresses: tuple[str, ...] = ()
    # Where `reader serve` listens (its --host): anything but loopback requires logging in.
    listen_host: str = "127.0.0.1"


def load_config(environ: Mapping[str, str] | None = None, **overrides: object) -> Config:
    """Build the configuration from the environment; ``overrides`` (CLI flags) win."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            continue
        try:
            values[setting.field] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env}={raw!r}: {exc}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.setdefault("db_path", default_db_path(environ))
    known = {f.name for f in fields(Config)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    return Config(**values)


def secret_key(config: Config) -> str:
    """READER_SECRET_KEY, else a random key made once and kept beside the database (mode 600).

    Never a key shared between installs: with one, anyone could sign a session cookie.
    """
    if config.secret_key:
        return config.secret_key
    path = Path(config.db_path).resolve().parent / SECRET_KEY_FILE
    try:
        return path.read_text().strip() or _new_key(path)
    except FileNotFoundError:
        return _new_key(path)


def _new_key(path: Path) -> str:
    import secrets

    key = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once keep one key, the first written.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
