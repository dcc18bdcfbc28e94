"""Check a package using nothing but the package: every file hash, the manifest digest,
the RFC 3161 tokens and the optional bureau signature.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path

from shian.evidence import signature, timestamp, wacz

STATUS_TEXT = {
    "OK": "完好 / OK",
    "CHANGED": "已被改动 / CHANGED",
    "MISSING": "缺失 / MISSING",
    "UNLISTED": "清单外文件 / NOT IN MANIFEST",
}


@dataclass
class FileCheck:
    path: str
    status: str                      # OK | CHANGED | MISSING | UNLISTED
    detail: str = ""


@dataclass
class Verification:
    path: Path
    files: list[FileCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)     # package-level problems, Chinese / English
    timestamps: list[dict] = field(default_factory=list)  # {"tsa_url", "gen_time", "tsa", "ok", "problems"}
    timestamp_status: str = "pending"
    signature: dict | None = None                        # {"key_fingerprint", "ok", "problems"}

    @property
    def changed(self) -> list[FileCheck]:
        return [f for f in self.files if f.status != "OK"]

    @property
    def intact(self) -> bool:
        return not self.problems and not self.changed and all(t["ok"] for t in self.timestamps) and \
            (self.signature is None or self.signature["ok"])

    def lines(self) -> list[str]:
        out = [f"{f.status:<9} {f.path}  {STATUS_TEXT[f.status]}{'  (' + f.detail + ')' if f.detail else ''}"
               for f in self.files]
        for stamp in self.timestamps:
            if stamp["ok"]:
                out.append(f"OK        时间戳 / timestamp {stamp['gen_time']} {stamp['tsa']}  "
                           f"有效 / valid ({stamp['tsa_url']})")
                trust = {True: "受信任 / trusted", None: "未核对信任列表 / trust not checked"}[stamp["trusted"]]
                out.append(f"          根证书 / root: {stamp['root']}  {trust}")
            else:
                out.append(f"INVALID   时间戳 / timestamp ({stamp['tsa_url']})  无效 / invalid: "
                           + "; ".join(stamp["problems"]))
        if not self.timestamps:
            out.append("PENDING   时间戳 / timestamp  尚未加盖，可用 `shian evidence timestamp` 补加 / "
                       "not yet added; run `shian evidence timestamp`")
        if self.signature is not None:
            state = "OK        单位签名有效 / bureau signature valid" if self.signature["ok"] else \
                "INVALID   单位签名无效 / bureau signature invalid: " + "; ".join(self.signature["problems"])
            out.append(f"{state} (key sha256 {self.signature['key_fingerprint']})")
        out += [f"PROBLEM   {p}" for p in self.problems]
        if self.intact:
            out.append(f"结论：数据包完好，共 {len(self.files)} 个文件 / RESULT: package intact, {len(self.files)} files")
        else:
            bad = len(self.changed) + len(self.problems) + sum(not t["ok"] for t in self.timestamps)
            out.append(f"结论：数据包校验未通过（{bad} 处问题）/ RESULT: package FAILED verification ({bad} problems)")
        return out


def verify_package(path: Path | str, trusted_roots: list | None = None) -> Verification:
    """trusted_roots: certificates (timestamp.load_roots) a token's chain must end at; None: not checked."""
    path = Path(path)
    result = Verification(path=path)
    try:
        entries, damaged = wacz.read_zip_tolerant(path)
    except wacz.PackageError as exc:
        result.problems.append(f"无法读取数据包 / {exc}")
        return result

    manifest_bytes = entries.get(wacz.MANIFEST)
    if manifest_bytes is None:
        why = damaged.get(wacz.MANIFEST, "absent")
        result.files.append(FileCheck(wacz.MANIFEST, "CHANGED" if wacz.MANIFEST in damaged else "MISSING", why))
        result.problems.append("清单不可读，无法校验其余文件 / manifest unreadable; other files cannot be checked")
        return result
    try:
        manifest = json.loads(manifest_bytes)
        resources = {r["path"]: r for r in manifest["resources"]}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        result.files.append(FileCheck(wacz.MANIFEST, "CHANGED", f"not a valid manifest: {exc}"))
        result.problems.append("清单格式错误 / manifest is not valid JSON with resources")
        return result

    _check_digest_file(result, entries, damaged, manifest_bytes, trusted_roots)

    for rel, res in sorted(resources.items()):
        if rel in damaged:
            result.files.append(FileCheck(rel, "CHANGED", "ZIP entry damaged: " + damaged[rel]))
        elif rel not in entries:
            result.files.append(FileCheck(rel, "MISSING"))
        elif res.get("hash") != "sha256:" + wacz.sha256(entries[rel]) or res.get("bytes") != len(entries[rel]):
            result.files.append(FileCheck(rel, "CHANGED", "SHA-256 differs from the manifest"))
        else:
            result.files.append(FileCheck(rel, "OK"))
    for rel in sorted(set(entries) | set(damaged)):
        if rel not in resources and rel not in (wacz.MANIFEST, wacz.DIGEST):
            result.files.append(FileCheck(rel, "UNLISTED", "file added after export"))
    return result


def _check_digest_file(result: Verification, entries: dict, damaged: dict, manifest_bytes: bytes,
                       trusted_roots: list | None = None) -> None:
    """The manifest line: its digest, then the timestamps and the signature over it."""
    raw = entries.get(wacz.DIGEST)
    if raw is None:
        status = "CHANGED" if wacz.DIGEST in damaged else "MISSING"
        result.files.insert(0, FileCheck(wacz.DIGEST, status, damaged.get(wacz.DIGEST, "")))
        result.problems.append(f"{wacz.DIGEST} 不可读，无法确认清单 / unreadable; cannot confirm the manifest")
        return
    try:
        digest = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        result.problems.append(f"{wacz.DIGEST} 格式错误 / is not valid JSON")
        return
    if digest.get("hash") != "sha256:" + wacz.sha256(manifest_bytes):
        result.files.insert(0, FileCheck(wacz.MANIFEST, "CHANGED", f"SHA-256 differs from {wacz.DIGEST}"))
    else:
        result.files.insert(0, FileCheck(wacz.MANIFEST, "OK"))

    stamps = digest.get("timestamp") or {}
    result.timestamp_status = stamps.get("status", "pending")
    for stamp in stamps.get("tokens") or []:
        try:
            token = base64.b64decode(stamp["token"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            result.timestamps.append({"tsa_url": stamp.get("tsa_url", ""), "gen_time": "", "tsa": "", "root": "",
                                      "trusted": None, "ok": False, "problems": ["token is not base64"]})
            continue
        check = timestamp.check_token(token, manifest_bytes, stamp.get("chain") or [], trusted_roots)
        result.timestamps.append({"tsa_url": stamp.get("tsa_url", ""), "gen_time": check.gen_time,
                                  "tsa": check.tsa, "root": check.root, "trusted": check.trusted, "ok": check.ok,
                                  "problems": check.problems})
    if digest.get("signature") is not None:
        sig = digest["signature"]
        problems = signature.check(manifest_bytes, sig) if isinstance(sig, dict) else ["signature unreadable"]
        result.signature = {"key_fingerprint": sig.get("key_fingerprint", "") if isinstance(sig, dict) else "",
                            "ok": not problems, "problems": problems}
