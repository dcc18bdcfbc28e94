"""Search-engine store administration: credentials and TLS reach the client, and mapping migrations."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import ssl
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shian.settings import configure
from shian.store.base import Query, StoreError
from shian.store.cli import store as store_cli
from shian.store.engine import Auth, Engine
from shian.store.search import MAPPING, MAPPING_VERSION, SearchStore
from tests.store.fixtures import search_url
from tests.store.test_search_engine import Proxy
from tests.store.test_store_contract import make

ES8_ROOT = {"version": {"number": "8.15.1", "build_flavor": "default"}}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def proxy():
    p = Proxy(search_url())
    yield p
    p.close()


def test_credentials_from_settings_go_with_every_request(proxy, tmp_path):
    settings = configure(data_dir=tmp_path, store="search", search_url=proxy.url,
                         search_index_prefix=f"test-{uuid.uuid4().hex[:12]}",
                         search_username="shian", search_password="s3cret")
    from shian.store import open_store
    store = open_store(settings)
    try:
        store.upsert(make(1))
        store.refresh()
        assert [i.id for i in store.search(Query()).items] == [make(1).id]
    finally:
        store.destroy()
        store.close()
    assert len(proxy.authorization) > 4
    assert set(proxy.authorization) == {basic("shian", "s3cret")}


def test_an_api_key_wins_over_a_password(proxy):
    store = SearchStore(proxy.url, prefix=f"test-{uuid.uuid4().hex[:12]}",
                        auth=Auth(username="shian", password="pw", api_key="aWQ6c2VjcmV0"))
    try:
        assert store.count() == 0
    finally:
        store.destroy()
        store.close()
    assert set(proxy.authorization) == {"ApiKey aWQ6c2VjcmV0"}


def test_no_credentials_send_no_authorization(proxy):
    store = SearchStore(proxy.url, prefix=f"test-{uuid.uuid4().hex[:12]}")
    try:
        assert store.count() == 0
    finally:
        store.destroy()
        store.close()
    assert set(proxy.authorization) == {None}


def test_the_elasticsearch_client_gets_the_credentials_too():
    es8 = Proxy(search_url(), root=ES8_ROOT)
    try:
        engine = Engine(es8.url, auth=Auth(api_key="aWQ6c2VjcmV0"))
        assert type(engine.client).__module__.startswith("elasticsearch")
        assert engine.client.info()["version"]["number"] == "8.15.1"      # through the client itself
        engine = Engine(es8.url, auth=Auth(username="shian", password="pw"))
        engine.client.info()
    finally:
        es8.close()
    assert es8.authorization == ["ApiKey aWQ6c2VjcmV0"] * 2 + [basic("shian", "pw")] * 2


def test_refused_credentials_are_a_clear_error(proxy):
    proxy.root_status = 401
    with pytest.raises(StoreError, match="refused the credentials"):
        SearchStore(proxy.url, prefix="unused", auth=Auth(username="shian", password="wrong")).count()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shian test node")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def tls_proxy(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    p = Proxy(search_url(), tls=context)
    yield p
    p.close()


def test_https_node_is_trusted_through_the_configured_ca(tls_proxy, certificate):
    assert tls_proxy.url.startswith("https://")
    with pytest.raises(StoreError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        SearchStore(tls_proxy.url, prefix="unused").count()
    store = SearchStore(tls_proxy.url, prefix=f"test-{uuid.uuid4().hex[:12]}",
                        auth=Auth(ca_certs=str(certificate[0]), username="shian", password="pw"))
    try:
        store.upsert(make(1))
        assert store.get(make(1).id).listing.item_id == "1"
    finally:
        store.destroy()
        store.close()
    assert set(tls_proxy.authorization) == {basic("shian", "pw")}


def test_verify_certs_off_accepts_an_untrusted_certificate(tls_proxy):
    store = SearchStore(tls_proxy.url, prefix=f"test-{uuid.uuid4().hex[:12]}", auth=Auth(verify_certs=False))
    try:
        assert store.count() == 0
    finally:
        store.destroy()
        store.close()


# -- migration -----------------------------------------------------------------------------------
def v1_mapping() -> dict:
    """The items index as mapping v1 had it: no lease_ms, no index sort."""
    body = copy.deepcopy(MAPPING["items"])
    del body["mappings"]["properties"]["lease_ms"]
    for key in ("sort.field", "sort.order", "refresh_interval"):
        body["settings"].pop(key)
    return body


@pytest.fixture
def v1_store():
    """A prefix laid out as mapping v1 left it, holding items written the v1 way."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    old = SearchStore(search_url(), prefix=prefix, version=1)
    engine = old.engine
    for name in MAPPING:
        body = v1_mapping() if name == "items" else copy.deepcopy(MAPPING[name])
        body["aliases"] = {old.alias(name): {"is_write_index": True}}
        engine.call("indices.create", index=f"{old.alias(name)}-v1", body=body)
    now = datetime.now(timezone.utc)
    items = [make(n, risk=n / 10) for n in range(1, 6)]
    items[0].review.status, items[0].review.assignee = "claimed", "li"
    items[0].review.lease_until = now - timedelta(minutes=1)          # ran out
    items[1].review.status, items[1].review.assignee = "claimed", "wang"
    items[1].review.lease_until = now + timedelta(minutes=9)          # still held
    ops = []
    for item in items:
        source = SearchStore._source(item)
        del source["lease_ms"]
        ops += [{"create": {"_id": item.id}}, source]
    engine.call("bulk", index=old.alias("items"), body=ops, refresh="true")
    old.put_registry("licence", [{"licence_no": "SC1", "holder": "甲公司"}], key="licence_no")
    old.close()
    new = SearchStore(search_url(), prefix=prefix)
    yield new, items
    new.destroy()
    new.close()


