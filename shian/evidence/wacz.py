"""The package container: a WACZ 1.1.1 ZIP whose datapackage.json lists every file.

Layout (every file sits exactly one folder deep, which is what `wacz validate`
checks paths against):

    datapackage.json           the manifest: path, sha256 and size of every other file
    datapackage-digest.json    sha256 of the manifest, RFC 3161 tokens and signature over it
    archive/*.warc.gz          WARC records of every capture
    indexes/index.cdxj         CDXJ index of the WARCs
    pages/pages.jsonl          one page per capture
    ...                        case files beside the archive (see package.py)

The digest file is the only file outside the manifest, so a timestamp or a
signature can be added later without touching anything the manifest covers.
ZIPs are written deterministically: sorted entries, one fixed date, fixed modes.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer

WACZ_VERSION = "1.1.1"
MANIFEST = "datapackage.json"
DIGEST = "datapackage-digest.json"
PAGES = "pages/pages.jsonl"
INDEX = "indexes/index.cdxj"

# already compressed or meant to be read in place (WACZ asks for stored WARCs)
STORED_SUFFIXES = (".gz", ".warc", ".png", ".jpg", ".jpeg", ".webp", ".webm", ".mp4", ".ts", ".pdf", ".zip")


class PackageError(Exception):
    """The file is not a readable Shian package; the message says why."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value) -> bytes:
    """Stable JSON bytes: same data, same bytes."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def cdxj_index(warcs: dict[str, bytes]) -> bytes:
    """Sorted CDXJ lines for the WARCs, keyed by their file name inside archive/."""
    lines: list[str] = []
    for name in sorted(warcs):
        out = io.StringIO()
        indexer = CDXJIndexer(_KeepOpen(out), [io.BytesIO(warcs[name])], filename=name,
                              post_append=True, fields="referrer")
        indexer.process_all()
        lines += [line for line in out.getvalue().splitlines() if line]
    return "".join(line + "\n" for line in sorted(lines)).encode("utf-8")


class _KeepOpen(io.StringIO):
    """cdxj_indexer closes its output; keep the text readable afterwards."""

    def __init__(self, target: io.StringIO):
        super().__init__()
        self.target = target

    def write(self, s: str) -> int:
        return self.target.write(s)

    def close(self) -> None:
        pass


def pages_jsonl(pages: list[dict]) -> bytes:
    header = {"format": "json-pages-1.0", "id": "pages", "title": "Pages"}
    rows = [header] + pages
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode("utf-8")


def resource_name(path: str) -> str:
    return path.replace("/", "-").lower()


def manifest(files: dict[str, bytes], created: datetime, meta: dict) -> bytes:
    """datapackage.json for files (everything but the manifest and its digest)."""
    resources = [{"name": resource_name(path), "path": path, "hash": "sha256:" + sha256(data),
                  "bytes": len(data)} for path, data in sorted(files.items())]
    body = {"profile": "data-package", "wacz_version": WACZ_VERSION,
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"), **meta, "resources": resources}
    return (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def digest_file(manifest_bytes: bytes, extra: dict | None = None) -> bytes:
    body = {"path": MANIFEST, "hash": "sha256:" + sha256(manifest_bytes), **(extra or {})}
    return (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def write_zip(path: Path, entries: dict[str, bytes], when: datetime, replace: bool = False) -> None:
    """Write a deterministic ZIP atomically; refuses to replace an existing file unless told to."""
    path = Path(path)
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    # manifest first and its digest second, as py-wacz lays them out for readers that stream
    order = sorted(entries, key=lambda n: (n not in (MANIFEST, DIGEST), n != MANIFEST, n))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
            for name in order:
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.create_system = 3
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_STORED if name.endswith(STORED_SUFFIXES) \
                    else zipfile.ZIP_DEFLATED
                zf.writestr(info, entries[name], compresslevel=6 if info.compress_type else None)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)       # atomic and never replaces: two exports cannot race
            except FileExistsError:
                raise FileExistsError(f"{path} exists; packages are never overwritten") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def replace_entry(path: Path, name: str, data: bytes) -> None:
    """Rewrite one entry (the digest file) keeping every other entry's bytes and the ZIP date."""
    path = Path(path)
    entries = read_zip(path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(MANIFEST)
    entries[name] = data
    write_zip(path, entries, datetime(*info.date_time), replace=True)


def read_zip(path: Path) -> dict[str, bytes]:
    """Every entry of a package; PackageError when it is not a sound ZIP."""
    entries, damaged = read_zip_tolerant(path)
    if damaged:
        name, why = next(iter(damaged.items()))
        raise PackageError(f"{path}: entry {name} is damaged ({why})")
    return entries


def read_zip_tolerant(path: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """Entries that read back intact, and the names of those that do not (with why).

    A changed byte inside a ZIP entry shows up as a CRC or inflate error; the
    verifier reports it against that entry instead of giving up on the package.
    """
    entries: dict[str, bytes] = {}
    damaged: dict[str, str] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                if info.filename in entries or info.filename in damaged:
                    damaged[info.filename] = "entry appears twice"
                    entries.pop(info.filename, None)
                    continue
                try:
                    entries[info.filename] = zf.read(info)
                except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
                    damaged[info.filename] = str(exc)
    except zipfile.BadZipFile as exc:
        raise PackageError(f"{path}: not a ZIP package ({exc})") from exc
    except (zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise PackageError(f"{path}: unreadable ({exc})") from exc
    return entries, damaged
