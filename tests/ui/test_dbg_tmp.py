import pytest
from tests.ui.hostile import hostile_items
from tests.ui.conftest import csrf_from
@pytest.fixture
def hostile(store):
    items = hostile_items(100)
    store.upsert_many(items)
    return items
def test_x(app, login, hostile):
    c = app.test_client()
    p = c.get("/login")
    r = c.post("/login", data={"username": "zhang", "password": "correct-horse-9", "csrf_token": csrf_from(p.get_data(as_text=True))})
    print(r.status_code)
    import re; print(re.findall(r'flash[^<]*<', r.get_data(as_text=True)))
