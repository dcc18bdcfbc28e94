"""The review workflow on the store: claim with a lease, decide per finding/verdict, escalate, second review.

No Flask here: the HTML pages, the JSON API and bulk actions all call these functions, so the rules
(one conditional write per claim, reason codes from the legal basis, four-eyes) hold on every path.
Every state change is one compare-and-set `store.replace`; losing it raises Conflict, and a claim
that loses is answered with the name of whoever holds the item now.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from shian.models import Decision, ReviewItem
from shian.risk import due_for
from shian.store import Conflict, Query, Store

ACTIONS = ("confirm", "dismiss", "need_info")
ACTION_NAMES = {"confirm": "确认违法", "dismiss": "排除", "need_info": "需补充信息",
                "escalate": "提交科长", "approve": "复核通过", "reject": "退回重审"}
STATUS_NAMES = {"new": "待认领", "claimed": "审核中", "decided": "已处理", "escalated": "待科长复核",
                "closed": "已结案", "clean": "无问题"}
OUTCOME_NAMES = {"violation": "违法", "no_violation": "不违法", "need_info": "需补充信息", "": "—"}
SEVERITY_NAMES = {"high": "高", "medium": "中", "low": "低"}
VERDICT_TARGETS = ("licence", "health_reg")
OK_VERDICTS = {"licence": {"ok"}, "health_reg": {"ok", "n/a"}}


class ReviewError(ValueError):
    """A request the workflow refuses; the message is Chinese and shown to the reviewer."""


class Held(ReviewError):
    """Someone else holds the item's claim."""

    def __init__(self, holder: str, until: datetime | None):
        super().__init__(f"该条目已被 {holder} 认领")
        self.holder = holder
        self.until = until


class NotClaimed(ReviewError):
    """The user does not hold the item's claim (never claimed, released or lease expired)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


# -- reason codes ------------------------------------------------------------------
@dataclass(frozen=True)
class Reason:
    code: str
    label: str


class Reasons:
    """config/reasons.yaml: reason codes per finding type / verdict kind and action."""

    def __init__(self, data: dict):
        self.data = data or {}

    @classmethod
    def load(cls, config_dir: Path) -> "Reasons":
        path = Path(config_dir) / "reasons.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise RuntimeError(f"cannot read reason codes from {path}: {exc}") from exc
        return cls(data)

    def section(self, kind: str) -> dict:
        if kind in VERDICT_TARGETS:
            return (self.data.get("verdicts") or {}).get(kind) or {}
        return (self.data.get("findings") or {}).get(kind) or {}

    def options(self, kind: str, action: str) -> list[Reason]:
        own = self.section(kind).get(action) or []
        common = [] if kind in VERDICT_TARGETS else (self.data.get("common") or {}).get(action) or []
        return [Reason(r["code"], r["label"]) for r in [*own, *common]]

    def all_options(self, kind: str) -> dict[str, list[Reason]]:
        return {action: self.options(kind, action) for action in ACTIONS}

    def basis(self, kind: str) -> str:
        return self.section(kind).get("basis", "")

    def name(self, kind: str) -> str:
        return self.section(kind).get("name", kind)

    def label(self, code: str) -> str:
        for group in [self.data.get("common") or {}, *(self.data.get("findings") or {}).values(),
                      *(self.data.get("verdicts") or {}).values()]:
            for action in ACTIONS:
                for r in (group or {}).get(action) or []:
                    if r["code"] == code:
                        return r["label"]
        return code


# -- targets and decisions -------------------------------------------------------------
@dataclass
class Target:
    key: str              # finding:<Finding.key> | licence | health_reg
    kind: str             # finding type or verdict kind (for reason codes)
    severity: str         # high | medium | low


def targets(item: ReviewItem) -> list[Target]:
    """What a reviewer must decide on: every finding, and every verdict that is not ok."""
    out = [Target(f"finding:{f.key}", f.type, f.severity) for f in item.analysis.findings]
    for kind in VERDICT_TARGETS:
        verdict = getattr(item.analysis, kind)
        if verdict is not None and verdict.verdict not in OK_VERDICTS[kind]:
            out.append(Target(kind, kind, "medium"))
    return out


def round_decisions(item: ReviewItem) -> list[Decision]:
    """Decisions of the current round: everything after the last time a lead sent the item back."""
    decisions = item.review.decisions
    for i in range(len(decisions) - 1, -1, -1):
        if decisions[i].target == "item" and decisions[i].action == "reject":
            return decisions[i + 1:]
    return list(decisions)


def current(item: ReviewItem) -> dict[str, Decision]:
    """The latest decision per target in the current round."""
    out: dict[str, Decision] = {}
    for d in round_decisions(item):
        if d.target != "item":
            out[d.target] = d
    return out


def outcome(item: ReviewItem) -> str:
    """The item's outcome follows from its findings: any confirmed -> violation; open questions -> need_info."""
    actions = {d.action for d in current(item).values()}
    if "confirm" in actions:
        return "violation"
    if "need_info" in actions:
        return "need_info"
    return "no_violation"


