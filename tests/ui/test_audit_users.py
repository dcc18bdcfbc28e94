"""The hash-chained audit log, the users CLI and API tokens, and the audit viewer."""
from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from shian.audit import AuditLog
from shian.cli import main
from shian.users import Users
from tests.ui.data import finding_target, make_item


def test_audit_chain_detects_a_changed_and_a_deleted_event(tmp_path):
    log = AuditLog(tmp_path)
    for n in range(5):
        log.append("li", "decide", f"item:{n}", {"note": f"理由 {n}"})
    assert log.verify().ok and log.verify().checked == 5
    db = sqlite3.connect(log.path)
    # the triggers refuse ordinary edits...
    try:
        db.execute("UPDATE events SET actor = 'x' WHERE seq = 2")
        raise AssertionError("update was allowed")
    except sqlite3.DatabaseError:
        pass
    # ...and someone who drops them is still caught by the chain
    db.execute("DROP TRIGGER events_no_update")
    db.execute("UPDATE events SET details = '{\"note\":\"改过\"}' WHERE seq = 3")
    db.commit()
    bad = log.verify()
    assert not bad.ok and bad.first_bad_seq == 3
    db.execute("DROP TRIGGER events_no_delete")
    db.execute("DELETE FROM events WHERE seq >= 3")
    db.commit()
    assert log.verify().ok          # a clean prefix is still consistent...
    log.append("li", "decide", "item:9")
    db.execute("DELETE FROM events WHERE seq = 2")
    db.commit()
    gap = log.verify()
    assert not gap.ok and gap.first_bad_seq == 3   # ...but a hole in the middle is not


def test_users_cli_add_token_disable(settings):
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]
    added = runner.invoke(main, [*data, "users", "add", "wu", "--role", "lead", "--password-stdin"],
                          input="a-long-password\n")
    assert added.exit_code == 0, added.output
    assert Users(settings.data_dir).authenticate("wu", "a-long-password").role == "lead"
    short = runner.invoke(main, [*data, "users", "add", "qian", "--role", "reviewer", "--password-stdin"],
                          input="short\n")
    assert short.exit_code != 0 and "at least" in short.output
    dup = runner.invoke(main, [*data, "users", "add", "wu", "--role", "lead", "--password-stdin"],
                        input="a-long-password\n")
    assert dup.exit_code != 0 and "exists" in dup.output
    token = runner.invoke(main, [*data, "users", "token", "wu"]).output.strip()
    assert Users(settings.data_dir).by_token(token).name == "wu"
    assert runner.invoke(main, [*data, "users", "disable", "wu"]).exit_code == 0
    assert Users(settings.data_dir).by_token(token) is None
    assert Users(settings.data_dir).authenticate("wu", "a-long-password") is None
    actions = [e.action for e in AuditLog(settings.data_dir).events(target="user:wu")]
    assert {"user_add", "token_issued", "user_disable"} <= set(actions)


def test_passwords_are_stored_as_argon2_hashes(settings):
    users = Users(settings.data_dir)
    users.add("sun", "reviewer", "plain-text-pw")
    raw = users.path.read_bytes()
    assert b"plain-text-pw" not in raw and b"$argon2id$" in raw


def test_every_decision_is_audited_and_the_viewer_verifies_the_chain(app, store, login, settings):
    item = make_item(1, claims=[("降血糖", "disease_claim", "medium")])
    store.upsert(item)
    li = login("li")
    li.api("POST", f"/api/v1/items/{item.id}/claim")
    li.api("POST", f"/api/v1/items/{item.id}/decide", {"submit": True, "decisions": [
        {"target": finding_target(item, 0), "action": "confirm", "reason_code": "fsl71_disease_function"},
        {"target": "licence", "action": "confirm", "reason_code": "licence_forged"}]})
    events = AuditLog(settings.data_dir).events(target=f"item:{item.id}", newest_first=False)
    assert [e.action for e in events] == ["claim", "decide", "decide", "submit"]
    assert events[1].details["rule_id"] == "disease_claim.0" and events[1].details["reason_code"]
    lead = login("zhang")
    page = lead.get("/audit/?verify=1").get_data(as_text=True)
    assert 'data-verify="ok"' in page
    exported = lead.get(f"/audit/export.jsonl?target=item:{item.id}").get_data(as_text=True)
    assert exported.count("\n") == 4
    # the dashboard counts the decision toward the rule's precision
    assert "disease_claim.0" in lead.get("/dashboard/").get_data(as_text=True)
