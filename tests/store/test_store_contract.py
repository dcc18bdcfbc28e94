"""The store contract, run on SQLite and on the real search engine (fixture `store`)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from shian.models import (Analysis, Decision, EvidenceRef, Finding, Listing, ReviewItem, Shop, Verdict)
from shian.store.base import Conflict, NotFound, Query, StoreError

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


def make(n: int, *, platform: str = "tb", title: str = "", text: str = "", risk: float = 0.5,
         claims: tuple[str, ...] = ("disease_claim",), severity: str = "high", licence: str | None = "ok",
         region: str = "新郑市", shop: str = "", seen: datetime = T0, evidence: str = "",
         due: datetime | None = None, kind: str = "listing") -> ReviewItem:
    listing = Listing(platform=platform, kind=kind, item_id=str(n), url=f"https://{platform}.test/{n}",
                      title=title or f"商品{n}", text=text, captured_at=seen,
                      shop=Shop(name=shop or f"店铺{n % 3}", operator_name=f"经营者{n % 2}", region=region),
                      evidence=[EvidenceRef(sha256=evidence, kind="body")] if evidence else [])
    findings = [Finding(type=c, rule_id=f"R-{c}", list_version="v1", start=0, end=2, text="血糖",
                        severity=severity) for c in claims]
    lic = None if licence is None else Verdict(kind="licence", verdict=licence,
                                               identifiers=[{"type": "SC", "value": f"SC{n:014d}"}])
    item = ReviewItem.new(listing, Analysis(findings=findings, licence=lic, risk=risk))
    item.review.due = due
    return item


def ids_of(page) -> list[str]:
    return [i.id for i in page.items]


def all_pages(store, query: Query) -> list[str]:
    seen, pages = [], 0
    while True:
        page = store.search(query)
        seen += ids_of(page)
        pages += 1
        assert pages < 1000, "paging does not end"
        if page.next_after is None:
            return seen
        query.after = page.next_after


# -- upsert / re-crawl ---------------------------------------------------------------
def test_upsert_is_idempotent_and_recrawl_only_bumps_last_seen(store):
    first = store.upsert(make(1, evidence="a" * 64))
    assert first.outcome == "created" and first.item.version
    again = store.upsert(make(1, seen=T0 + timedelta(hours=5), evidence="b" * 64))
    assert again.outcome == "unchanged"
    store.refresh()
    assert store.count() == 1
    got = store.get(first.item.id)
    assert got.last_seen == T0 + timedelta(hours=5)
    assert got.first_seen == T0
    assert [e.sha256 for e in got.listing.evidence] == ["a" * 64, "b" * 64]
    assert got.history == []


def test_changed_content_keeps_history_and_review_state(store):
    stored = store.upsert(make(2, text="原来的描述")).item
    stored.review.status = "decided"
    stored.review.assignee = "alice"
    stored.review.decisions.append(Decision(target="item", action="confirm", user="alice", note="违法"))
    store.replace(stored)
    result = store.upsert(make(2, text="改过的描述：降血糖", seen=T0 + timedelta(days=1)))
    assert result.outcome == "changed"
    got = store.get(stored.id)
    assert got.listing.text == "改过的描述：降血糖"
    assert got.review.status == "decided" and got.review.assignee == "alice"
    assert [d.note for d in got.review.decisions] == ["违法"]
    assert [h["content_hash"] for h in got.history] == [stored.listing.content_hash]
    assert got.first_seen == T0 and got.last_seen == T0 + timedelta(days=1)
    store.refresh()
    assert store.count() == 1


def test_upsert_many_merges_duplicates_and_reports_outcomes(store):
    out = store.upsert_many([make(1), make(2), make(1, seen=T0 + timedelta(hours=1)),
                             make(2, text="新内容")])
    assert [r.outcome for r in out] == ["created", "created", "unchanged", "changed"]
    out = store.upsert_many([make(1), make(3)])
    assert [r.outcome for r in out] == ["unchanged", "created"]
    store.refresh()
    assert store.count() == 3
    assert store.get(make(2).id).listing.text == "新内容"
    assert store.get(make(1).id).last_seen == T0 + timedelta(hours=1)


def test_taken_down_is_recorded_once_and_cleared_when_seen_again(store):
    item = store.upsert(make(5)).item
    store.mark_taken_down(item.id, T0 + timedelta(days=2))
    store.mark_taken_down(item.id, T0 + timedelta(days=3))
    assert store.get(item.id).taken_down_at == T0 + timedelta(days=2)
    store.upsert(make(5, seen=T0 + timedelta(days=4)))
    assert store.get(item.id).taken_down_at is None
    with pytest.raises(NotFound):
        store.mark_taken_down("no-such-item", T0)


# -- optimistic concurrency ------------------------------------------------------------
def test_stale_write_is_refused_and_changes_nothing(store):
    item = store.upsert(make(7)).item
    alice, bob = store.get(item.id), store.get(item.id)
    alice.review.assignee = "alice"
    saved = store.replace(alice)
    assert saved.version != item.version
    bob.review.assignee = "bob"
    with pytest.raises(Conflict) as err:
        store.replace(bob)
    assert err.value.current.review.assignee == "alice"
    assert store.get(item.id).review.assignee == "alice"
    bob = store.get(item.id)
    bob.review.assignee = "bob"
    assert store.replace(bob).review.assignee == "bob"


def test_replace_unknown_and_get_unknown_are_not_found(store):
    with pytest.raises(NotFound):
        store.get("missing")
    ghost = make(99)
    ghost.version = "1" if store.__class__.__name__ == "SQLiteStore" else "0:1"
    with pytest.raises(NotFound):
        store.replace(ghost)


def test_two_reviewers_claiming_at_once_exactly_one_wins(store):
    item = store.upsert(make(8)).item
    copies = [store.get(item.id) for _ in range(6)]
    start = threading.Barrier(len(copies))
    wins, conflicts = [], []

    def claim(copy, user):
        copy.review.status, copy.review.assignee = "claimed", user
        start.wait(timeout=10)
        try:
            store.replace(copy)
            wins.append(user)
        except Conflict:
            conflicts.append(user)

    threads = [threading.Thread(target=claim, args=(c, f"u{i}")) for i, c in enumerate(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(wins) == 1 and len(conflicts) == len(copies) - 1
    assert store.get(item.id).review.assignee == wins[0]


def test_concurrent_crawler_threads_never_duplicate(store):
    def crawl(worker):
        for n in range(15):
            store.upsert(make(n, seen=T0 + timedelta(minutes=worker)))

    threads = [threading.Thread(target=crawl, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    store.refresh()
    assert store.count() == 15
    assert store.get(make(3).id).last_seen == T0 + timedelta(minutes=3)


# -- search ----------------------------------------------------------------------------
@pytest.fixture
def loaded(store):
    items = [
        make(1, platform="tb", title="降血糖茶", text="本品可以降血糖，治疗糖尿病", risk=0.9,
             claims=("disease_claim",), severity="high", licence="mismatch", region="新郑市"),
        make(2, platform="tb", title="护肝片", text="保护肝脏 100% 有效_特价", risk=0.7,
             claims=("health_function_on_ordinary_food", "disease_claim"), severity="medium",
             licence="ok", region="中牟县"),
        make(3, platform="jd", title="普通红茶", text="香气浓郁", risk=0.0, claims=(), licence="ok",
             region="新郑市"),
        make(4, platform="jd", title="血 糖 茶", text="调节血 糖", risk=0.6, claims=("disease_claim",),
             severity="low", licence=None, region="中牟县", kind="live"),
        make(5, platform="pdd", title="Blood Sugar TEA", text="lowers BLOOD sugar", risk=0.8,
             claims=("disease_claim",), severity="high", licence="missing", region="新郑市"),
    ]
    store.upsert_many(items)
    store.refresh()
    return {i.listing.item_id: i.id for i in items}


def test_flagged_only_hides_clean_items(store, loaded):
    assert store.search(Query()).total == 4
    assert store.search(Query(flagged_only=False)).total == 5
    cheap = store.search(Query(exact_total=False))      # a bound far above this set: still exact
    assert (cheap.total, cheap.total_exact) == (4, True)


def test_filters_combine_or_within_and_across_keys(store, loaded):
    page = store.search(Query(filters={"platform": ["tb", "pdd"], "severity": ["high"]}))
    assert set(ids_of(page)) == {loaded["1"], loaded["5"]}
    page = store.search(Query(filters={"claim_type": ["health_function_on_ordinary_food"]}))
    assert ids_of(page) == [loaded["2"]]
    page = store.search(Query(filters={"licence_verdict": ["mismatch", "missing"], "region": ["新郑市"]}))
    assert set(ids_of(page)) == {loaded["1"], loaded["5"]}
    page = store.search(Query(filters={"licence_no": ["SC00000000000002"]}))
    assert ids_of(page) == [loaded["2"]]
    page = store.search(Query(filters={"kind": ["live"], "rule_id": ["R-disease_claim"]}))
    assert ids_of(page) == [loaded["4"]]
    assert store.search(Query(filters={"platform": ["nowhere"]})).total == 0


def test_facet_counts_follow_the_query(store, loaded):
    page = store.search(Query(facets=("platform", "claim_type", "severity", "licence_verdict")))
    assert page.facets["platform"] == {"tb": 2, "jd": 1, "pdd": 1}
    assert list(page.facets["platform"]) == ["tb", "jd", "pdd"]          # by count, then name
    assert page.facets["claim_type"] == {"disease_claim": 4, "health_function_on_ordinary_food": 1}
    assert page.facets["severity"] == {"high": 2, "low": 1, "medium": 1}
    assert page.facets["licence_verdict"] == {"missing": 1, "mismatch": 1, "ok": 1}
    narrowed = store.search(Query(filters={"region": ["中牟县"]}, facets=("platform",)))
    assert narrowed.facets["platform"] == {"jd": 1, "tb": 1}


def test_multi_select_facets_ignore_their_own_filter(store, loaded):
    query = Query(filters={"platform": ["tb"], "region": ["新郑市"]}, facets=("platform", "region", "severity"),
                  multi_select=True)
    page = store.search(query)
    assert ids_of(page) == [loaded["1"]] and page.total == 1          # the items obey every filter
    assert page.facets["platform"] == {"pdd": 1, "tb": 1}             # other platforms within 新郑市
    assert page.facets["region"] == {"中牟县": 1, "新郑市": 1}          # other regions within tb
    assert page.facets["severity"] == {"high": 1}                     # unfiltered keys: every filter
    plain = store.search(Query(filters=query.filters, facets=query.facets))
    assert plain.facets["platform"] == {"tb": 1} and plain.facets["region"] == {"新郑市": 1}
    texted = store.search(Query(text="血糖", filters={"platform": ["jd"]}, facets=("platform",), multi_select=True))
    assert ids_of(texted) == [] and texted.facets["platform"] == {"tb": 1}


def test_lease_before_finds_claims_whose_lease_ran_out(store):
    now = datetime.now(timezone.utc)
    items = [make(n) for n in range(1, 5)]
    for item, lease in zip(items, [now - timedelta(minutes=1), now + timedelta(minutes=5), None]):
        item.review.status, item.review.assignee, item.review.lease_until = "claimed", "li", lease
    store.upsert_many(items)            # items[3] stays new
    store.refresh()
    query = Query(filters={"status": ["claimed"]}, flagged_only=False, lease_before=now)
    assert set(ids_of(store.search(query))) == {items[0].id, items[2].id}
    later = Query(filters={"status": ["claimed"]}, flagged_only=False, lease_before=now + timedelta(minutes=10))
    assert set(ids_of(store.search(later))) == {items[0].id, items[1].id, items[2].id}


def test_brief_pages_carry_what_a_list_shows(store, loaded):
    full = {i.id: i for i in store.search(Query(size=10)).items}
    brief = store.search(Query(size=10, brief=True, text="血糖"))
    assert [i.id for i in brief.items] == [loaded["1"]]
    item = brief.items[0]
    assert (item.listing.title, item.listing.shop, item.analysis.findings, item.review, item.version) == \
        (full[item.id].listing.title, full[item.id].listing.shop, full[item.id].analysis.findings,
         full[item.id].review, full[item.id].version)


TEXT_CASES = [
    ("血糖", {"1"}),                 # two characters, inside the word 降血糖
    ("糖", {"1", "4"}),              # one character
    ("治疗糖尿病", {"1"}),
    ("血 糖", {"4"}),                # the space is part of what was searched for
    ("降糖", set()),                 # characters present, but not next to each other
    ("100%", {"2"}),                 # LIKE/wildcard characters are literal
    ("_特价", {"2"}),
    ("blood sugar", {"5"}),          # case-insensitive for Latin letters
]


def test_full_text_finds_chinese_substrings(store, loaded):
    # one test over all cases: loading the data set costs more than the searches
    found = {text: set(ids_of(store.search(Query(text=text)))) for text, _ in TEXT_CASES}
    assert found == {text: {loaded[n] for n in expected} for text, expected in TEXT_CASES}
    both = store.search(Query(text="血糖", filters={"platform": ["jd"]}, flagged_only=False))
    assert ids_of(both) == []


def test_time_and_due_bounds(store):
    store.upsert_many([make(1, seen=T0, due=T0 + timedelta(days=1)),
                       make(2, seen=T0 + timedelta(days=2), due=T0 + timedelta(days=5)),
                       make(3, seen=T0 + timedelta(days=4))])
    store.refresh()
    page = store.search(Query(since=T0 + timedelta(days=1), until=T0 + timedelta(days=4)))
    assert ids_of(page) == [make(2).id]
    page = store.search(Query(due_before=T0 + timedelta(days=2)))
    assert ids_of(page) == [make(1).id]
    page = store.search(Query(sort="due"))
    assert ids_of(page) == [make(1).id, make(2).id, make(3).id]     # undated last
    page = store.search(Query(sort="time"))
    assert ids_of(page) == [make(3).id, make(2).id, make(1).id]


@pytest.mark.parametrize("sort", ["risk", "due", "time"])
def test_search_after_paging_has_no_duplicates_or_gaps(store, sort):
    items = [make(n, risk=(0.3, 0.6, 0.9)[n % 3], seen=T0 + timedelta(hours=n % 4),
                  due=None if n % 5 == 0 else T0 + timedelta(days=n % 7)) for n in range(120)]
    store.upsert_many(items)
    store.refresh()
    everything = store.search(Query(sort=sort, size=500))
    assert everything.next_after is None and len(everything.items) == 120
    paged = all_pages(store, Query(sort=sort, size=17))
    assert paged == ids_of(everything)
    if sort == "risk":
        risks = [i.analysis.risk for i in everything.items]
        assert risks == sorted(risks, reverse=True)


def test_bad_queries_get_a_clear_error(store):
    with pytest.raises(StoreError, match="unknown filter"):
        store.search(Query(filters={"colour": ["red"]}))
    with pytest.raises(StoreError, match="unknown sort"):
        store.search(Query(sort="price"))


def test_ids_by_platform_and_count(store, loaded):
    assert sorted(store.ids()) == sorted(loaded.values())
    assert sorted(store.ids("jd")) == sorted([loaded["3"], loaded["4"]])
    assert store.count() == 5


# -- registry and meta -------------------------------------------------------------------
def test_registry_put_get_and_update(store):
    records = [{"licence_no": f"JY1410{n:08d}", "name": f"企业{n}", "valid_to": "2027-01-01"} for n in range(30)]
    assert store.put_registry("licence", records, key="licence_no") == 30
    assert store.put_registry("licence", [{"licence_no": "JY141000000003", "name": "改名企业"}],
                              key="licence_no") == 1
    got = list(store.registry("licence"))
    assert len(got) == 30
    assert {r["licence_no"]: r["name"] for r in got}["JY141000000003"] == "改名企业"
    assert list(store.registry("health_food")) == []


def test_registry_refuses_records_without_key_and_writes_none(store):
    with pytest.raises(StoreError, match="licence_no"):
        store.put_registry("licence", [{"licence_no": "JY1"}, {"name": "无编号"}], key="licence_no")
    assert list(store.registry("licence")) == []


def test_meta_put_get_list(store):
    store.put_meta("registry:licence", {"loaded": 30, "source": "导入.xlsx"})
    store.put_meta("crawl:tb:2025-03-01", {"pages": 12})
    store.put_meta("crawl:jd:2025-03-01", {"pages": 3})
    store.put_meta("crawl:tb:2025-03-01", {"pages": 13})
    assert store.get_meta("registry:licence") == {"loaded": 30, "source": "导入.xlsx"}
    assert store.get_meta("nope") is None
    assert store.list_meta("crawl:") == [("crawl:jd:2025-03-01", {"pages": 3}),
                                         ("crawl:tb:2025-03-01", {"pages": 13})]
