"""Export, verify and validate a case package of a shop listing, a browser-rendered listing and a live room."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from shian.cli import main
from shian.evidence import wacz
from shian.evidence.package import ExportError, export_package
from shian.evidence.verify import verify_package
from tests.evidence.conftest import closed_port_url


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _flip_byte(path: Path, entry: str) -> None:
    """Change one byte in the middle of an entry's stored data, leaving the ZIP structure alone."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(entry)
    raw = bytearray(path.read_bytes())
    offset = info.header_offset
    name_len = int.from_bytes(raw[offset + 26:offset + 28], "little")
    extra_len = int.from_bytes(raw[offset + 28:offset + 30], "little")
    start = offset + 30 + name_len + extra_len
    raw[start + info.compress_size // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _verify_cli(path: Path):
    return CliRunner().invoke(main, ["evidence", "verify", str(path)])


def test_package_holds_every_capture_and_case_file(case, exported):
    names = set(_entries(exported.path))
    shop, rendered, live = case.shop_id, case.rendered_id, case.live_id
    # both captures of the shop listing (history and current) are archived
    assert {f"archive/{shop}-c1.warc.gz", f"archive/{shop}-c2.warc.gz"} <= names
    assert f"screenshots/{rendered}-c1.png" in names and f"screenshots/{live}-c1.png" in names
    assert f"video/{live}-c1.webm" in names
    for item in case.ids:
        for folder in ("listings", "findings", "registry", "decisions", "audit"):
            assert f"{folder}/{item}.json" in names
        assert f"captures/{item}-c1.json" in names and f"steps/{item}-c1.json" in names
    assert {"report/report.pdf", "indexes/index.cdxj", "pages/pages.jsonl", "case/case.json",
            "datapackage.json", "datapackage-digest.json"} <= names


def test_case_files_carry_rules_registry_decisions_and_audit(case, exported):
    entries = _entries(exported.path)
    findings = json.loads(entries[f"findings/{case.shop_id}.json"])
    assert {(f["rule_id"], f["list_version"]) for f in findings["findings"]} == \
        {("disease.diabetes.cure", "kw-2024.06.1"), ("function.blood_sugar", "kw-2024.06.1")}
    registry = json.loads(entries[f"registry/{case.shop_id}.json"])
    assert registry["compared"][0]["record"]["operator"] == "郑州市另一家食品有限公司"
    decisions = json.loads(entries[f"decisions/{case.shop_id}.json"])
    assert decisions["review"]["decisions"][0]["user"] == "审核员张三"
    audit = json.loads(entries[f"audit/{case.shop_id}.json"])["events"]
    assert [e["action"] for e in audit] == ["claim", "decide"]
    capture = json.loads(entries[f"captures/{case.live_id}-c1.json"])
    assert capture["started_at"]["beijing"].endswith("+08:00") and capture["browser_version"]
    pages = [json.loads(line) for line in entries["pages/pages.jsonl"].splitlines()]
    assert {p["id"] for p in pages[1:]} == {f"{case.shop_id}-c1", f"{case.shop_id}-c2",
                                            f"{case.rendered_id}-c1", f"{case.live_id}-c1"}
    assert b"/shop/1001" in entries["indexes/index.cdxj"]


def test_export_is_recorded_in_the_audit_log(case, exported):
    events = case.audit.events(target=f"item:{case.shop_id}", action="evidence.export")
    assert events and events[0].details["manifest_sha256"] == exported.manifest_sha256
    assert events[0].actor == "执法人员李四"


def test_fresh_package_verifies(exported):
    result = _verify_cli(exported.path)
    assert result.exit_code == 0, result.output
    assert "CHANGED" not in result.output and "完好 / OK" in result.output
    assert "时间戳 / timestamp" in result.output and "有效 / valid" in result.output
    assert "CN=Shian Test Root CA" in result.output


def test_wacz_validate_accepts_the_package(exported):
    wacz_cli = Path(sys.executable).parent / "wacz"
    done = subprocess.run([str(wacz_cli), "validate", "-f", str(exported.path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation succeeded" in done.stdout


def _tamper_targets(case):
    return {"warc": f"archive/{case.shop_id}-c2.warc.gz", "screenshot": f"screenshots/{case.rendered_id}-c1.png",
            "pdf": "report/report.pdf", "manifest": "datapackage.json", "video": f"video/{case.live_id}-c1.webm"}


@pytest.mark.parametrize("what", ["warc", "screenshot", "pdf", "manifest", "video"])
def test_one_changed_byte_fails_verify_naming_the_file(case, package_copy, what):
    entry = _tamper_targets(case)[what]
    _flip_byte(package_copy, entry)
    result = _verify_cli(package_copy)
    assert result.exit_code == 1
    changed = [line for line in result.output.splitlines() if line.startswith("CHANGED")]
    assert len(changed) == 1 and entry in changed[0], result.output


def test_replaced_file_with_valid_zip_crc_is_still_caught(case, package_copy, tmp_path):
    """Someone rewrites a screenshot cleanly (new ZIP entry, correct CRC): the manifest hash catches it."""
    entries = _entries(package_copy)
    target = f"screenshots/{case.live_id}-c1.png"
    entries[target] = entries[target][:-1] + bytes([entries[target][-1] ^ 0xFF])
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    result = verify_package(forged)
    assert not result.intact
    assert [(f.path, f.status) for f in result.changed] == [(target, "CHANGED")]


def test_rewritten_manifest_breaks_the_timestamp(case, package_copy, tmp_path):
    """Changing a file and recomputing manifest + digest still fails: the RFC 3161 token covers the manifest."""
    entries = _entries(package_copy)
    target = f"findings/{case.shop_id}.json"
    entries[target] = entries[target].replace("根治糖尿病".encode(), "有益健康".encode())
    manifest = json.loads(entries["datapackage.json"])
    for res in manifest["resources"]:
        if res["path"] == target:
            res["hash"] = "sha256:" + wacz.sha256(entries[target])
            res["bytes"] = len(entries[target])
    entries["datapackage.json"] = json.dumps(manifest).encode()
    digest = json.loads(entries["datapackage-digest.json"])
    digest["hash"] = "sha256:" + wacz.sha256(entries["datapackage.json"])
    entries["datapackage-digest.json"] = json.dumps(digest).encode()
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    result = verify_package(forged)
    assert not result.intact and not result.changed
    assert result.timestamps and "message imprint does not match the manifest" in result.timestamps[0]["problems"]


def test_added_file_is_reported(package_copy):
    with zipfile.ZipFile(package_copy, "a") as zf:
        zf.writestr("screenshots/extra.png", b"not evidence")
    result = _verify_cli(package_copy)
    assert result.exit_code == 1 and "screenshots/extra.png" in result.output and "UNLISTED" in result.output


def test_timestamp_token_verifies_with_openssl(exported, tsa, tmp_path):
    entries = _entries(exported.path)
    stamp = json.loads(entries["datapackage-digest.json"])["timestamp"]
    assert stamp["status"] == "granted"
    (tmp_path / "token.der").write_bytes(base64.b64decode(stamp["tokens"][0]["token"]))
    (tmp_path / "datapackage.json").write_bytes(entries["datapackage.json"])
    (tmp_path / "chain.pem").write_text("".join(stamp["tokens"][0]["chain"]))
    done = subprocess.run(["openssl", "ts", "-verify", "-data", "datapackage.json", "-in", "token.der",
                           "-token_in", "-CAfile", str(tsa.ca), "-untrusted", "chain.pem"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr


def test_timestamp_chain_is_checked_against_the_trusted_roots(exported, tsa, tmp_path):
    trusted = CliRunner().invoke(main, ["evidence", "verify", "--trust-root", str(tsa.ca), str(exported.path)])
    assert trusted.exit_code == 0 and "受信任 / trusted" in trusted.output, trusted.output
    # a root the bureau does not accept: the package is intact but the timestamp is not trusted
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key",
                    "-out", "other.crt", "-days", "3", "-subj", "/CN=Other CA"], cwd=tmp_path, check=True,
                   capture_output=True)
    other = CliRunner().invoke(main, ["evidence", "verify", "--trust-root", str(tmp_path / "other.crt"),
                                      str(exported.path)])
    assert other.exit_code == 1 and "does not end at a trusted root" in other.output, other.output
    # without a trust list the reader is told trust was not checked
    unchecked = _verify_cli(exported.path)
    assert unchecked.exit_code == 0 and "未核对信任列表" in unchecked.output
    (tmp_path / "junk.pem").write_text("not a certificate")
    junk = CliRunner().invoke(main, ["evidence", "verify", "--trust-root", str(tmp_path / "junk.pem"),
                                     str(exported.path)])
    assert junk.exit_code != 0 and "holds no PEM certificate" in junk.output


def test_pdf_has_chinese_text_and_escapes_listing_markup(case, exported, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(_entries(exported.path)["report/report.pdf"])
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    compact = "".join(text.split())
    for expected in ("电子数据提取笔录", "电子数据清单", "新市监案〔2024〕001号", "枸杞旗舰店", "根治糖尿病",
                     "抗癌防癌", "治高血压", "郑州市另一家食品有限公司", "执法人员（签名）",
                     "持证主体与页面经营者不一致（holder_mismatch）", "宣称疾病预防、治疗功能"):
        assert expected in compact, expected
    # every listed file's SHA-256 is printed in the 电子数据清单
    manifest = json.loads(_entries(exported.path)["datapackage.json"])
    screenshot = next(r for r in manifest["resources"] if r["path"].startswith("screenshots/"))
    assert screenshot["hash"].split(":")[1] in compact
    # the listing's markup is shown as text and never fetched
    assert "<imgsrc=" in compact and "/leak.png" not in case.site.requests


def test_same_data_gives_identical_package(case, exported, tmp_path):
    first = export_package(case.store, case.ids, tmp_path / "a.zip", "执法人员李四",
                           case_ref="新市监案〔2024〕001号", settings=case.settings, files=case.files,
                           audit=case.audit, tsa_urls=[])
    second = export_package(case.store, list(reversed(case.ids)), tmp_path / "b.zip", "执法人员李四",
                            case_ref="新市监案〔2024〕001号", settings=case.settings, files=case.files,
                            audit=case.audit, tsa_urls=[])
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    # the timestamped export differs only in the digest file beside the manifest
    assert first.manifest_sha256 == second.manifest_sha256 == exported.manifest_sha256
    assert first.timestamp == "pending"


def test_unreachable_tsa_leaves_timestamp_pending_then_cli_adds_it(case, tsa, tmp_path):
    out = tmp_path / "pending.zip"
    result = export_package(case.store, [case.live_id], out, "执法人员李四", settings=case.settings,
                            files=case.files, audit=case.audit, tsa_urls=[closed_port_url()])
    assert result.timestamp == "pending" and result.timestamp_problems
    before = verify_package(out)
    assert before.intact and not before.timestamps
    assert CliRunner().invoke(main, ["evidence", "verify", "--require-timestamp", str(out)]).exit_code == 1
    manifest = _entries(out)["datapackage.json"]

    added = CliRunner().invoke(main, ["evidence", "timestamp", "--tsa", tsa.url, str(out)])
    assert added.exit_code == 0, added.output
    assert _entries(out)["datapackage.json"] == manifest
    after = verify_package(out)
    assert after.intact and after.timestamps[0]["ok"]


def test_missing_or_damaged_evidence_stops_export(case, tmp_path):
    item = case.store.get(case.rendered_id)
    screenshot = next(r for r in item.listing.evidence if r.kind == "screenshot")
    path = case.files.path(screenshot.sha256)
    original = path.read_bytes()
    path.write_bytes(original + b"x")
    try:
        with pytest.raises(ExportError, match=screenshot.sha256):
            export_package(case.store, [case.rendered_id], tmp_path / "x.zip", "执法人员李四",
                           settings=case.settings, files=case.files, audit=case.audit, tsa_urls=[])
    finally:
        path.write_bytes(original)
    assert not (tmp_path / "x.zip").exists()
    with pytest.raises(ExportError, match="no such item"):
        export_package(case.store, ["nope"], tmp_path / "y.zip", "执法人员李四", settings=case.settings,
                       files=case.files, audit=case.audit, tsa_urls=[])


def test_existing_package_is_never_overwritten(case, exported):
    before = exported.path.read_bytes()
    with pytest.raises(ExportError, match="never overwritten"):
        export_package(case.store, case.ids, exported.path, "执法人员李四", settings=case.settings,
                       files=case.files, audit=case.audit, tsa_urls=[])
    assert exported.path.read_bytes() == before


def test_cli_export_writes_a_verifiable_package(case, tmp_path):
    out = tmp_path / "cli.zip"
    result = CliRunner().invoke(main, ["--data-dir", str(case.settings.data_dir), "evidence", "export",
                                       case.shop_id, case.live_id, "-o", str(out), "--officer", "王五",
                                       "--case-ref", "案-7"])
    assert result.exit_code == 0, result.output
    assert "PENDING" in result.output
    assert verify_package(out).intact
    missing = CliRunner().invoke(main, ["--data-dir", str(case.settings.data_dir), "evidence", "export",
                                        "nope", "-o", str(tmp_path / "n.zip"), "--officer", "王五"])
    assert missing.exit_code != 0 and "no such item" in missing.output


def test_bureau_signature_is_added_and_checked(case, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from shian.settings import Settings
    key = tmp_path / "bureau.pem"
    key.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    settings = Settings(data_dir=case.settings.data_dir, evidence={"signing_key": str(key)})
    out = tmp_path / "signed.zip"
    result = export_package(case.store, [case.live_id], out, "执法人员李四", settings=settings, files=case.files,
                            audit=case.audit, tsa_urls=[])
    assert result.signed
    good = _verify_cli(out)
    assert good.exit_code == 0 and "单位签名有效 / bureau signature valid" in good.output

    entries = _entries(out)
    digest = json.loads(entries["datapackage-digest.json"])
    other = ed25519.Ed25519PrivateKey.generate()
    digest["signature"]["signature"] = base64.b64encode(other.sign(entries["datapackage.json"])).decode()
    wacz.replace_entry(out, "datapackage-digest.json", json.dumps(digest).encode())
    bad = _verify_cli(out)
    assert bad.exit_code == 1 and "bureau signature does not verify" in bad.output


def test_feed_item_without_captured_pages_still_makes_a_valid_package(case, tmp_path):
    """Items from a platform feed have no WARC: the package says so and stays a valid WACZ."""
    from shian.models import Analysis, Listing, ReviewItem
    listing = Listing(platform="feed-x", item_id="F-1", title="蜂胶软胶囊", text="降三高，治疗糖尿病")
    case.store.upsert(ReviewItem.new(listing, Analysis()))
    out = tmp_path / "feed.zip"
    export_package(case.store, [listing.id], out, "执法人员李四", settings=case.settings, files=case.files,
                   audit=case.audit, tsa_urls=[])
    entries = _entries(out)
    capture = json.loads(entries[f"captures/{listing.id}-c1.json"])
    assert capture["derived"] and capture["item_id"] == "F-1"
    assert "archive/case.warc.gz" in entries and verify_package(out).intact
    wacz_cli = Path(sys.executable).parent / "wacz"
    done = subprocess.run([str(wacz_cli), "validate", "-f", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
