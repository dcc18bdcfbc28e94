"""RFC 3161 trusted timestamps over a package's manifest digest.

The request is built with asn1crypto and POSTed to each configured TSA in
turn; the first granted token is kept with the certificates the TSA sent.
Checking a token needs nothing but the token and the manifest bytes:
message imprint, the CMS signature over the signed attributes, and the
signatures along the certificate chain the token carries.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from asn1crypto import algos, cms, tsp, x509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

log = logging.getLogger(__name__)

HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha1": hashes.SHA1}


class TimestampError(Exception):
    """No TSA granted a token; the message says why for each one."""


@dataclass
class TokenCheck:
    ok: bool
    gen_time: str = ""
    tsa: str = ""                    # subject of the signing certificate
    root: str = ""                   # top of the stored chain: subject and SHA-256 fingerprint; the reader
                                     # decides whether to trust it (e.g. a TSA approved for court evidence)
    trusted: bool | None = None      # None: no trusted roots were given, so trust was not checked
    problems: list[str] = field(default_factory=list)


def load_roots(paths: list[str]) -> list[cx509.Certificate]:
    """Trusted TSA roots from PEM files (a file may hold several certificates)."""
    roots = []
    for path in paths:
        try:
            data = open(path, "rb").read()
        except OSError as exc:
            raise TimestampError(f"trusted root file {path}: {exc.strerror}") from exc
        try:
            roots += cx509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise TimestampError(f"trusted root file {path} holds no PEM certificate: {exc}") from exc
    return roots


def build_request(digest: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq for a SHA-256 digest, asking the TSA to include its certificate."""
    req = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": tsp.MessageImprint({
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "hashed_message": digest,
        }),
        "nonce": nonce,
        "cert_req": True,
    })
    return req.dump()


def request_token(url: str, digest: bytes, timeout: float = 15.0) -> bytes:
    """Ask one TSA for a token over digest; returns the token (DER ContentInfo) or raises TimestampError."""
    nonce = secrets.randbits(63)
    http = urllib.request.Request(url, data=build_request(digest, nonce), method="POST",
                                  headers={"Content-Type": "application/timestamp-query",
                                           "Accept": "application/timestamp-reply"})
    try:
        with urllib.request.urlopen(http, timeout=timeout) as resp:
            body = resp.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise TimestampError(f"{url}: {exc}") from exc
    try:
        reply = tsp.TimeStampResp.load(body)
        status = reply["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            text = reply["status"]["status_string"].native if reply["status"]["status_string"] else ""
            raise TimestampError(f"{url}: TSA refused ({status}) {text or ''}".strip())
        token = reply["time_stamp_token"]
        info = token["content"]["encap_content_info"]["content"].parsed
        if info["nonce"].native != nonce:
            raise TimestampError(f"{url}: nonce in reply does not match the request")
        if info["message_imprint"]["hashed_message"].native != digest:
            raise TimestampError(f"{url}: token covers a different digest")
        return token.dump()
    except TimestampError:
        raise
    except Exception as exc:  # malformed DER from a misbehaving server
        raise TimestampError(f"{url}: unreadable reply ({exc})") from exc


def obtain(urls: list[str], digest: bytes, timeout: float = 15.0) -> tuple[dict | None, list[str]]:
    """Try each TSA; returns (stamp record or None, problems seen)."""
    problems = []
    for url in urls:
        try:
            token = request_token(url, digest, timeout=timeout)
        except TimestampError as exc:
            log.warning("timestamp: %s", exc)
            problems.append(str(exc))
            continue
        return stamp_record(url, token), problems
    return None, problems


def stamp_record(url: str, token: bytes) -> dict:
    """What the package keeps: the token, its certificates as PEM, and a readable summary."""
    content = cms.ContentInfo.load(token)["content"]
    info = content["encap_content_info"]["content"].parsed
    chain = [_pem(c.chosen) for c in (content["certificates"] or []) if c.name == "certificate"]
    return {"tsa_url": url, "gen_time": info["gen_time"].native.isoformat(),
            "serial": str(info["serial_number"].native), "hash_algorithm": "sha256",
            "token": base64.b64encode(token).decode("ascii"), "chain": chain}


def _pem(cert: x509.Certificate) -> str:
    b64 = base64.encodebytes(cert.dump()).decode("ascii").replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def check_token(token: bytes, data: bytes, chain_pem: list[str] | None = None,
                trusted_roots: list[cx509.Certificate] | None = None) -> TokenCheck:
    """Check a token against the bytes it should cover (the manifest); with trusted_roots, the
    chain must also end at (or be issued by) one of them."""
    check = TokenCheck(ok=False)
    try:
        content = cms.ContentInfo.load(token)["content"]
        encap = content["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            check.problems.append("token does not hold a TSTInfo")
            return check
        tst_der = encap["content"].contents
        info = encap["content"].parsed
        check.gen_time = info["gen_time"].native.isoformat()
        imprint = info["message_imprint"]
        algo = imprint["hash_algorithm"]["algorithm"].native
        if algo not in HASHES:
            check.problems.append(f"unsupported imprint hash {algo}")
            return check
        if hashlib.new(algo, data).digest() != imprint["hashed_message"].native:
            check.problems.append("message imprint does not match the manifest")
        certs = [cx509.load_der_x509_certificate(c.chosen.dump())
                 for c in (content["certificates"] or []) if c.name == "certificate"]
        for pem in chain_pem or []:
            cert = cx509.load_pem_x509_certificate(pem.encode("ascii"))
            if cert not in certs:
                certs.append(cert)
        signer_info = content["signer_infos"][0]
        signer = _find_signer(signer_info["sid"], certs)
        if signer is None:
            check.problems.append("signing certificate not in the token or stored chain")
            return check
        check.tsa = signer.subject.rfc4514_string()
        check.problems += _check_signer_info(signer_info, tst_der, signer)
        problems, top = _check_chain(signer, certs)
        check.problems += problems
        check.root = f"{top.subject.rfc4514_string()} sha256:{top.fingerprint(hashes.SHA256()).hex()}"
        if trusted_roots:
            check.trusted = _is_trusted(top, trusted_roots)
            if not check.trusted:
                check.problems.append("TSA chain does not end at a trusted root")
    except Exception as exc:  # any parse failure means the token is not usable
        check.problems.append(f"token unreadable: {exc}")
    check.ok = not check.problems
    return check


def _find_signer(sid, certs: list[cx509.Certificate]) -> cx509.Certificate | None:
    if sid.name == "issuer_and_serial_number":
        serial = sid.chosen["serial_number"].native
        issuer = sid.chosen["issuer"].dump()
        for cert in certs:
            if cert.serial_number == serial and \
                    x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)).issuer.dump() == issuer:
                return cert
    else:
        key_id = sid.chosen.native
        for cert in certs:
            try:
                ski = cert.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value.digest
            except cx509.ExtensionNotFound:
                continue
            if ski == key_id:
                return cert
    return None


