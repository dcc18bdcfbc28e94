"""Login on every route, CSRF on every form, roles on the server, headers, login limits."""
from __future__ import annotations

import re

import pytest

from tests.ui.conftest import csrf_from
from tests.ui.data import PASSWORD, make_item

PUBLIC = {"auth.login", "healthz", "static"}


def concrete(rule) -> str:
    """A URL for a rule, with its path arguments filled in."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: {"fmt": "csv", "filename": "app.css"}.get(m.group(1), "x1"),
                  rule.rule)


def test_every_route_but_login_and_health_needs_a_session(app):
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = concrete(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            checked += 1
            if url.startswith("/api/"):
                assert response.status_code == 401, (method, url, response.status_code)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
            else:
                assert response.status_code == 302, (method, url, response.status_code)
                assert "/login" in response.headers["Location"], (method, url)
    assert checked >= 25
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200


def test_an_invalid_or_disabled_token_is_refused_and_a_valid_one_works(app, store, settings):
    from shian.users import Users

    store.upsert(make_item(1))
    users = Users(settings.data_dir)
    token = users.issue_token("li")
    client = app.test_client()
    assert client.get("/api/v1/items", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = client.get("/api/v1/items", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.get_json()["total"] == 1
    users.disable("li")
    assert client.get("/api/v1/items", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(app, store, login):
    item = make_item(1)
    store.upsert(item)
    s = login("li")
    refused = s.client.post(f"/items/{item.id}/claim", data={})
    assert refused.status_code == 400
    assert "CSRF" in refused.get_data(as_text=True)
    assert store.get(item.id).review.assignee == ""
    # the JSON API with a session cookie needs the header token too
    assert s.client.post(f"/api/v1/items/{item.id}/claim").status_code == 400
    assert store.get(item.id).review.assignee == ""
    # a login form without its token is refused as well
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": "li", "password": PASSWORD}).status_code == 400
    # with the token, the same claim goes through
    assert s.post(f"/items/{item.id}/claim").status_code == 302
    assert store.get(item.id).review.assignee == "li"


def test_a_reviewer_cannot_reach_lead_or_admin_actions(app, store, login):
    item = make_item(1)
    store.upsert(item)
    other = make_item(2)
    store.upsert(other)
    lead = login("zhang")
    assert lead.post(f"/items/{other.id}/claim").status_code == 302
    s = login("li")
    for url in ("/dashboard/", "/audit/", "/audit/export.csv", "/bulk", "/export.csv", "/export.xlsx", "/keywords/"):
        assert s.get(url).status_code == 403, url
    forbidden_posts = [
        (f"/items/{item.id}/review", {"action": "approve"}),
        (f"/items/{item.id}/due", {"due": "2030-01-01T10:00"}),
        ("/bulk", {"action": "release", "step": "apply", "expected": "2"}),
        ("/views", {"name": "mine", "qs": ""}),
    ]
    for url, data in forbidden_posts:
        assert s.post(url, data).status_code == 403, url
    # taking over a lead's claim is a lead action, in the form and in the API
    assert s.post(f"/items/{other.id}/claim", {"takeover": "1"}).status_code == 403
    assert s.api("POST", f"/api/v1/items/{other.id}/claim", {"takeover": True}).status_code == 403
    assert store.get(other.id).review.assignee == "zhang"
    # enforcement staff edit keyword lists but do not decide items
    e = login("zhao")
    assert e.get("/keywords/").status_code == 200
    assert e.post(f"/items/{item.id}/claim").status_code == 403


def test_security_headers_on_every_page(app, login):
    s = login("li")
    for url in ("/", "/login", "/api/v1/items"):
        headers = s.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp.split(
            "style-src")[0]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_secure_and_http_only(app):
    client = app.test_client()
    page = client.get("/login")
    response = client.post("/login", data={"username": "li", "password": PASSWORD,
                                           "csrf_token": csrf_from(page.get_data(as_text=True))})
    cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logins_are_rate_limited_and_audited(app, settings):
    from shian.audit import AuditLog

    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    limit = settings.review.login_attempts_per_minute
    codes = [client.post("/login", data={"username": "li", "password": "wrong", "csrf_token": token}).status_code
             for _ in range(limit + 2)]
    assert codes[:limit] == [401] * limit
    assert codes[limit:] == [429, 429]
    # even the right password is refused while blocked
    blocked = client.post("/login", data={"username": "li", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    actions = [e.action for e in AuditLog(settings.data_dir).events(target="user:li", limit=100)]
    assert actions.count("login_failed") == limit and "login_blocked" in actions


def test_login_never_redirects_to_another_site(app):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post("/login", data={"username": "wang", "password": PASSWORD, "csrf_token": token,
                                                "next": target})
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
        token = csrf_from(client.get("/login").get_data(as_text=True))


def test_logout_ends_the_session_on_the_server(app, login):
    s = login("li")
    cookie = s.client.get_cookie("shian_session")
    assert s.post("/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("shian_session", cookie.value)
    assert replay.get("/").status_code == 302


@pytest.mark.parametrize("path", ["/items/../../etc/passwd", "/items/x1/evidence/" + "a" * 64])
def test_unknown_items_and_evidence_answer_404(login, path):
    assert login("li").get(path).status_code == 404
