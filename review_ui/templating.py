"""Jinja setup: autoescape always on, broken text made printable, Chinese labels and local times."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask
from markupsafe import Markup

from review_ui.highlight import clean, field_label
from review_ui.review import ACTION_NAMES, OUTCOME_NAMES, SEVERITY_NAMES, STATUS_NAMES

CLAIM_TYPE_NAMES = {
    "disease_claim": "疾病预防治疗宣称", "health_function_on_ordinary_food": "普通食品宣称保健功能",
    "unapproved_function": "超范围/未批准功能", "absolute_term": "绝对化用语", "efficacy_guarantee": "功效保证",
    "medical_endorsement": "医疗/权威背书", "illegal_additive": "非法添加信号", "minors_targeting": "针对未成年人",
    "health_function": "保健功能（按产品类型判定）",
}
LICENCE_NAMES = {
    "ok": "正常", "missing": "未公示", "malformed": "格式错误", "not_in_registry": "查无此证",
    "holder_mismatch": "主体不符", "expired": "已失效", "scope_mismatch": "超范围", "obsolete_format": "旧版证照",
}
HEALTH_REG_NAMES = {
    "ok": "正常", "n/a": "不适用", "missing_for_health_claims": "宣称保健功能但无注册号",
    "not_in_registry": "查无此号/不符", "functions_exceeded": "超出注册功能",
}
PLATFORM_NAMES = {"shop": "商城（演示）", "spa": "单页商城（演示）", "live": "直播间（演示）", "tipoff": "线索取证"}
KIND_NAMES = {"listing": "商品", "live": "直播"}
AUDIT_ACTIONS = {
    "login": "登录", "login_failed": "登录失败", "login_blocked": "登录受限", "logout": "退出",
    "view": "查看条目", "view_evidence": "查看证据文件", "claim": "认领", "release": "释放认领",
    "takeover": "接管认领", "lease_expired": "认领到期退回", "decide": "作出决定", "submit": "提交结论",
    "escalate": "提交科长", "second_review": "科长复核", "set_due": "修改截止时间", "bulk": "批量操作",
    "save_view": "保存视图", "export": "导出表格", "export_audit": "导出审计日志",
    "export_request": "申请导出证据包", "export_approve": "批准导出证据包", "export_reject": "驳回导出申请",
    "export_download": "下载证据包", "evidence.export": "生成证据包",
    "keyword_draft": "词表草稿", "keyword_discard": "放弃词表草稿", "keyword_publish": "发布词表",
    "keyword_rescan": "词表重新扫描", "tipoff_submit": "提交线索取证", "tipoff_capture": "线索取证完成",
    "user_add": "添加用户", "user_disable": "停用用户", "token_issued": "生成 API 令牌",
}
KEYWORD_LISTS = {"absolute": "绝对化用语", "additives": "非法添加信号", "disease": "疾病预防治疗宣称",
                 "efficacy": "功效保证", "endorsement": "医疗/权威背书", "functions": "保健功能",
                 "minors": "针对未成年人", "unapproved": "超范围/未批准功能"}
KEYWORD_OPS = {"add": "新增条目", "severity": "修改等级", "disable": "停用条目", "enable": "启用条目"}
LABELS = {"status": STATUS_NAMES, "severity": SEVERITY_NAMES, "claim_type": CLAIM_TYPE_NAMES,
          "licence_verdict": LICENCE_NAMES, "health_reg_verdict": HEALTH_REG_NAMES,
          "platform": PLATFORM_NAMES, "kind": KIND_NAMES, "action": ACTION_NAMES, "outcome": OUTCOME_NAMES, "keyword_op": KEYWORD_OPS,
          "audit_action": AUDIT_ACTIONS, "keyword_list": KEYWORD_LISTS}


def label(kind: str, value) -> str:
    if value is None or value == "":
        return "—"
    return LABELS.get(kind, {}).get(value, str(value))


def _finalize(value):
    # Markup is already escaped by us; plain strings get autoescaped after this.
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean(value)
    return "" if value is None else value


def install_templating(app: Flask) -> None:
    app.jinja_env.autoescape = True
    app.jinja_env.finalize = _finalize
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    tz = ZoneInfo(app.extensions["shian"].settings.timezone)

    @app.template_filter("local")
    def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if not value:
            return "—"
        if isinstance(value, str):       # ISO text from JSON records (keyword drafts and versions)
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(tz).strftime(fmt)

    app.add_template_filter(field_label, "field_label")

    @app.template_filter("label")
    def _label(value, kind: str) -> str:
        return label(kind, value)

    @app.template_filter("short")
    def short(value: str, n: int = 80) -> str:
        value = clean(value or "")
        return value if len(value) <= n else value[:n] + "…"

    @app.template_filter("offset")
    def offset(seconds) -> str:
        if seconds is None:
            return ""
        s = int(seconds)
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"

    @app.context_processor
    def _globals():
        return {"now": datetime.now(timezone.utc), "label": label, "audit_actions": AUDIT_ACTIONS}
