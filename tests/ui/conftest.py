"""UI fixtures: a store (SQLite by default; tests parametrise `store` indirectly to run on the search engine too),
the Flask app on it, users of every role, and logged-in test clients."""
from __future__ import annotations

import re
import shutil

import pytest

from review_ui import create_app
from shian.users import Users
from tests.store.fixtures import search_store, sqlite_store  # noqa: F401  (fixtures)
from tests.ui.data import PASSWORD, USERS


@pytest.fixture
def store(request):
    """SQLite unless a test asks for more: @pytest.mark.parametrize("store", ["sqlite", "search"], indirect=True)."""
    return request.getfixturevalue(f"{getattr(request, 'param', 'sqlite')}_store")


@pytest.fixture(scope="session")
def users_template(tmp_path_factory):
    """One users database with every role, hashed once and copied into each test's data dir."""
    folder = tmp_path_factory.mktemp("users")
    users = Users(folder)
    for name, role in USERS.items():
        users.add(name, role, PASSWORD)
    return users.path


@pytest.fixture
def app(settings, store, users_template):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(users_template, settings.data_dir / "users.sqlite3")
    app = create_app(settings, store)
    app.config["TESTING"] = False  # keep every security check on
    return app


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Session:
    """A Flask test client logged in as one user, with the CSRF token of its session."""

    def __init__(self, app, name: str):
        self.client = app.test_client()
        page = self.client.get("/login")
        response = self.client.post("/login", data={"username": name, "password": PASSWORD,
                                                    "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self.token = csrf_from(self.client.get("/").get_data(as_text=True))
        self.name = name

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kw)

    def api(self, method, url, json=None):
        return self.client.open(url, method=method, json=json, headers={"X-CSRFToken": self.token})


@pytest.fixture
def login(app):
    return lambda name: Session(app, name)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def browser_login(page, base: str, name: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("table.queue")
    page.wait_for_load_state("domcontentloaded")   # app.js is deferred: its key handlers exist only then
