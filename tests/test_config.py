"""Settings: declared once, agreeing with the README, read from a file and the environment, printed masked."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reader.cli import main
from reader.config import SETTINGS, Config, load_config, load_config_with_sources
from reader.errors import ConfigError
from reader.fetch import FetchSettings

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_settings() -> dict[str, str]:
    """The README's settings table: variable → default, as written."""
    text = README.read_text()
    table = text[text.index("| variable | default | meaning |") :].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1].strip("`")
    return rows


def test_the_readme_table_and_the_declarations_agree():
    rows = readme_settings()
    assert set(rows) == {setting.env for setting in SETTINGS}
    for setting in SETTINGS:
        assert rows[setting.env] == setting.shown_default, setting.env


def test_the_readme_check_can_fail():
    # The parser above reads every row: a table it could not read would pass everything.
    rows = readme_settings()
    assert len(rows) == len(SETTINGS) >= 15 and rows["READER_UPDATE_INTERVAL"] == "60"


def test_each_default_is_written_once():
    assert FetchSettings().timeout == Config.fetch_timeout
    assert FetchSettings().max_bytes == Config.max_feed_bytes
    assert (FetchSettings().workers, FetchSettings().per_host) == (Config.fetch_workers, Config.fetch_per_host)
    assert load_config({"HOME": "/home/zoé"}) == Config(db_path="/home/zoé/.local/share/causerie/reader.sqlite")


def test_file_then_environment_then_flags(tmp_path):
    path = tmp_path / "causerie.toml"
    path.write_text(
        'db = "/srv/café/reader.sqlite"\nupdate_interval = 30\nfetch_timeout = 12.5\n'
        'allow_private_addresses = ["192.168.1.20:8080", "[::1]:8000"]\nopml = "abonnements « amis ».opml"\n'
    )
    environ = {"READER_CONFIG": str(path), "READER_UPDATE_INTERVAL": "45"}
    config, effective = load_config_with_sources(environ)
    assert config.db_path == "/srv/café/reader.sqlite" and config.fetch_timeout == 12.5
    assert config.update_interval == 45  # the environment wins over the file
    assert config.allow_private_addresses == ("192.168.1.20:8080", "[::1]:8000")
    assert config.opml_path == "abonnements « amis ».opml"
    sources = {item.setting.env: item.source for item in effective}
    assert sources["READER_DB"] == "file" and sources["READER_UPDATE_INTERVAL"] == "environment"
    assert sources["READER_PARSE_WORKERS"] == "default"
    flagged = load_config(environ, db_path="/tmp/x.sqlite")
    assert flagged.db_path == "/tmp/x.sqlite"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("update_intervall = 30\n", "unknown setting 'update_intervall'"),
        ("update_interval = 0\n", "update_interval='0': must be 1 or more"),
        ("update_interval = 'souvent'\n", "expected a whole number"),
        ("trusted_proxies = true\n", "trusted_proxies must be a string or a number"),
        ("[reader]\ndb = 'x'\n", "unknown setting 'reader'"),
        ("db = \n", "settings file"),
        ("config = 'other.toml'\n", "unknown setting 'config'"),
    ],
)
def test_a_bad_settings_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "causerie.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config({"READER_CONFIG": str(path)})


def test_a_missing_settings_file_is_an_error_not_silence(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config({"READER_CONFIG": str(tmp_path / "absent.toml")})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("READER_UPDATE_INTERVAL", "abc", "expected a whole number, 1 or more"),
        ("READER_FETCH_TIMEOUT", "-1", "must be more than 0"),
        ("READER_FETCH_TIMEOUT", "trente", "expected a number of seconds"),
        ("READER_PARSE_WORKERS", "-2", "must be 0 or more"),
        ("READER_ALLOW_PRIVATE_ADDRESSES", "10.0.0.1", "expected 'all' or host:port"),
        ("READER_RESOLVE", "ana.example", "expected name=address pairs"),
    ],
)
def test_a_bad_value_in_the_environment_stops_every_command(tmp_path, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "r.sqlite"), "list"])
    assert result.exit_code == 2 and name in result.output and message in result.output


def test_reader_config_prints_the_settings_in_effect_with_secrets_masked(tmp_path, monkeypatch):
    path = tmp_path / "causerie.toml"
    path.write_text('secret_key = "ne-le-dis-à-personne"\nfetch_workers = 4\n')
    monkeypatch.setenv("READER_TRUSTED_PROXIES", "1")
    for setting in SETTINGS:
        if setting.env != "READER_TRUSTED_PROXIES":
            monkeypatch.delenv(setting.env, raising=False)
    result = CliRunner().invoke(main, ["--config", str(path), "--db", str(tmp_path / "r.sqlite"), "config"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert set(lines) == {setting.env for setting in SETTINGS}
    assert "ne-le-dis" not in result.output and "******** (set)  (file)" in lines["READER_SECRET_KEY"]
    assert lines["READER_FETCH_WORKERS"].split()[1:] == ["4", "(file)"]
    assert lines["READER_TRUSTED_PROXIES"].split()[1:] == ["1", "(environment)"]
    assert lines["READER_DB"].split()[1:] == [str(tmp_path / "r.sqlite"), "(flag)"]
    assert lines["READER_CONFIG"].split()[1:] == [str(path), "(flag)"]
    assert "(default)" in lines["READER_PARSE_WORKERS"]
