"""Keyword-list editing: add / disable / enable / change severity with a reason, validation by the nlp
loader, dry run over stored items, publish as a recorded version, re-scan through the pipeline.

Every test edits a temporary copy of config/ (settings.config_dir points at it), never the repo's lists.
"""
from __future__ import annotations

import re
import shutil
import threading
from datetime import datetime, timezone

import pytest

import nlp
from review_ui.listversions import history, open_drafts
from shian.audit import AuditLog
from shian.models import Decision, Listing, Shop
from shian.pipeline import Pipeline
from shian.settings import CONFIG_DIR
from tests.ui.conftest import browser_login
from tests.ui.data import finding_target, make_item
from tests.ui.server import serving

STAR = "星光因子"           # a made-up claim no shipped list knows


@pytest.fixture(autouse=True)
def config_copy(settings, tmp_path):
    """settings.config_dir -> a scratch copy of config/; the process-wide lists follow it and come back after."""
    copy = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, copy)
    original = settings.config_dir
    settings.config_dir = copy
    nlp.lexicon_holder().force_check()
    yield copy
    settings.config_dir = original
    nlp.lexicon_holder().force_check()


def listing(n: int, title: str, text: str) -> Listing:
    return Listing(platform="shop", kind="listing", url=f"http://127.0.0.1/item/{n}", item_id=str(n), title=title,
                   text=text, shop=Shop(name="好味食品商行", operator_name="好味食品商行", region="新郑市"),
                   captured_at=datetime.now(timezone.utc))


@pytest.fixture
def stored(settings, store):
    """Three listings analysed by the real pipeline: one with the made-up claim, one with a disease claim."""
    pipeline = Pipeline(settings, store)
    star = pipeline.process(listing(1, "星光蜂蜜", f"富含{STAR}，每天一勺精神好。")).item
    sugar = pipeline.process(listing(2, "苦瓜片", "这款苦瓜片能降血糖。")).item
    plain = pipeline.process(listing(3, "红枣", "新疆红枣，个大肉厚。")).item
    store.refresh()
    return {"star": star, "sugar": sugar, "plain": plain}


def wait_for(condition, timeout: float = 60.0):
    """Poll a condition without sleeping the thread blindly; fail after `timeout` seconds."""
    tick = threading.Event()
    deadline = datetime.now(timezone.utc).timestamp() + timeout
    while datetime.now(timezone.utc).timestamp() < deadline:
        value = condition()
        if value:
            return value
        tick.wait(0.05)
    raise AssertionError("condition not met in time")


def finish_job(session, job_id: str) -> dict:
    return wait_for(lambda: (j := session.get(f"/keywords/jobs/{job_id}/progress").get_json())["state"]
                    in ("done", "failed") and j)