def _check_signer_info(signer_info, tst_der: bytes, signer: cx509.Certificate) -> list[str]:
    problems = []
    digest_algo = signer_info["digest_algorithm"]["algorithm"].native
    if digest_algo not in HASHES:
        return [f"unsupported digest {digest_algo}"]
    attrs = signer_info["signed_attrs"]
    if not attrs:
        return ["token has no signed attributes"]
    found = {a["type"].native: a["values"][0] for a in attrs}
    if found.get("content_type") is None or found["content_type"].native != "tst_info":
        problems.append("signed content type is not TSTInfo")
    message_digest = found.get("message_digest")
    if message_digest is None or message_digest.native != hashlib.new(digest_algo, tst_der).digest():
        problems.append("signed digest does not match the timestamp content")
    # the signature covers the attributes DER-encoded as a SET, not with their [0] tag
    signed = b"\x31" + attrs.dump()[1:]
    signature = signer_info["signature"].native
    sig_algo = signer_info["signature_algorithm"].signature_algo
    try:
        _verify(signer.public_key(), signature, signed, sig_algo, HASHES[digest_algo](),
                signer_info["signature_algorithm"])
    except InvalidSignature:
        problems.append("TSA signature does not verify")
    except ValueError as exc:
        problems.append(str(exc))
    try:
        usage = signer.extensions.get_extension_for_class(cx509.ExtendedKeyUsage).value
        if cx509.oid.ExtendedKeyUsageOID.TIME_STAMPING not in usage:
            problems.append("signing certificate is not for time stamping")
    except cx509.ExtensionNotFound:
        problems.append("signing certificate has no time-stamping key usage")
    return problems


def _verify(key, signature: bytes, data: bytes, sig_algo: str, digest, algo_asn1) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        if sig_algo == "rsassa_pss":
            params = algo_asn1["parameters"]
            pss_hash = HASHES[params["hash_algorithm"]["algorithm"].native]()
            key.verify(signature, data, padding.PSS(padding.MGF1(pss_hash), params["salt_length"].native),
                       pss_hash)
        else:
            key.verify(signature, data, padding.PKCS1v15(), digest)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(digest))
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, data)
    else:
        raise ValueError(f"unsupported TSA key type {type(key).__name__}")


def _is_trusted(top: cx509.Certificate, roots: list[cx509.Certificate]) -> bool:
    """The top of the stored chain is a trusted root, or was issued by one (root not stored)."""
    for root in roots:
        if top.fingerprint(hashes.SHA256()) == root.fingerprint(hashes.SHA256()):
            return True
        if top.issuer == root.subject:
            try:
                top.verify_directly_issued_by(root)
                return True
            except (InvalidSignature, ValueError, TypeError):
                continue
    return False


def _check_chain(signer: cx509.Certificate, certs: list[cx509.Certificate]) \
        -> tuple[list[str], cx509.Certificate]:
    """Each certificate up the stored chain must be signed by the next; stops at a self-signed root."""
    problems, cert, seen = [], signer, set()
    while cert.issuer != cert.subject and cert.fingerprint(hashes.SHA256()) not in seen:
        seen.add(cert.fingerprint(hashes.SHA256()))
        issuer = next((c for c in certs if c.subject == cert.issuer), None)
        if issuer is None:
            break                    # the root is not stored; trust in it is the reader's decision
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError):
            problems.append(f"certificate {cert.subject.rfc4514_string()} is not signed by its issuer")
            break
        cert = issuer
    return problems, cert
