"""The ``reader`` console script."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path

import click

from .collation import listing_key
from .config import Config, load_config_with_sources
from .errors import ReaderError
from .models import UpdateResult
from .opml import read_opml, write_opml
from .store import LOCAL_USER, Store, UserStore

# Each command imports what it uses: the fetch pipeline (aiohttp, feedparser: ~20 MB) in the commands
# that fetch, the web app (Flask, Jinja) in `serve` only. `reader serve`, which lives for months, then
# never carries the pipeline, and serve's refresh loop's `reader fetch` never the web app
# (docs/design.md, "Memory"; tests/test_layers.py holds both to it).


def _config(ctx: click.Context) -> Config:
    return ctx.obj["config"]


def _store_of(ctx: click.Context, user_name: str | None) -> UserStore:
    """The store of the account ``user_name`` (``UserNotFoundError`` if none), else the local user's."""
    store = _store(ctx)
    return store if user_name is None else store.for_user(store.get_user_by_name(user_name).id)


_USER_OPTION = click.option(
    "--user", "user_name", metavar="NAME", help="the account to act for (default: the first account)"
)


def _store(ctx: click.Context) -> UserStore:
    """The local user's store: the CLI acts for the single user of an install without accounts."""
    if "store" not in ctx.obj:
        ctx.obj["store"] = Store.open(_config(ctx).db_path).for_user(LOCAL_USER)
        ctx.call_on_close(ctx.obj["store"].close)
    return ctx.obj["store"]


