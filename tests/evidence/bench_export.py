"""Measure a 20-item case export (not collected by pytest): `.venv/bin/python -m tests.evidence.bench_export`.

7 shop listings fetched over HTTP, 7 browser-rendered listings and 6 live rooms with a WebM
segment, all captured from 127.0.0.1 by real Chromium, then exported, verified and validated.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from shian.audit import open_audit
from shian.evidence.files import EvidenceFiles
from shian.evidence.package import export_package
from shian.evidence.verify import verify_package
from shian.models import Analysis, Finding, Listing, ReviewItem, Shop
from shian.settings import Settings
from shian.store.sqlite import SQLiteStore
from tests.evidence.conftest import CHROMIUM_ARGS, LIVE, SHOP_V2, SPA, Site, _browse, _fetch


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="shian-bench-"))
    settings = Settings(data_dir=root / "data", store="sqlite")
    settings.data_dir.mkdir(parents=True)
    store, files = SQLiteStore(settings.sqlite_path), EvidenceFiles(settings.evidence_dir)
    audit = open_audit(settings)
    site = Site()
    ids = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 800, "height": 600}).new_page()
        for n in range(20):
            kind = ("shop", "spa", "live")[n % 3]
            path = f"/{kind}/{n}"
            site.pages[path] = {"shop": SHOP_V2, "spa": SPA, "live": LIVE}[kind]
            if kind == "shop":
                refs = _fetch(site, files, path, str(n))
            else:
                refs = _browse(page, site, files, path, str(n), f"demo-{kind}", video=kind == "live")
            text = "每天一把，三天降血糖，根治糖尿病。"
            listing = Listing(platform=f"demo-{kind}", kind="live" if kind == "live" else "listing",
                              url=site.url + path, item_id=str(n), shop=Shop(name=f"店铺{n}"), title=f"商品{n}",
                              text=text, evidence=refs, captured_at=refs[-1].captured_at)
            finding = Finding(type="disease_claim", rule_id="disease.diabetes.cure", list_version="kw-1",
                              start=text.index("根治"), end=text.index("根治") + 5, text="根治糖尿病")
            store.upsert(ReviewItem.new(listing, Analysis(findings=[finding])))
            ids.append(listing.id)
        browser.close()
    site.close()

    out = root / "case-20.zip"
    started = time.perf_counter()
    result = export_package(store, ids, out, "执法人员", case_ref="bench", settings=settings, files=files,
                            audit=audit, tsa_urls=[])
    export_s = time.perf_counter() - started
    started = time.perf_counter()
    intact = verify_package(out).intact
    verify_s = time.perf_counter() - started
    wacz_cli = Path(sys.executable).parent / "wacz"
    valid = subprocess.run([str(wacz_cli), "validate", "-f", str(out)], capture_output=True).returncode == 0
    print(f"20 items: export {export_s:.1f} s, {result.bytes / 1e6:.2f} MB, {result.files} files; "
          f"verify {verify_s:.2f} s intact={intact}; wacz validate ok={valid}; package {out}")


if __name__ == "__main__":
    main()