def needs_second_review(item: ReviewItem) -> bool:
    """Four-eyes: a confirmed high-severity finding needs a second person before it is final."""
    decided = current(item)
    for t in targets(item):
        d = decided.get(t.key)
        if d is not None and d.action == "confirm" and t.severity == "high":
            return True
    return False


def holder(item: ReviewItem, now: datetime | None = None) -> str:
    """Who holds the claim now ('' when nobody does or the lease ran out)."""
    lease = _aware(item.review.lease_until)
    if item.review.assignee and lease is not None and lease > (now or utcnow()):
        return item.review.assignee
    return ""


# -- the workflow --------------------------------------------------------------------
class Workflow:
    """Review operations for one store and one set of review settings."""

    def __init__(self, store: Store, review_settings, reasons: Reasons):
        self.store = store
        self.settings = review_settings
        self.reasons = reasons

    def _write(self, item: ReviewItem) -> ReviewItem:
        return self.store.replace(item)

    def claim(self, item_id: str, user: str, role: str, takeover: bool = False,
              now: datetime | None = None) -> tuple[ReviewItem, str]:
        """Claim (or renew) an item with a lease: one conditional write.

        Returns the item and the previous holder when a lead took it over. Raises Held naming the
        holder when someone else has it, ReviewError when the item is not claimable.
        """
        now = now or utcnow()
        item = self.store.get(item_id)
        state = item.review
        current_holder = holder(item, now)
        if current_holder and current_holder != user and not takeover:
            raise Held(current_holder, _aware(state.lease_until))
        if takeover and role not in ("lead", "admin"):
            raise ReviewError("只有科长可以接管他人认领的条目")
        if state.status == "escalated" and role not in ("lead", "admin"):
            raise ReviewError("该条目待科长复核，审核员不能认领")
        if state.status in ("decided", "closed", "clean"):
            raise ReviewError(f"该条目状态为“{STATUS_NAMES[state.status]}”，不能认领")
        taken_from = current_holder if current_holder and current_holder != user else ""
        if state.status == "new":
            state.status = "claimed"
        state.assignee = user
        state.lease_until = now + timedelta(seconds=self.settings.lease_s)
        if state.due is None:
            state.due = due_for(item, self.settings.due_hours)
        try:
            return self._write(item), taken_from
        except Conflict as exc:
            # Someone wrote between our read and write: tell the loser who holds it now.
            fresh = exc.current or self.store.get(item_id)
            winner = holder(fresh, utcnow())
            if winner and winner != user:
                raise Held(winner, _aware(fresh.review.lease_until)) from exc
            raise ReviewError("该条目刚被他人修改，请刷新后重试") from exc

    def release(self, item_id: str, user: str) -> ReviewItem:
        item = self.store.get(item_id)
        if holder(item) != user:
            raise NotClaimed("你没有认领该条目")
        self._return_to_queue(item)
        return self._write(item)

    @staticmethod
    def _return_to_queue(item: ReviewItem) -> None:
        if item.review.status == "claimed":
            item.review.status = "new"
        item.review.assignee = ""
        item.review.lease_until = None

    def return_expired(self, now: datetime | None = None, limit: int = 1000) -> list[str]:
        """Put items whose lease ran out back in the queue; returns their ids."""
        now = now or utcnow()
        returned: list[str] = []
        # only items whose lease already ended come back from the store: usually none
        query = Query(filters={"status": ["claimed"]}, flagged_only=False, lease_before=now, sort="time",
                      size=200, exact_total=False)
        while len(returned) < limit:
            page = self.store.search(query)
            for item in page.items:
                if item.review.assignee and not holder(item, now):
                    self._return_to_queue(item)
                    try:
                        self._write(item)
                        returned.append(item.id)
                    except Conflict:
                        pass  # someone claimed or renewed it meanwhile: theirs wins
            if page.next_after is None:
                break
            query.after = page.next_after
        if returned:
            self.store.refresh()
        return returned

    def _held_by(self, item_id: str, user: str) -> ReviewItem:
        item = self.store.get(item_id)
        if holder(item) != user:
            who = holder(item)
            raise Held(who, item.review.lease_until) if who else NotClaimed("请先认领该条目（认领已过期或未认领）")
        return item

    def decide(self, item_id: str, user: str, role: str, decisions: list[dict], submit: bool = False,
               batch_id: str = "", now: datetime | None = None) -> ReviewItem:
        """Record decisions (each {target, action, reason_code, note}); with submit, finish the item.

        Submitting needs a decision on every target. The outcome follows from the findings; under
        the four-eyes rule a confirmed high-severity item goes to a lead instead of being final.
        """
        now = now or utcnow()
        item = self._held_by(item_id, user)
        by_key = {t.key: t for t in targets(item)}
        for raw in decisions:
            key = str(raw.get("target", ""))
            action = str(raw.get("action", ""))
            code = str(raw.get("reason_code", "") or "")
            note = str(raw.get("note", "") or "").strip()
            target = by_key.get(key)
            if target is None:
                raise ReviewError(f"没有这个审核对象：{key}")
            if action not in ACTIONS:
                raise ReviewError(f"未知的处理动作：{action}")
            allowed = {r.code for r in self.reasons.options(target.kind, action)}
            if code not in allowed:
                raise ReviewError(f"{self._label(item, key)}：请选择“{ACTION_NAMES[action]}”的理由（依据法律条款）")
            if action == "dismiss" and target.severity == "high" and not note:
                raise ReviewError(f"{self._label(item, key)}：排除高风险发现必须填写说明")
            if len(note) > 4000:
                raise ReviewError("说明过长（最多 4000 字）")
            item.review.decisions.append(Decision(target=key, action=action, reason_code=code, note=note,
                                                  user=user, at=now, batch_id=batch_id))
        if submit:
            self._finish(item, user, role, now, batch_id)
        else:
            item.review.lease_until = now + timedelta(seconds=self.settings.lease_s)
        return self._write(item)

    def _label(self, item: ReviewItem, key: str) -> str:
        if key.startswith("finding:"):
            finding = item.analysis.finding(key)
            return f"发现（{finding.text[:20] if finding else '已不存在'}）"
        return {"licence": "许可证核验", "health_reg": "保健食品注册核验"}.get(key, key)

    def _finish(self, item: ReviewItem, user: str, role: str, now: datetime, batch_id: str) -> None:
        decided = current(item)
        missing = [t.key for t in targets(item) if t.key not in decided]
        if missing:
            raise ReviewError("还有未处理的审核对象：" + "、".join(self._label(item, k) for k in missing))
        state = item.review
        state.outcome = outcome(item)
        others = {d.user for d in round_decisions(item)} - {user}
        second_person_present = state.status == "escalated" and role in ("lead", "admin") and bool(others)
        if self.settings.four_eyes and needs_second_review(item) and not second_person_present:
            state.status = "escalated"
            state.decisions.append(Decision(target="item", action="escalate", user=user, at=now,
                                            note="四眼原则：确认的高风险违法需另一人复核", batch_id=batch_id))
            state.assignee = ""
        else:
            state.status = "decided"
            state.assignee = user
        state.lease_until = None

    def escalate(self, item_id: str, user: str, note: str, batch_id: str = "",
                 now: datetime | None = None) -> ReviewItem:
        note = (note or "").strip()
        if not note:
            raise ReviewError("提交科长需要填写说明")
        item = self._held_by(item_id, user)
        item.review.decisions.append(Decision(target="item", action="escalate", note=note[:4000], user=user,
                                              at=now or utcnow(), batch_id=batch_id))
        item.review.status = "escalated"
        item.review.assignee = ""
        item.review.lease_until = None
        return self._write(item)

    def second_review(self, item_id: str, user: str, role: str, action: str, note: str = "",
                      now: datetime | None = None) -> ReviewItem:
        """A lead approves the decisions (final) or sends the item back for a new round."""
        if role not in ("lead", "admin"):
            raise ReviewError("只有科长可以复核")
        if action not in ("approve", "reject"):
            raise ReviewError(f"未知的复核动作：{action}")
        now = now or utcnow()
        item = self._held_by(item_id, user)
        if item.review.status != "escalated":
            raise ReviewError("该条目不在待复核状态")
        deciders = {d.user for d in round_decisions(item) if d.target != "item"}
        if action == "approve":
            if user in deciders:
                raise ReviewError("四眼原则：复核人不能是作出决定的审核员")
            decided = current(item)
            if any(t.key not in decided for t in targets(item)):
                raise ReviewError("审核员尚未处理全部发现，请自行处理后提交，或退回重审")
            item.review.outcome = outcome(item)
            item.review.status = "decided"
        else:
            if not (note or "").strip():
                raise ReviewError("退回重审需要填写说明")
            item.review.status = "new"
            item.review.outcome = ""
        item.review.decisions.append(Decision(target="item", action=action, note=(note or "").strip()[:4000],
                                              user=user, at=now))
        item.review.assignee = "" if action == "reject" else user
        item.review.lease_until = None
        return self._write(item)

    def set_due(self, item_id: str, due: datetime) -> tuple[ReviewItem, datetime | None]:
        item = self.store.get(item_id)
        before = item.review.due
        item.review.due = _aware(due)
        return self._write(item), before

    def next_claimable(self, query: Query, user: str, role: str, skip: set[str] = frozenset(),
                       attempts: int = 5) -> ReviewItem | None:
        """Claim the first item of a queue view that nobody holds (submit-and-next)."""
        q = Query(**{**query.__dict__, "size": 20, "after": None, "facets": ()})
        for _ in range(attempts):
            page = self.store.search(q)
            for item in page.items:
                if item.id in skip or holder(item) or item.review.status not in ("new", "claimed", "escalated"):
                    continue
                if item.review.status == "escalated" and role not in ("lead", "admin"):
                    continue
                try:
                    claimed, _ = self.claim(item.id, user, role)
                    return claimed
                except ReviewError:
                    continue
            if page.next_after is None:
                return None
            q.after = page.next_after
        return None
