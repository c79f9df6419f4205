"""Logging in and out. With an account on the install, or when served beyond loopback, every page
but these asks to log in; without one, on loopback, the reader stays single-user and open.

Sessions are Flask's signed cookies: HttpOnly, SameSite=Lax, Secure when the request came over
HTTPS. A session names its user and a fingerprint of their password hash, so a new password logs
that account out everywhere. Failed logins are rate limited per address and per account name
(Flask-Limiter); a limit is a wait, never a lock-out.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import timedelta

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from ..config import Config
from ..errors import NotFoundError
from ..passwords import dummy_verify, hash_password, needs_rehash, verify_password
from ..store import LOCAL_USER, Store
from .pages import get_config, request_store, safe_next

blueprint = Blueprint("auth", __name__)

REMEMBER_FOR = timedelta(days=30)
# Failed logins only: a right password is never slowed down by someone else's attempts.
LIMIT_PER_ADDRESS = "10 per minute;50 per hour"
LIMIT_PER_ACCOUNT = "20 per hour"
OPEN_ENDPOINTS = frozenset({"auth.login", "auth.login_post", "static", "health"})


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure exactly when the request is HTTPS (directly or, once
    trusted proxies say so, behind one)."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure


def serves_only_this_machine(config: Config) -> bool:
    """Bound to loopback and not behind a reverse proxy: a proxy connects from 127.0.0.1 on behalf
    of anyone on the internet, so with READER_TRUSTED_PROXIES set a login is always asked for."""
    return is_loopback(config.listen_host) and not config.trusted_proxies


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fingerprint(password_hash: str) -> str:
    """What a session keeps of the password: enough to notice it changed, nothing to guess it from."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def load_user() -> object:
    """Before each request: who is asking, and whether they must log in first."""
    if request.endpoint == "health":
        return None  # a monitor's probe every few seconds: no session, no user lookup
    config = get_config()
    store = request_store()
    g.user = None
    user_id = session.get("user_id")
    if user_id is not None:
        try:
            account = store.get_user(int(user_id))
        except (NotFoundError, ValueError, TypeError):  # an account since removed: logged out
            account = None
        if account and account.password_hash and session.get("auth") == fingerprint(account.password_hash):
            g.user = account
        else:
            session.clear()
    g.accounts = store.has_accounts()
    if g.user is not None:
        g.user_id = g.user.id
        return None
    if not g.accounts and serves_only_this_machine(config):
        g.user_id = LOCAL_USER  # single-user, as before accounts
        return None
    g.user_id = None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), code=303)
    return render_template("error.html", status=401, message="log in first"), 401


@blueprint.get("/login")
def login():
    if g.get("user") is not None:
        return redirect(safe_next(request.args.get("next"), url_for("timeline.index")), code=303)
    return render_template("login.html", next=request.args.get("next", ""), name="")


@blueprint.post("/login")
def login_post():
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    config = get_config()
    store = Store.open(config.db_path, migrate=False)
    try:
        account = store.get_user_by_name_or_none(name) if name else None
        if account is None or not account.password_hash:
            dummy_verify(password)  # the same time as for a real account: names stay private
            ok = False
        else:
            ok = verify_password(account.password_hash, password)
            if ok and needs_rehash(account.password_hash):
                store.set_password_hash(account.id, hash_password(password))
                account = store.get_user(account.id)
    finally:
        store.close()
    if not ok:
        page = render_template(
            "login.html", next=request.form.get("next", ""), name=name, error="That name and password do not match."
        )
        return page, 401
    session.clear()
    session["user_id"] = account.id
    session["auth"] = fingerprint(account.password_hash)
    session.permanent = request.form.get("remember") == "1"
    return redirect(safe_next(request.form.get("next"), url_for("timeline.index")), code=303)


@blueprint.post("/logout")
def logout():
    session.clear()
    flash("Logged out.")
    return redirect(url_for("auth.login"), code=303)


def failed_login(response) -> bool:
    """Flask-Limiter counts a login against the limits only when it failed."""
    return response.status_code == 401


def account_key() -> str:
    return "login-account:" + request.form.get("name", "").strip().lower()[:64]