def test_migrate_copies_into_the_new_version_and_moves_the_alias(v1_store, tmp_path):
    store, items = v1_store
    engine = store.engine
    assert store.count() == 5                       # the old layout keeps working before the migration
    configure(data_dir=tmp_path, store="search", search_url=search_url(), search_index_prefix=store.prefix)
    runner = CliRunner()
    before = runner.invoke(store_cli, ["status"])
    assert f"{store.prefix}-items: {store.prefix}-items-v1 (needs migrate to v{MAPPING_VERSION})" in before.output
    result = runner.invoke(store_cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert f"migrated {store.prefix}-items-v1 -> {store.prefix}-items-v{MAPPING_VERSION}" in result.output
    for name in MAPPING:
        assert list(engine.call("indices.get_alias", name=store.alias(name))) == \
            [f"{store.alias(name)}-v{MAPPING_VERSION}"]
    assert not engine.call("indices.exists", index=f"{store.prefix}-items-v1")
    # everything came across, and the derived field new in v2 was filled in from each item
    assert store.count() == 5
    assert store.get(items[2].id).listing.item_id == "3"
    assert [r["holder"] for r in store.registry("licence")] == ["甲公司"]
    hits = engine.call("search", index=store.alias("items"), body={
        "query": {"range": {"lease_ms": {"lt": int(datetime.now(timezone.utc).timestamp() * 1000)}}}})
    assert [h["_id"] for h in hits["hits"]["hits"]] == [items[0].id]
    expired = store.search(Query(filters={"status": ["claimed"]}, flagged_only=False,
                                 lease_before=datetime.now(timezone.utc)))
    assert [i.id for i in expired.items] == [items[0].id]
    settings = engine.call("indices.get_settings", index=store.alias("items"))
    assert next(iter(settings.values()))["settings"]["index"]["sort"]["field"] == ["risk", "id"]
    # writable again, and facet counts see every item
    store.upsert(make(9, platform="jd"))
    store.refresh()
    assert store.count() == 6
    page = store.search(Query(flagged_only=False, facets=("platform", "status"), multi_select=True,
                              filters={"platform": ["jd"]}))
    assert page.total == 1 and page.facets["platform"] == {"tb": 5, "jd": 1}
    assert page.facets["status"] == {"new": 1}
    again = runner.invoke(store_cli, ["migrate"])
    assert "up to date" in again.output and "migrated" not in again.output
    assert "(current)" in runner.invoke(store_cli, ["status"]).output


def test_a_failed_migration_leaves_the_old_index_in_charge(v1_store):
    store, items = v1_store
    engine = store.engine
    # a copy that cannot be written: the new index refuses the v1 documents' extra field
    engine.call("indices.put_index_template", name=store.alias("items") + "-broken", body={
        "index_patterns": [f"{store.alias('items')}-v{MAPPING_VERSION}"], "priority": 200,
        "template": {"mappings": {"dynamic": "strict", "properties": {"id": {"type": "keyword"}}}}})
    try:
        with pytest.raises(StoreError, match="failed"):
            store.migrate()
    finally:
        engine.call("indices.delete_index_template", name=store.alias("items") + "-broken")
    assert list(engine.call("indices.get_alias", name=store.alias("items"))) == [f"{store.prefix}-items-v1"]
    assert not engine.call("indices.exists", index=f"{store.prefix}-items-v{MAPPING_VERSION}")
    store.upsert(make(9))                           # writes are unblocked
    store.refresh()
    assert store.count() == 6
