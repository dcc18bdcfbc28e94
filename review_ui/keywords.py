"""Keyword lists (config/keywords/*.yaml, owned by the nlp stage's format): view, and later edit and publish."""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from flask import Blueprint, render_template

from review_ui.context import ctx
from review_ui.security import requires

bp = Blueprint("keywords", __name__, url_prefix="/keywords")


def keywords_dir() -> Path:
    return Path(ctx().settings.config_dir) / "keywords"


def _entries(data) -> list:
    if isinstance(data, dict):
        for key in ("entries", "phrases", "rules", "keywords"):
            if isinstance(data.get(key), list):
                return data[key]
        return []
    return data if isinstance(data, list) else []


def list_summaries() -> list[dict]:
    """Each list file with its version (content hash) and entry count."""
    out = []
    for path in sorted(keywords_dir().glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        raw = path.read_bytes()
        try:
            entries = _entries(yaml.safe_load(raw))
        except yaml.YAMLError:
            entries = []
        out.append({"name": path.stem, "version": hashlib.sha256(raw).hexdigest()[:12], "entries": len(entries)})
    return out


@bp.get("/")
@requires("keywords")
def index():
    return render_template("keywords.html", lists=list_summaries())
