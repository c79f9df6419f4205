"""The Flask application: factory, error mapping, security headers and template filters.

One blueprint a module (``timeline``, ``people``, ``subscriptions``); what
they share is in ``pages``. HTTP status codes are decided here only, from the
domain errors, which carry none.
"""

from __future__ import annotations

import functools
import gc
import logging
import weakref
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, g, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ..channels import display_value
from ..config import Config, load_config, secret_key
from ..errors import FeedExistsError, InvalidFeedURLError, InvalidInputError, NotFoundError, OPMLError, StorageError
from ..models import MATCH_END, MATCH_START
from ..store import Store, hold_in_use
from ..store.people import ActivityCache
from . import auth, conversations, people, settings, subscriptions, timeline
from .background import CommentRefresher
from .pages import Connections, format_cursor, get_config, release_store, request_paths
from .rows import absolute_time, hostname, timeago

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent.parent


def _resource_folder(name: str) -> str:
    """``templates`` or ``static``: inside the package once installed from a wheel
    (pyproject.toml maps the top-level folders there), beside it in a checkout."""
    installed = PACKAGE / name
    return str(installed if installed.is_dir() else PACKAGE.parent / name)


# Feed content may show images and media from anywhere, never run code or be framed.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: http:",
        "media-src 'self' https: http:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "frame-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ]
)


def create_app(config: Config | None = None) -> Flask:
    config = config or load_config()
    # Documents fetched by a request (refresh now, a new subscription, discovery)
    # are parsed in a parser process, never in the request thread: the parse time
    # budget is a signal, and signals reach only a process's main thread.
    config = replace(config, parse_workers=max(1, config.parse_workers))
    app = Flask(__name__, template_folder=_resource_folder("templates"), static_folder=_resource_folder("static"))
    app.config["READER"] = config
    app.config["SECRET_KEY"] = secret_key(config)
    app.config["MAX_CONTENT_LENGTH"] = 6 * 2**20  # OPML uploads; opml.py caps the file at 5 MB
    Store.open(config.db_path).close()  # create or migrate the database once, not per request
    # Held for the app's life, not only during requests: `reader restore` must find the database in use.
    in_use = hold_in_use(config.db_path)
    # Let go when the app is collected. gc.freeze() below means that is at the process's end for an
    # app made and dropped; the tests' app fixture closes its connections itself.
    weakref.finalize(app, in_use.close)
    if config.trusted_proxies:
        # X-Forwarded-For/Proto/Host from that many proxies: the client's address for the login
        # limits, HTTPS for Secure cookies. Without the setting they are ignored, as anyone can send them.
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["PERMANENT_SESSION_LIFETIME"] = auth.REMEMBER_FOR
    app.session_interface = auth.SessionInterface()

    connections = app.extensions["causerie.connections"] = Connections(config.db_path)
    weakref.finalize(app, connections.close)
    app.teardown_appcontext(release_store)
    app.before_request(_refuse_cross_site_posts)
    app.before_request(auth.load_user)
    app.after_request(_security_headers)
    _register_errors(app)
    _register_filters(app)
    _protect_forms(app)
    app.register_blueprint(auth.blueprint)
    _limit_logins(app)
    app.register_blueprint(timeline.blueprint)
    app.register_blueprint(people.blueprint)
    app.register_blueprint(subscriptions.blueprint)
    app.register_blueprint(settings.blueprint)
    app.register_blueprint(conversations.blueprint)
    app.add_url_rule("/healthz", "health", _health)
    app.extensions["causerie.comments"] = CommentRefresher(config)
    app.extensions["causerie.activity"] = ActivityCache()
    # What start-up made (modules, templates, routes) lives as long as the process: keep it out of
    # the garbage collector's full passes, which otherwise land in a request now and then (the
    # people page's p95 went from 59 to 31 ms on the benchmark database, its median unchanged).
    gc.collect()
    gc.freeze()
    return app


def _health() -> tuple[str, int, dict]:
    """For a load balancer, Docker's HEALTHCHECK or a monitor: the process answers and its database
    reads. No login, no feed touched, nothing about anyone's data."""
    headers = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    try:
        store = Store.open(get_config().db_path, migrate=False)
        try:
            store.has_accounts()
        finally:
            store.close()
    except StorageError as exc:
        logging.getLogger(__name__).error("health check: %s", exc)
        return "database unavailable\n", 503, headers
    return "ok\n", 200, headers


