"""CSRF: every state change needs the page's token (a form field, or the script's header)."""

import re

import pytest


@pytest.fixture
def protected(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def token(client, path="/subscriptions/") -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(path).text).group(1)


def test_a_post_without_the_token_is_refused_and_changes_nothing(protected, store):
    response = protected.post("/muted", data={"phrase": "élection"})
    assert response.status_code == 400 and "reload the page" in response.text
    assert store.list_mutes() == []


def test_a_post_with_the_forms_token_or_the_scripts_header_is_accepted(protected, store):
    page = protected.get("/muted").text
    field = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', page).group(1)
    assert protected.post("/muted", data={"phrase": "élection", "csrf_token": field}).status_code == 303
    header = token(protected)
    response = protected.post("/muted", data={"phrase": "crypto"}, headers={"X-CSRFToken": header})
    assert response.status_code == 303
    assert [m.phrase for m in store.list_mutes()] == ["crypto", "élection"]


def test_a_token_from_another_session_is_refused(app, protected, store):
    other = app.test_client()
    stolen = token(other)
    assert protected.post("/muted", data={"phrase": "x", "csrf_token": stolen}).status_code == 400


def test_every_form_of_every_page_carries_the_token(protected, store):
    from reader.models import FeedSource

    store.add_feeds([FeedSource("https://ana.example/feed", "Ana")])
    person = store.list_people()[0].id
    found = 0
    for path in ("/", "/subscriptions/", f"/people/{person}", "/muted", "/settings", "/conversations", "/login"):
        html = protected.get(path).text
        forms = re.findall(r'<form\b[^>]*method="post"[^>]*>(.*?)</form>', html, re.S)
        assert all('name="csrf_token"' in form for form in forms), path
        found += len(forms)
    assert found >= 12


def test_the_cross_site_check_stays_in_front(protected):
    response = protected.post("/muted", data={"phrase": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
