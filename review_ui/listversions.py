"""Drafts and published versions of the keyword lists, under DATA_DIR/keyword_versions/.

A draft is a candidate text with the change, reason and author that produced it, plus its dry-run
result once that has run. Publishing writes the list file atomically (temp file + rename) only if the
file is still the one the draft was made from, then appends the version (author, time, reason, diff,
full text and the loader's version id, which the nlp stage stamps on findings) to NAME.jsonl.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path

from review_ui.listedit import EditError, diff, list_path, load_candidate, sha

DRAFT_ID = re.compile(r"^[0-9a-f]{16}$")
_publish_lock = threading.Lock()


def root(data_dir: Path) -> Path:
    return Path(data_dir) / "keyword_versions"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")   # not *.yaml: the loader never sees it
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- drafts ------------------------------------------------------------------------

def _draft_path(data_dir: Path, draft_id: str) -> Path:
    if not DRAFT_ID.match(draft_id or ""):
        raise EditError("草稿编号无效")
    return root(data_dir) / "drafts" / f"{draft_id}.json"


def save_draft(data_dir: Path, draft: dict) -> dict:
    draft.setdefault("id", secrets.token_hex(8))
    _write_atomic(_draft_path(data_dir, draft["id"]), json.dumps(draft, ensure_ascii=False))
    return draft


def load_draft(data_dir: Path, draft_id: str) -> dict:
    path = _draft_path(data_dir, draft_id)
    if not path.exists():
        raise EditError("没有这份草稿（可能已发布或已放弃）")
    return json.loads(path.read_text(encoding="utf-8"))


def drop_draft(data_dir: Path, draft_id: str) -> None:
    _draft_path(data_dir, draft_id).unlink(missing_ok=True)


def open_drafts(data_dir: Path, name: str | None = None) -> list[dict]:
    folder = root(data_dir) / "drafts"
    out = []
    for path in folder.glob("*.json") if folder.exists() else []:
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if name is None or d.get("list") == name:
            out.append(d)
    return sorted(out, key=lambda d: d.get("created_at", ""), reverse=True)


# -- versions ------------------------------------------------------------------------

def history(data_dir: Path, name: str) -> list[dict]:
    """Published versions of one list, newest first."""
    path = root(data_dir) / f"{name}.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out[::-1]


def version(data_dir: Path, name: str, version_id: str) -> dict | None:
    return next((v for v in history(data_dir, name) if v["version"] == version_id), None)


def publish(config_dir: Path, data_dir: Path, draft: dict, user: str) -> dict:
    """Write the draft's text as the list; EditError if the list changed since the draft or fails validation.

    The previous version id is the one the draft was made from (its base text is still on disk here).
    """
    name = draft["list"]
    with _publish_lock:
        path = list_path(config_dir, name)
        before = path.read_text(encoding="utf-8")
        if sha(before) != draft["base_sha"]:
            raise EditError("该词表在这份草稿之后已被修改（他人已发布新版本），请重新编辑")
        bundle = load_candidate(config_dir, name, draft["text"])
        _write_atomic(path, draft["text"])
        record = {"version": bundle.versions[f"{name}.yaml"], "previous": draft.get("base_version", ""), "list": name,
                  "author": user, "drafted_by": draft.get("author", user),
                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "reason": draft["reason"], "change": draft["change"], "diff": diff(name, before, draft["text"]),
                  "sha256": sha(draft["text"]), "text": draft["text"]}
        folder = root(data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{name}.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        drop_draft(data_dir, draft["id"])
        return record