class _Group(click.Group):
    """Expected errors become one line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ReaderError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.option("--db", "db_path", metavar="PATH", help="database file (default: $READER_DB, else the XDG data dir)")
@click.option("--config", "config_file", metavar="FILE", help="settings file (TOML; default: $READER_CONFIG)")
@click.option("-v", "--verbose", count=True, help="log each feed's update (-v), or everything (-vv)")
@click.version_option(package_name="causerie")
@click.pass_context
def main(ctx: click.Context, db_path: str | None, config_file: str | None, verbose: int) -> None:
    """Causerie: follow people through their feeds, in order, and reply to them."""
    # Quiet by default: the commands report what happened themselves (fetch ends
    # with every error); -v shows the one-line-per-feed log, -vv everything.
    level = {0: logging.CRITICAL, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config, effective = load_config_with_sources(db_path=db_path, config_file=config_file)
    except ReaderError as exc:
        raise click.UsageError(str(exc)) from exc
    ctx.obj = {"config": config, "effective": effective}


@main.command("import")
@click.argument("file", type=click.File("rb"))
@_USER_OPTION
@click.pass_context
def import_(ctx: click.Context, file, user_name: str | None) -> None:
    """Subscribe to every feed in an OPML FILE ("-" reads stdin), or merge a JSON export. All or nothing."""
    from .userdata import import_user_data, looks_like_user_data

    data = file.read()
    if looks_like_user_data(data):
        report = import_user_data(_store_of(ctx, user_name), data)
        click.echo(
            f"imported {report.people_added} people ({report.people_matched} already here),"
            f" {report.feeds_added} feeds, {report.channels_added} ways to reach them, {report.mutes_added} mutes,"
            f" {report.states_set} read or saved marks, {report.conversations_added} conversations"
            f" ({report.entries_added} posts kept from the file until their feeds are fetched)"
        )
        return
    document = read_opml(data)
    report = _store_of(ctx, user_name).add_feeds(document.sources)
    click.echo(
        f"imported {report.added} feeds into {report.groups} new groups"
        f" ({report.existing} already followed, {document.duplicates} duplicates merged)"
    )
    for note in document.notes:
        click.echo(f"  {note}")
    if document.skipped:
        click.echo(f"skipped {len(document.skipped)} outlines:")
        for reason in document.skipped:
            click.echo(f"  {reason}")


@main.command()
@click.option("-o", "--output", type=click.File("wb"), default="-", help="file to write (default stdout)")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["opml", "json"]),
    default="opml",
    show_default=True,
    help="opml: the subscriptions, for any reader; json: everything of yours, for another Causerie",
)
@_USER_OPTION
@click.pass_context
def export(ctx: click.Context, output, format_: str, user_name: str | None) -> None:
    """Write the subscriptions as OPML 2.0 (groups as folders), or all your data as JSON."""
    store = _store_of(ctx, user_name)
    if format_ == "json":
        from .userdata import write_user_data

        output.write(write_user_data(store))
        return
    output.write(write_opml(store.list_subscriptions()))


@main.command()
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, file: Path) -> None:
    """Copy the database to FILE while it is in use (SQLite's online backup): whole, checked, or nothing.

    FILE may be a directory: the copy is then named causerie-YYYYMMDD-HHMMSS.sqlite inside it.
    """
    from .store import backup_database

    report = backup_database(_config(ctx).db_path, file)
    click.echo(
        f"backed up {_counted(report.counts)} to {report.path}"
        f" ({report.size / 2**20:.1f} MB, integrity ok, {report.seconds:.1f} s)"
    )


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def restore(ctx: click.Context, file: Path) -> None:
    """Replace the database with the backup FILE. Refused while reader serve or any command uses it.

    The database it replaces is kept beside it as <db>.before-restore.
    """
    from .store import restore

    report = restore(file, _config(ctx).db_path)
    click.echo(f"restored {_counted(report.counts)} from {file} into {report.path}")
    if report.kept is not None:
        click.echo(f"the database it replaced is kept as {report.kept}")


_ONE = {"users": "user", "feeds": "feed", "entries": "entry", "people": "person", "subscriptions": "subscription"}


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {_ONE.get(table, table) if n == 1 else table}" for table, n in counts.items())


@main.command()
@click.argument("url")
@click.option("--group", "group", help="file it under this group; nest with '/', e.g. 'Friends/Poets'")
@click.option("--title", help="your name for this feed")
@click.option("--no-fetch", is_flag=True, help="subscribe only; fetch with the next 'reader fetch'")
@click.pass_context
def add(ctx: click.Context, url: str, group: str | None, title: str | None, no_fetch: bool) -> None:
    """Follow a feed, given its URL or the URL of a web page that announces it."""
    store = _store(ctx)
    path = tuple(part.strip() for part in group.split("/") if part.strip()) if group else ()
    from .reach import find_channels
    from .subscribe import fetch_new_subscription, subscribe

    sub, found = subscribe(store, _config(ctx), url, group_path=path, title=title)
    click.echo(f"subscribed to {found.url} ({found.how})")
    if found.note:
        click.echo(f"  {found.note}")
    for other in found.alternatives:
        click.echo(f"  the page also offers {other}")
    if not no_fetch:
        click.echo(_describe(fetch_new_subscription(store, _config(ctx), sub, found)))
        report = find_channels(store, _config(ctx), sub.person_id)
        click.echo(_describe_reach(report))


@main.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Show the subscriptions: person, feed, group and fetch state."""
    subs = _store(ctx).list_subscriptions()
    if not subs:
        click.echo("no subscriptions yet: try 'reader import feeds.opml' or 'reader add URL'")
        return
    for sub in sorted(subs, key=lambda s: listing_key(s.group_path, s.person_name)):
        feed = sub.feed
        state = feed.status if not feed.last_error else f"{feed.status}: {feed.last_error}"
        group = "/".join(sub.group_path) or "-"
        click.echo(f"{sub.person_name}  [{group}]  {feed.url}  {state}")
    click.echo(f"{len(subs)} feeds")


@main.command()
@click.argument("url")
@click.pass_context
def remove(ctx: click.Context, url: str) -> None:
    """Unfollow the feed at URL (its entries go once nobody follows it)."""
    _store(ctx).remove_feed(url)
    click.echo(f"removed {url}")


@main.command()
@click.argument("urls", nargs=-1)
@click.option("--due", is_flag=True, help="only feeds whose next fetch time has come (for cron or a timer)")
@click.pass_context
def fetch(ctx: click.Context, urls: tuple[str, ...], due: bool) -> None:
    """Fetch followed feeds now (or only the URLS given, whatever their state).

    One fetcher at a time on a database: when another holds the fetch lease (``reader serve``'s
    background fetch, a timer), a plain or --due fetch stands aside; naming URLS fetches them anyway,
    like the web page's "refresh" button.
    """
    from .background import FetchLease, LeaseHeld

    if urls:
        _fetch(ctx, urls, due)
        return
    try:
        with FetchLease(_config(ctx).db_path):
            _fetch(ctx, urls, due)
    except LeaseHeld as exc:
        click.echo(f"skipped: {exc}")
        # From a timer, overlapping a running fetch is normal, not a failure; asked by hand, it is one.
        ctx.exit(0 if due else 1)


def _fetch(ctx: click.Context, urls: tuple[str, ...], due: bool) -> None:
    from .reach import find_channels_after_fetch
    from .update import select_feeds, update_comment_feeds, update_feeds, utc_now

    store = _store(ctx)
    feeds = select_feeds(store, utc_now(), due_only=due, urls=urls or None)
    results: list[UpdateResult] = []
    updates = update_feeds(store, _config(ctx), feeds)
    if sys.stderr.isatty() and len(feeds) > 1:
        with click.progressbar(updates, length=len(feeds), label="fetching", file=sys.stderr) as bar:
            results.extend(bar)
    else:
        results.extend(updates)
    click.echo(_summary(results))
    for result in results:
        if result.error:
            click.echo(f"  {result.url}: {result.error}")
    # Watched threads whose comment feed is due.
    threads = store.list_comment_feeds_to_fetch(utc_now()) if not urls else []
    if threads:
        checked = list(update_comment_feeds(store, _config(ctx), threads))
        new_comments = sum(result.new for result in checked)
        click.echo(f"{len(checked)} watched threads checked: {new_comments} new comments")
    # New feeds: look for ways to reach the people who write them.
    reports = find_channels_after_fetch(store, _config(ctx), feeds, results)
    if reports:
        found = sum(report.new for report in reports)
        click.echo(f"looked for ways to reach {len(reports)} new people: {found} found")


@main.command("config")
@click.pass_context
def config_(ctx: click.Context) -> None:
    """Print the settings in effect, where each comes from, secrets masked."""
    effective = ctx.obj["effective"]
    width = max(len(item.setting.env) for item in effective)
    for item in effective:
        click.echo(f"{item.setting.env:<{width}}  {item.shown}  ({item.source})")


@main.group()
def user() -> None:
    """Accounts: with one, the web reader asks to log in, and can be served beyond loopback."""


def _password(name: str) -> str:
    """From READER_PASSWORD when set (scripts, containers), else asked twice on the terminal."""
    import os

    from .passwords import check_password

    password = os.environ.get("READER_PASSWORD")
    if password is None:
        password = click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    check_password(password)
    return password


@user.command("add")
@click.argument("name")
@click.pass_context
def user_add(ctx: click.Context, name: str) -> None:
    """Create an account. The first one takes over what the reader already has."""
    from .passwords import hash_password

    store = _store(ctx)
    first = not store.has_accounts()
    account = store.add_user(name, hash_password(_password(name)))
    if first and account.id == LOCAL_USER:
        click.echo(f"created {account.name}: the subscriptions, people and reading state so far are theirs")
    else:
        click.echo(f"created {account.name}")


@user.command("password")
@click.argument("name")
@click.pass_context
def user_password(ctx: click.Context, name: str) -> None:
    """Set a new password (it logs that account out everywhere)."""
    from .passwords import hash_password

    store = _store(ctx)
    account = store.get_user_by_name(name)
    store.set_password_hash(account.id, hash_password(_password(account.name)))
    click.echo(f"new password for {account.name}")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """The accounts."""
    accounts = [account for account in _store(ctx).list_users() if account.has_password]
    if not accounts:
        click.echo("no accounts: the reader serves only 127.0.0.1, without a login ('reader user add NAME')")
    for account in accounts:
        click.echo(f"{account.name}  (since {account.created_at:%Y-%m-%d})")


@user.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask")
@click.pass_context
def user_remove(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete an account and everything that is theirs (people, notes, conversations, reading state)."""
    store = _store(ctx)
    account = store.get_user_by_name(name)
    if not yes:
        click.confirm(f"delete {account.name} and everything that is theirs?", abort=True)
    store.remove_user(account.id)
    click.echo(f"removed {account.name}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-fetch", is_flag=True, help="serve only: this process fetches no feed")
@click.option("--threads", default=4, show_default=True, type=int, help="request threads")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, no_fetch: bool, threads: int) -> None:
    """Serve the reader in a browser (production WSGI server, waitress).

    A new database starts from the subscriptions in READER_OPML (feeds.opml).
    Unless --no-fetch, feeds are fetched in the background as they fall due.
    """
    import waitress

    from .web import create_app

    if logging.getLogger().level > logging.WARNING:
        logging.getLogger().setLevel(logging.WARNING)  # a server logs its warnings
    from dataclasses import replace

    from .web.auth import serves_only_this_machine

    config = replace(_config(ctx), listen_host=host)
    store = _store(ctx)
    if not serves_only_this_machine(config) and not store.has_accounts():
        where = "serving behind a proxy (READER_TRUSTED_PROXIES)" if config.trusted_proxies else f"serving on {host}"
        raise click.UsageError(
            f"{where} needs an account, so that a login is asked for: create one with"
            " 'reader user add NAME' first (127.0.0.1 without a proxy needs none)"
        )
    if not store.list_subscriptions() and Path(config.opml_path).is_file():
        report = store.add_feeds(read_opml(Path(config.opml_path).read_bytes()).sources)
        click.echo(f"new database: imported {report.added} feeds from {config.opml_path}")
    if not no_fetch:
        from .background import RefreshLoop

        RefreshLoop(config).start()
    click.echo(f"Causerie on http://{host}:{port}/ (Ctrl-C stops)")
    waitress.serve(
        create_app(config),
        host=host,
        port=port,
        threads=threads,
        ident="Causerie",
        # waitress drops X-Forwarded-* unless told to keep them; ProxyFix (web/__init__) then
        # trusts exactly READER_TRUSTED_PROXIES hops of them, and none when it is 0.
        clear_untrusted_proxy_headers=not config.trusted_proxies,
    )


def _summary(results: list[UpdateResult]) -> str:
    count = Counter(r.status for r in results)
    new = sum(r.new for r in results)
    updated = sum(r.updated for r in results)
    return (
        f"{len(results)} feeds: {count['ok']} fetched, {count['not_modified'] + count['unchanged']} unchanged,"
        f" {count['error'] + count['gone']} errors; {new} new entries, {updated} updated"
    )


def _describe_reach(report) -> str:
    ways = ", ".join(f"{channel.kind} {channel.value}" for channel in report.found) or "none"
    text = f"ways to reach them: {ways}"
    return "\n".join([text, *(f"  note: {note}" for note in report.notes)])


def _describe(result: UpdateResult) -> str:
    if result.error:
        return f"{result.url}: {result.status}: {result.error}"
    return f"{result.url}: {result.status}, {result.new} new entries"


if __name__ == "__main__":
    main()
