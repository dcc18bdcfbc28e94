"""Content-addressed evidence files under DATA_DIR/evidence/<aa>/<sha256>.

A file is written once and never changed: its name is its SHA-256, so a
reference from an item proves which bytes were captured.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from shian.models import EvidenceRef, utcnow


class EvidenceFiles:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, kind: str, media_type: str = "application/octet-stream",
            name: str = "", captured_at: datetime | None = None) -> EvidenceRef:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # write-then-rename so a crash never leaves a half file under a valid name
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        return EvidenceRef(sha256=digest, kind=kind, media_type=media_type, size=len(data),
                           name=name or f"{kind}-{digest[:12]}", captured_at=captured_at or utcnow())

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their name."""
        return hashlib.sha256(self.read(sha256)).hexdigest() == sha256
