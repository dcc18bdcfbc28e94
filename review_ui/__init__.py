"""The review queue (Flask). `create_app()` wires the store, users, audit log and one blueprint per feature."""
from __future__ import annotations

import logging
import secrets

from flask import Flask, jsonify

from shian.audit import open_audit
from shian.settings import Settings, get_settings
from shian.store import Store, open_store
from shian.users import open_users

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, store: Store | None = None) -> Flask:
    from review_ui import api, audit_view, auth, dashboard, items, keywords, packages, queue, runs, tipoff
    from review_ui.context import Context
    from review_ui.review import Reasons, Workflow
    from review_ui.security import install_security
    from review_ui.templating import install_templating

    settings = settings or get_settings()
    store = store or open_store(settings)
    app = Flask(__name__)

    secret = settings.secret_key
    if not secret:
        secret = secrets.token_urlsafe(48)
        log.warning("SHIAN_SECRET_KEY is empty: using a random key for this process only (demo mode); "
                    "every login ends when the process stops")
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="shian_session",
        REMEMBER_COOKIE_SECURE=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False

    reasons = Reasons.load(settings.config_dir)
    app.extensions["shian"] = Context(
        settings=settings, store=store, users=open_users(settings), audit=open_audit(settings),
        workflow=Workflow(store, settings.review, reasons), reasons=reasons)

    install_security(app)
    install_templating(app)
    for module in (auth, queue, items, api, dashboard, audit_view, keywords, packages, tipoff, runs):
        app.register_blueprint(module.bp)

    @app.get("/healthz")
    def healthz():
        try:
            count = store.count()
        except Exception as exc:  # the health check reports, never raises
            return jsonify(status="error", store=type(exc).__name__), 503
        return jsonify(status="ok", items=count)

    return app