def edit(session, name: str, **form):
    """Submit an edit; wait for its dry run; return (draft id, draft page html)."""
    response = session.post(f"/keywords/{name}/edit", form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    draft_id = response.headers["Location"].rsplit("/", 1)[-1]
    html = wait_for(lambda: "data-dry-run" in (h := session.get(f"/keywords/drafts/{draft_id}")
                                                .get_data(as_text=True)) and h)
    return draft_id, html


def publish(session, draft_id: str) -> dict:
    response = session.post(f"/keywords/drafts/{draft_id}/publish")
    assert response.status_code == 302 and "/keywords/jobs/" in response.headers["Location"], \
        session.get(f"/keywords/drafts/{draft_id}").get_data(as_text=True)[:1500]
    job = finish_job(session, response.headers["Location"].rsplit("/", 1)[-1])
    assert job["state"] == "done", job
    return job


def number(html: str, attr: str) -> int:
    return int(re.search(rf"<b {attr}>(\d+)</b>", html).group(1))


def test_keyword_edit_with_dry_run_and_rescan_in_the_browser(app, store, settings, stored, page, config_copy):
    repo_list = (CONFIG_DIR / "keywords" / "efficacy.yaml").read_text(encoding="utf-8")
    assert not any(f.rule_id == "efficacy.star_factor" for f in stored["star"].analysis.findings)
    with serving(app) as base:
        browser_login(page, base, "zhao")                      # 执法人员
        page.click("header nav >> text=关键词词表")
        page.click("tr[data-list=efficacy] a")
        form = page.locator("#add-entry")
        form.locator("input[name=new_id]").fill("efficacy.star_factor")
        form.locator("select[name=type]").select_option("efficacy_guarantee")
        form.locator("select[name=severity]").select_option("medium")
        form.locator("textarea[name=phrases]").fill(STAR)
        form.locator("textarea[name=examples]").fill(f"本品富含{STAR}")
        form.locator("input[name=reason]").fill("专项检查发现新的虚假功效用语")
        form.locator("button[type=submit]").click()
        # the draft page shows the diff, then the dry run's progress, then its result (the page script polls)
        page.wait_for_url("**/keywords/drafts/**")
        assert f"+    phrases: [{STAR}]" in page.inner_text("pre.diff-text")
        page.wait_for_selector("[data-dry-run]", timeout=60000)
        assert page.inner_text("[data-new-hits]") == "1"
        assert page.inner_text("[data-lost-hits]") == "0"
        assert page.inner_text("[data-open-affected]") == "1"
        row = page.locator(f"tr[data-dry-item='{stored['star'].id}']")
        assert STAR in row.inner_text() and "efficacy.star_factor" in row.inner_text()
        assert page.locator("tr[data-dry-item]").count() == 1
        # nothing is written before publishing
        assert STAR not in (config_copy / "keywords" / "efficacy.yaml").read_text(encoding="utf-8")
        page.click("#publish-form button")
        page.wait_for_url("**/keywords/jobs/**")
        page.wait_for_selector("[data-job-done]", timeout=60000)
        assert page.inner_text("[data-changed]") == "1"
        # the list page shows the entry and the version record with its author
        page.goto(base + "/keywords/efficacy")
        assert page.locator("tr[data-entry='efficacy.star_factor']").count() == 1
        assert "zhao" in page.inner_text("table.keyword-history tbody tr:first-child")

    versions = history(settings.data_dir, "efficacy")
    assert len(versions) == 1
    v = versions[0]
    assert v["author"] == "zhao" and v["reason"] == "专项检查发现新的虚假功效用语"
    assert f"+    phrases: [{STAR}]" in v["diff"] and v["version"].startswith("efficacy@")
    assert nlp.lexicon_holder().get().versions["efficacy.yaml"] == v["version"]
    # the re-scan went through the pipeline: the finding carries the published version id
    star = store.get(stored["star"].id)
    hit = [f for f in star.analysis.findings if f.rule_id == "efficacy.star_factor"]
    assert len(hit) == 1 and hit[0].text == STAR and hit[0].list_version == v["version"]
    assert star.review.status == "new"
    assert [f.rule_id for f in store.get(stored["sugar"].id).analysis.findings] == \
        [f.rule_id for f in stored["sugar"].analysis.findings]
    events = AuditLog(settings.data_dir).events(target="keywords:efficacy")
    assert {"keyword_draft", "keyword_publish", "keyword_rescan"} <= {e.action for e in events}
    assert all(e.actor == "zhao" for e in events)
    # the repo's own lists were never touched
    assert (CONFIG_DIR / "keywords" / "efficacy.yaml").read_text(encoding="utf-8") == repo_list


def test_an_invalid_edit_is_refused_with_the_loaders_file_line_and_reason(app, login, config_copy, settings):
    zhao = login("zhao")
    path = config_copy / "keywords" / "efficacy.yaml"
    before = path.read_text(encoding="utf-8")
    bad = zhao.post("/keywords/efficacy/edit", {"op": "add", "new_id": "efficacy.one_char", "type": "efficacy_guarantee",
                                                "severity": "high", "legal_basis": "广告法第二十八条", "phrases": "星",
                                                "reason": "测试"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert re.search(r"efficacy\.yaml 第 \d+ 行：efficacy\.one_char: phrase &#39;星&#39; is shorter", html), html[:3000]
    assert 'value="efficacy.one_char"' in html                   # what was typed is kept
    no_reason = zhao.post("/keywords/efficacy/edit", {"op": "severity", "entry_id": "efficacy.onset",
                                                      "severity": "low", "reason": "  "})
    assert no_reason.status_code == 400 and "请填写修改理由" in no_reason.get_data(as_text=True)
    wrong_example = zhao.post("/keywords/efficacy/edit", {
        "op": "add", "new_id": "efficacy.star_factor", "type": "efficacy_guarantee", "severity": "high",
        "legal_basis": "广告法第二十八条", "phrases": STAR, "examples": "完全无关的一句话", "reason": "测试"})
    assert wrong_example.status_code == 400 and "例句未命中" in wrong_example.get_data(as_text=True)
    assert path.read_text(encoding="utf-8") == before
    assert open_drafts(settings.data_dir) == []


def test_disable_and_enable_an_entry_remove_and_restore_its_findings(app, store, login, stored, config_copy, settings):
    sugar_id = stored["sugar"].id
    assert any(f.rule_id == "disease.lower_sugar" for f in stored["sugar"].analysis.findings)
    zhao = login("zhao")
    draft_id, html = edit(zhao, "disease", op="disable", entry_id="disease.lower_sugar", reason="误报过多，暂停使用")
    assert number(html, "data-lost-hits") >= 1 and number(html, "data-open-affected") == 1
    row = re.search(rf'<tr data-dry-item="{sugar_id}".*?</tr>', html, re.S).group(0)
    lost = row.split("</td>")[3]                                  # the "lost hits" column
    assert "disease.lower_sugar" in lost and "降血糖" in lost
    publish(zhao, draft_id)
    text = (config_copy / "keywords" / "disease.yaml").read_text(encoding="utf-8")
    assert "  #~ - id: disease.lower_sugar" in text and "# 已停用" in text and "误报过多，暂停使用" in text
    assert not any(f.rule_id == "disease.lower_sugar" for f in store.get(sugar_id).analysis.findings)
    page = zhao.get("/keywords/disease").get_data(as_text=True)
    assert re.search(r'<tr data-entry="disease.lower_sugar" class="disabled', page)

    draft_id, html = edit(zhao, "disease", op="enable", entry_id="disease.lower_sugar", reason="规则已修正")
    assert number(html, "data-new-hits") >= 1
    publish(zhao, draft_id)
    assert any(f.rule_id == "disease.lower_sugar" for f in store.get(sugar_id).analysis.findings)
    versions = history(settings.data_dir, "disease")
    assert [v["change"]["op"] for v in versions] == ["enable", "disable"]
    assert versions[0]["previous"] == versions[1]["version"]


def test_a_severity_change_shows_in_the_dry_run_and_is_published_as_a_version(app, store, login, stored,
                                                                               config_copy, settings):
    zhao = login("zhao")
    draft_id, html = edit(zhao, "disease", op="severity", entry_id="disease.lower_sugar", severity="medium",
                          reason="首次发现者多为误用")
    assert number(html, "data-severity-changed") >= 1 and number(html, "data-new-hits") == 0
    publish(zhao, draft_id)
    bundle = nlp.lexicon_holder().get()
    assert next(e for e in bundle.entries if e.id == "disease.lower_sugar").severity == "medium"
    version_page = zhao.get(f"/keywords/disease/versions/{history(settings.data_dir, 'disease')[0]['version']}")
    assert version_page.status_code == 200 and "+    severity: medium" in version_page.get_data(as_text=True)


def test_a_draft_made_from_an_older_list_cannot_be_published(app, login, stored, config_copy):
    zhao, root = login("zhao"), login("root")
    first, _ = edit(zhao, "disease", op="severity", entry_id="disease.cancer", severity="medium", reason="甲")
    second, _ = edit(root, "disease", op="disable", entry_id="disease.symptoms", reason="乙")
    publish(zhao, first)
    refused = root.post(f"/keywords/drafts/{second}/publish")
    assert refused.status_code == 302 and refused.headers["Location"].endswith(second)
    assert "已被修改" in root.get(f"/keywords/drafts/{second}").get_data(as_text=True)
    text = (config_copy / "keywords" / "disease.yaml").read_text(encoding="utf-8")
    assert "#~ - id: disease.symptoms" not in text


def test_precision_per_entry_comes_from_decisions_on_its_findings(app, store, login):
    for n, action in enumerate(["confirm", "confirm", "dismiss", "need_info"], start=1):
        item = make_item(n, claims=[("降血糖", "disease_claim", "high")])
        item.analysis.findings[0].rule_id = "disease.lower_sugar"
        item.review.status = "decided"
        item.review.decisions = [Decision(target=finding_target(item, 0), action=action, user="li")]
        store.upsert(item)
    store.refresh()
    html = login("zhao").get("/keywords/disease").get_data(as_text=True)
    row = re.search(r'<tr data-entry="disease.lower_sugar".*?</tr>', html, re.S).group(0)
    assert "67%（2/3）" in row


def test_only_enforcement_and_admin_edit_keyword_lists(app, login, config_copy):
    for name in ("li", "zhang"):                                  # reviewer, lead
        s = login(name)
        assert s.get("/keywords/").status_code == 403
        assert s.post("/keywords/disease/edit", {"op": "severity", "entry_id": "disease.cancer", "severity": "low",
                                                 "reason": "x"}).status_code == 403
    assert login("root").get("/keywords/disease").status_code == 200
    assert "#~" not in (config_copy / "keywords" / "disease.yaml").read_text(encoding="utf-8")