def _protect_forms(app: Flask) -> None:
    """A CSRF token on every POST (Flask-WTF): ``csrf_field()`` in each form, the ``X-CSRFToken``
    header from the page's script (the token is in a <meta> of every page). The Sec-Fetch-Site and
    Origin check stays in front as a second wall."""
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # valid for the session: a page left open all day still works
    app.config["WTF_CSRF_SSL_STRICT"] = False  # the Origin check above does this job, proxies included
    CSRFProtect(app)
    app.add_template_global(csrf_field)


def csrf_field() -> Markup:
    """The hidden field of every form; made once a request (a timeline page has one a row)."""
    field = g.get("csrf_field")
    if field is None:
        field = g.csrf_field = Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())
    return field


def _limit_logins(app: Flask) -> None:
    """Failed logins per address and per account name, kept in this process (one process serves)."""
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", headers_enabled=False)
    message = "Too many failed logins: wait a little, then try again."
    # Flask-Limiter checks decorated limits in the wrapper it returns: that wrapper is the view.
    view = app.view_functions["auth.login_post"]
    view = limiter.limit(auth.LIMIT_PER_ADDRESS, deduct_when=auth.failed_login, error_message=message)(view)
    view = limiter.limit(
        auth.LIMIT_PER_ACCOUNT, key_func=auth.account_key, deduct_when=auth.failed_login, error_message=message
    )(view)
    app.view_functions["auth.login_post"] = view


def _refuse_cross_site_posts():
    """Every state change is a POST; refuse those another site's page made the browser send.

    Browsers tell us with Sec-Fetch-Site (and Origin). Requests without either
    (curl, the test client) are not from a browser page and pass.
    """
    if request.method != "POST":
        return None
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site in ("cross-site", "same-site") or (origin and origin != "null" and urlsplit(origin).netloc != request.host):
        return render_template("error.html", status=403, message="cross-site request refused"), 403
    return None


def _security_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store" if request.endpoint != "static" else "max-age=3600")
    return response


def _register_errors(app: Flask) -> None:
    def page(status: int, message: str):
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(NotFoundError)
    def not_found(exc: NotFoundError):
        # The same words whether it never existed or belongs to someone else.
        return page(404, "not found")

    @app.errorhandler(CSRFError)
    def csrf(exc: CSRFError):
        return page(400, "this form is out of date or came from elsewhere: reload the page and try again")

    @app.errorhandler(InvalidFeedURLError)
    @app.errorhandler(OPMLError)
    @app.errorhandler(InvalidInputError)
    def bad_request(exc: Exception):
        return page(400, str(exc))

    @app.errorhandler(FeedExistsError)
    def exists(exc: FeedExistsError):
        return page(409, str(exc))

    @app.errorhandler(StorageError)
    def storage(exc: StorageError):
        log.error("storage error: %s", exc)
        return page(503, "the database is busy or unavailable; try again")

    @app.errorhandler(HTTPException)
    def http(exc: HTTPException):
        return page(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def bug(exc: Exception):
        log.exception("unexpected error")
        return page(500, "something went wrong on our side")


def _register_filters(app: Flask) -> None:
    app.add_template_global(lambda endpoint, **ids: request_paths().to(endpoint, **ids), "path_to")
    app.add_template_filter(timeago)
    app.add_template_filter(absolute_time)
    app.add_template_filter(hostname)
    app.add_template_filter(highlight)
    app.add_template_filter(lambda item: format_cursor(item.position), "cursor")
    app.add_template_filter(activity_path)
    app.add_template_filter(lambda channel: display_value(channel.kind, channel.value), "channel_value")


def highlight(text: str | None) -> Markup:
    """Plain text with search matches marked (MATCH_START/END) → escaped HTML with <mark>."""
    if not text:
        return Markup("")
    escaped = str(escape(text))
    return Markup(escaped.replace(MATCH_START, "<mark>").replace(MATCH_END, "</mark>"))


@functools.lru_cache(maxsize=8192)
def activity_path(weeks: tuple[int, ...]) -> str:
    """An SVG path of one bar per week with posts (oldest left), for the people page's activity strip.

    Built here rather than with a loop in the template: a thousand people times
    52 weeks of markup would be most of the page's time and size. Heights grow
    with the count but flatten out, so a busy week does not dwarf a quiet
    person's single post. Memoized: the strips change once per fetch round.
    """
    return "".join(_BAR_AT[index] + _BAR_HEIGHT[min(posts, 8)] for index, posts in enumerate(weeks) if posts)


_BAR_AT = [f"M{index * 5 + 2} 16v-" for index in range(64)]
_BAR_HEIGHT = ["0", "4", "7", "10", "12", "12", "12", "12", "14"]
