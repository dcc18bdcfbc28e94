"""Reviewer and lead flows in real Chromium: filter, claim, decide with reasons, escalate, second review,
and keyboard-only triage."""
from __future__ import annotations

import pytest

from tests.ui.conftest import browser_login
from tests.ui.data import finding_target, make_item
from tests.ui.server import serving

pytestmark = pytest.mark.browser


def test_reviewer_decides_and_escalates_then_a_lead_approves(app, store, browser, page):
    target = make_item(1, title="蜂胶降糖胶囊", text="本品能降血糖，纯天然无副作用，专家推荐。",
                       claims=[("降血糖", "disease_claim", "high"), ("无副作用", "efficacy_guarantee", "medium")])
    others = [make_item(n, title=f"普通饼干 {n}", text="好吃的饼干，第一品牌。",
                        claims=[("第一品牌", "absolute_term", "low")]) for n in range(2, 6)]
    store.upsert_many([target, *others])
    store.refresh()
    with serving(app) as base:
        browser_login(page, base, "li")
        assert page.locator("tr[data-row]").count() == 5
        # filter: disease claims only, by the facet checkbox beside its count
        page.check("fieldset[data-facet=claim_type] input[value=disease_claim]")
        page.click("#filters button[type=submit]")
        page.wait_for_url("**claim_type=disease_claim**")
        assert page.locator("tr[data-row]").count() == 1
        page.click("tr[data-row] a.title")
        page.wait_for_selector("[data-claim]")
        page.click("[data-claim]")
        page.wait_for_selector("#decide-form")
        f0, f1 = finding_target(target, 0), finding_target(target, 1)
        assert "认领人：li" in page.inner_text(".claim-bar")
        # the finding is highlighted in place, escaped text around it
        assert page.inner_text("mark#hit-0") == "降血糖"
        page.check(f"fieldset[data-target='{f0}'] input[value=confirm]")
        page.select_option(f"fieldset[data-target='{f0}'] select", "fsl71_disease_function")
        page.check(f"fieldset[data-target='{f1}'] input[value=dismiss]")
        page.select_option(f"fieldset[data-target='{f1}'] select", "not_a_claim_context")
        page.fill(f"fieldset[data-target='{f1}'] input[name^=note]", "属于配料说明")
        page.check("fieldset[data-target=licence] input[value=confirm]")
        page.select_option("fieldset[data-target=licence] select", "licence_forged")
        page.click("button[value=save]")
        page.wait_for_selector("text=已保存")
        page.fill("[data-escalate-note]", "疑似冒用许可证，请科长定夺")
        page.click("#escalate-form button[type=submit]")
        page.wait_for_selector("text=已提交科长复核")
        stored = store.get(target.id)
        assert stored.review.status == "escalated"
        assert {d.target: d.action for d in stored.review.decisions if d.target != "item"} == {
            f0: "confirm", f1: "dismiss", "licence": "confirm"}

        lead = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        try:
            browser_login(lead, base, "zhang")
            lead.click("text=待复核")
            lead.wait_for_url("**status=escalated**")
            lead.click("tr[data-row] a.title")
            lead.click("[data-claim]")
            lead.wait_for_selector("#review-form")
            assert "li" in lead.inner_text("#review-form")
            lead.fill("#review-form input[name=note]", "同意，立案")
            lead.click("#review-form button[value=approve]")
            lead.wait_for_selector("text=复核通过")
        finally:
            lead.context.close()
    final = store.get(target.id)
    assert final.review.status == "decided" and final.review.outcome == "violation"
    assert final.review.decisions[-1].user == "zhang"


def test_keyboard_only_triage_of_three_items(app, store, page):
    items = [make_item(n, title=f"枸杞原浆 {n}", text=f"增强免疫力，改善睡眠，第{n}批。",
                       claims=[("增强免疫力", "health_function_on_ordinary_food", "medium"),
                               ("改善睡眠", "health_function_on_ordinary_food", "high")]) for n in range(3)]
    store.upsert_many(items)
    store.refresh()
    with serving(app) as base:
        browser_login(page, base, "li")
        page.keyboard.press("?")
        page.wait_for_selector("#help", state="visible")
        page.keyboard.press("Escape")
        page.wait_for_selector("#help", state="hidden")
        page.keyboard.press("s")                       # start: claim the top item of this view
        for n in range(3):
            page.wait_for_selector("#decide-form")
            assert page.evaluate("() => document.activeElement.matches('fieldset[data-target]')")
            page.keyboard.press("c")                   # confirm finding 1 (reason picked from its legal basis)
            page.keyboard.press("d")                   # dismiss finding 2: high severity, so the note gets focus
            page.keyboard.type("经核实为已注册保健食品")
            page.keyboard.press("Escape")              # back to the finding, focus kept on the form
            page.keyboard.press("j")                   # next: the licence verdict
            page.keyboard.press("c")                   # licence: confirm
            page.keyboard.press("Enter")               # submit and claim the next item
            if n < 2:
                page.wait_for_selector("text=已提交")
        page.wait_for_selector("text=已没有可认领的条目")
    for item in items:
        stored = store.get(item.id)
        assert stored.review.status == "decided", stored.review
        assert stored.review.outcome == "violation"
        actions = {d.target: (d.action, d.reason_code) for d in stored.review.decisions}
        assert actions[finding_target(item, 0)] == ("confirm", "reg38_ordinary_health_claim")
        assert actions[finding_target(item, 1)][0] == "dismiss"
        assert actions["licence"] == ("confirm", "licence_missing")
