"""Helpers the crawler tests share (evidence checks, store look-ups)."""
from __future__ import annotations

import gzip
import hashlib
import io
import json

from warcio.archiveiterator import ArchiveIterator

from shian.evidence.files import EvidenceFiles


def platform_ids(dataset, platform):
    return {x.id for x in dataset.by_platform(platform)}


def stored(store, platform):
    return {item_id: store.get(item_id) for item_id in store.ids(platform)}


def evidence_ok(settings, ref) -> bytes:
    """The bytes of an evidence file, after checking they hash to their name."""
    data = EvidenceFiles(settings.evidence_dir).read(ref.sha256)
    assert hashlib.sha256(data).hexdigest() == ref.sha256
    assert len(data) == ref.size
    return data


def warc_records(data: bytes):
    assert data[:2] == b"\x1f\x8b"                   # gzipped
    gzip.decompress(data)
    return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
            for r in ArchiveIterator(io.BytesIO(data))]


def by_kind(listing):
    out = {}
    for ref in listing.evidence:
        out.setdefault(ref.kind, []).append(ref)
    return out


def capture_record(settings, listing) -> dict:
    refs = [r for r in listing.evidence if r.kind == "capture"]
    records = [json.loads(evidence_ok(settings, r)) for r in refs]
    return next(r for r in records if r["item_id"] == listing.item_id)
