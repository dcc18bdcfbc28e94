"""Login and logout. Failed logins are rate-limited per address and per name, and audited."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from review_ui.context import audit, ctx
from review_ui.security import LoginUser

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a fresh login to another site."""
    if not target:
        return url_for("queue.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("queue.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("queue.index"))
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    c = ctx()
    name = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    keys = (f"ip:{request.remote_addr}", f"user:{name}")
    if c.limiter.blocked(*keys):
        audit("login_blocked", f"user:{name}", actor=name or "-")
        return render_template("login.html", error="登录失败次数过多，请一分钟后再试。", name=name,
                               next=request.form.get("next", "")), 429
    user = c.users.authenticate(name, password)
    if user is None:
        c.limiter.failed(*keys)
        audit("login_failed", f"user:{name}", actor=name or "-")
        return render_template("login.html", error="用户名或密码错误。", name=name,
                               next=request.form.get("next", "")), 401
    c.limiter.succeeded(*keys)
    session.clear()  # a fresh session on login: no fixation
    session_id = c.users.open_session(user.name)
    login_user(LoginUser(user, session_id))
    audit("login", f"user:{user.name}", actor=user.name)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    name = current_user.name
    ctx().users.close_session(current_user.id)
    logout_user()
    session.clear()
    audit("logout", f"user:{name}", actor=name)
    flash("已退出登录。")
    return redirect(url_for("auth.login"))
