"""Settings: declared once, read from the environment once, validated there."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from .errors import ConfigError

SECRET_KEY_FILE = "secret_key"  # beside the database, when READER_SECRET_KEY is not set


def default_db_path(environ: Mapping[str, str]) -> str:
    """Where the database lives unless told otherwise (XDG data dir)."""
    data_home = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", ".")) / ".local" / "share")
    return str(Path(data_home) / "causerie" / "reader.sqlite")


def _number(kind: type, value: str, wanted: str) -> float | int:
    try:
        return kind(value.strip())
    except ValueError:
        raise ValueError(f"expected {wanted}") from None


def _positive_float(value: str) -> float:
    number = _number(float, value, "a number of seconds, e.g. 30 or 2.5")
    if not number > 0:
        raise ValueError("must be more than 0")
    return number


def _non_negative_int(value: str) -> int:
    number = _number(int, value, "a whole number, 0 or more")
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def _positive_int(value: str) -> int:
    number = _number(int, value, "a whole number, 1 or more")
    if number <= 0:
        raise ValueError("must be 1 or more")
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


def _setting(env: str, default: object, parse: Callable[[str], object], help: str, **more: object):
    """A Config field that is a setting: its variable, parser and help travel with its default.

    ``shown``: the default as the README and ``reader config`` say it, when the value itself would
    not tell (a path computed at start, a random key). ``secret``: never printed.
    """
    return field(default=default, metadata={"env": env, "parse": parse, "help": help, **more})


@dataclass(frozen=True)
class Config:
    """Every setting, declared once: name, default, type (its parser) and help. The README's table
    and ``reader config`` are made to agree with this (tests/test_config.py)."""

    db_path: str = field(
        metadata={
            "env": "READER_DB",
            "parse": str,
            "help": "database file (`--db` wins)",
            "shown": "~/.local/share/causerie/reader.sqlite",
        }
    )
    opml_path: str = _setting("READER_OPML", "feeds.opml", str, "subscriptions a new install starts from")
    update_interval: int = _setting(
        "READER_UPDATE_INTERVAL", 60, _positive_int, "minutes between two fetches of a feed (at least 10)"
    )
    fetch_timeout: float = _setting(
        "READER_FETCH_TIMEOUT", 30.0, _positive_float, "seconds for one fetch, everything included"
    )
    max_feed_bytes: int = _setting("READER_MAX_FEED_BYTES", 10 * 2**20, _positive_int, "largest feed body")
    fetch_workers: int = _setting("READER_FETCH_WORKERS", 32, _positive_int, "fetches in flight at once")
    fetch_per_host: int = _setting("READER_FETCH_PER_HOST", 8, _positive_int, "fetches in flight to one host")
    user_agent: str | None = _setting(
        "READER_USER_AGENT", None, str, "User-Agent header", shown="Causerie/VERSION (+URL; feed reader)"
    )
    parse_workers: int = _setting("READER_PARSE_WORKERS", 0, _non_negative_int, "parser processes (0: in this process)")
    parse_time_budget: float = _setting(
        "READER_PARSE_TIME_BUDGET", 10.0, _positive_float, "seconds to parse one document"
    )
    secret_key: str | None = _setting(
        "READER_SECRET_KEY",
        None,
        str,
        "signs the web app's session cookies",
        shown="a random key kept in `secret_key` beside the database",
        secret=True,
    )
    trusted_proxies: int = _setting(
        "READER_TRUSTED_PROXIES", 0, _non_negative_int, "reverse proxies in front whose X-Forwarded-* headers count"
    )
    allow_private_addresses: tuple[str, ...] = _setting(
        "READER_ALLOW_PRIVATE_ADDRESSES",
        (),
        _allowed_addresses,
        "private addresses that may be fetched: 'all', or host:port,…",
        shown="empty",
    )
    resolve: tuple[tuple[str, str], ...] = _setting(
        "READER_RESOLVE", (), _host_table, "host names answered without DNS (name=address,…)", shown="none"
    )
    config_file: str | None = _setting(
        "READER_CONFIG", None, str, "a settings file (TOML) read before the environment", shown="none"
    )
    # Where `reader serve` listens (its --host), not a setting: anything but loopback requires logging in.
    listen_host: str = "127.0.0.1"


@dataclass(frozen=True)
class Setting:
    env: str
    field: str
    default: object
    parse: Callable[[str], object]
    help: str
    shown_default: str
    secret: bool = False

    @property
    def file_key(self) -> str:
        """Its name in a settings file: READER_UPDATE_INTERVAL is update_interval."""
        return self.env.removeprefix("READER_").lower()


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join("=".join(item) if isinstance(item, tuple) else str(item) for item in value) or "empty"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


SETTINGS = tuple(
    Setting(
        env=f.metadata["env"],
        field=f.name,
        default=None if f.default is MISSING else f.default,
        parse=f.metadata["parse"],
        help=f.metadata["help"],
        shown_default=f.metadata.get("shown") or _shown(f.default),
        secret=f.metadata.get("secret", False),
    )
    for f in fields(Config)
    if "env" in f.metadata
)
_BY_FILE_KEY = {setting.file_key: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Effective:
    """One setting as it ended up, and where from: default, file, environment or flag."""

    setting: Setting
    value: object
    source: str

    @property
    def shown(self) -> str:
        if self.setting.secret and self.value is not None:
            return "******** (set)"
        if self.source == "default" and self.value in (None, ()):
            return self.setting.shown_default
        return _shown(self.value)


def load_config(environ: Mapping[str, str] | None = None, **overrides: object) -> Config:
    """Build the configuration: defaults, then the settings file, then the environment, then
    ``overrides`` (CLI flags). A bad value anywhere is a ConfigError naming it."""
    config, _ = load_config_with_sources(environ, **overrides)
    return config


def load_config_with_sources(
    environ: Mapping[str, str] | None = None, **overrides: object
) -> tuple[Config, list[Effective]]:
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    file_path = overrides.get("config_file") or environ.get("READER_CONFIG") or None
    if file_path:
        for setting, raw in _read_settings_file(str(file_path)):
            values[setting.field] = _parse(setting, raw, f"{file_path}: {setting.file_key}")
            sources[setting.field] = "file"
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            continue
        values[setting.field] = _parse(setting, raw, setting.env)
        sources[setting.field] = "environment"
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
            sources[name] = "flag"
    values.setdefault("db_path", default_db_path(environ))
    known = {f.name for f in fields(Config)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    config = Config(**values)
    effective = [
        Effective(setting, getattr(config, setting.field), sources.get(setting.field, "default"))
        for setting in SETTINGS
    ]
    return config, effective


def _parse(setting: Setting, raw: str, where: str) -> object:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{where}={raw!r}: {exc}") from exc


def _read_settings_file(path: str) -> list[tuple[Setting, str]]:
    """``key = value`` lines of TOML, keys being the variables' names without READER_, in lower case."""
    import tomllib

    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError as exc:
        raise ConfigError(f"settings file {path} does not exist (READER_CONFIG / --config)") from exc
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"settings file {path}: {exc}") from exc
    found = []
    for key, value in document.items():
        setting = _BY_FILE_KEY.get(key)
        if setting is None or setting.env == "READER_CONFIG":
            known = ", ".join(sorted(k for k in _BY_FILE_KEY if k != "config"))
            raise ConfigError(f"settings file {path}: unknown setting {key!r} (known: {known})")
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = ",".join(value)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"settings file {path}: {key} must be a string or a number")
        found.append((setting, str(value)))
    return found


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
