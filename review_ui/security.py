"""Login (session or API token), roles, CSRF and security headers.

Every endpoint needs a logged-in user except the ones in PUBLIC. Sessions are server-side records
(shian.users): the cookie carries only a random session id, so logout or disabling a user ends the
session everywhere. API clients send `Authorization: Bearer TOKEN`; such requests carry no cookie
authority, so they are exempt from the CSRF check that every cookie-authenticated write must pass.
"""
from __future__ import annotations

from functools import wraps

from flask import Flask, abort, g, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from review_ui.context import ctx
from shian.users import User

PUBLIC = {"auth.login", "healthz", "static"}

PERMISSIONS = {
    "reviewer": {"view", "claim", "decide", "escalate", "tipoff"},
    "lead": {"view", "claim", "decide", "escalate", "second_review", "takeover", "set_due", "bulk",
             "export", "dashboard", "audit", "saved_views", "tipoff", "runs"},
    "enforcement": {"view", "keywords", "export", "dashboard", "tipoff"},
    "admin": {"view", "claim", "decide", "escalate", "second_review", "takeover", "set_due", "bulk",
              "export", "dashboard", "audit", "keywords", "saved_views", "tipoff", "runs"},
}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
# Evidence files are captured third-party bytes: never let them run anything in our origin.
EVIDENCE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"

csrf = CSRFProtect()
login_manager = LoginManager()


class LoginUser(UserMixin):
    """A user as Flask-Login sees it; `id` is the server-side session id (or '' for token requests)."""

    def __init__(self, user: User, session_id: str = ""):
        self.user = user
        self.id = session_id
        self.name = user.name
        self.role = user.role
        self.role_name = user.role_name

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, set())


@login_manager.user_loader
def _load_session(session_id: str):
    user = ctx().users.by_session(session_id)
    return LoginUser(user, session_id) if user else None


@login_manager.request_loader
def _load_token(req):
    header = req.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        user = ctx().users.by_token(header[7:].strip())
        if user:
            g.token_auth = True
            return LoginUser(user)
    return None


def wants_json() -> bool:
    return request.path.startswith("/api/")


@login_manager.unauthorized_handler
def _unauthorized():
    if wants_json():
        response = jsonify(error="unauthorized", message="需要登录或有效的 API 令牌")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="shian"'
        return response
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def requires(permission: str):
    """Refuse the view (403) unless the user's role grants `permission`; checked on the server."""
    def wrap(view):
        @wraps(view)
        def inner(*args, **kwargs):
            if not current_user.can(permission):
                if wants_json():
                    response = jsonify(error="forbidden", message="你的角色无权执行此操作")
                    response.status_code = 403
                    return response
                abort(403)
            return view(*args, **kwargs)
        inner.permission = permission
        return inner
    return wrap


def install_security(app: Flask) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, after we know how the user logged in
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"

    @app.before_request
    def _require_login():
        if request.endpoint in PUBLIC:
            if request.endpoint == "auth.login" and request.method == "POST":
                csrf.protect()
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not g.get("token_auth"):
            csrf.protect()
        return None

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        if wants_json():
            return jsonify(error="csrf", message="缺少或无效的 CSRF 令牌"), 400
        return render_template("error.html", code=400, message="表单已过期或缺少安全令牌（CSRF），请刷新页面后重试。"), 400

    @app.errorhandler(403)
    def _forbidden(exc):
        if wants_json():
            return jsonify(error="forbidden", message="你的角色无权执行此操作"), 403
        return render_template("error.html", code=403, message="你的角色无权访问此页面或执行此操作。"), 403

    @app.errorhandler(404)
    def _not_found(exc):
        if wants_json():
            return jsonify(error="not_found", message="未找到"), 404
        return render_template("error.html", code=404, message="未找到该页面或条目。"), 404

    @app.errorhandler(413)
    def _too_large(exc):
        if wants_json():
            return jsonify(error="too_large", message="请求过大"), 413
        return render_template("error.html", code=413, message="提交的内容过大。"), 413

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "no-referrer"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if request.endpoint != "static":
            h.setdefault("Cache-Control", "no-store")
        return response
