"""Content-addressed evidence files under DATA_DIR/evidence/<aa>/<sha256>.

A file is written once and never changed: its name is its SHA-256, so a
reference from an item proves which bytes were captured.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import threading
from datetime import datetime
from pathlib import Path

from shian.models import EvidenceRef, utcnow


class EvidenceFiles:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._root = str(self.root)
        self._dirs: set[str] = set()            # shard folders known to exist
        self._tmp = itertools.count()

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, kind: str, media_type: str = "application/octet-stream",
            name: str = "", captured_at: datetime | None = None) -> EvidenceRef:
        # called for every file of every page: plain strings, no re-check of a digest made here
        digest = hashlib.sha256(data).hexdigest()
        folder = os.path.join(self._root, digest[:2])
        target = os.path.join(folder, digest)
        if not os.path.exists(target):
            if folder not in self._dirs:
                os.makedirs(folder, exist_ok=True)
                self._dirs.add(folder)
            # write-then-rename so a crash never leaves a half file under a valid name
            tmp = os.path.join(folder, f".tmp-{os.getpid()}-{threading.get_ident()}-{next(self._tmp)}")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileNotFoundError:           # the folder went away since we made it
                os.makedirs(folder, exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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
