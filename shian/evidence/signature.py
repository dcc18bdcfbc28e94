"""Optional signature over the manifest with the bureau's own key (settings.evidence.signing_key).

The signature and the public key travel in datapackage-digest.json; the key's
SHA-256 fingerprint is what a reader compares with the one the bureau publishes.
"""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa


class SigningError(Exception):
    pass


def sign(data: bytes, key_path: Path) -> dict:
    try:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningError(f"cannot load signing key {key_path}: {exc}") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm, signature = "rsa-pkcs1v15-sha256", key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm, signature = "ecdsa-sha256", key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm, signature = "ed25519", key.sign(data)
    else:
        raise SigningError(f"unsupported key type {type(key).__name__}")
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"algorithm": algorithm, "signature": base64.b64encode(signature).decode("ascii"),
            "public_key": public.decode("ascii"), "key_fingerprint": fingerprint(public)}


def fingerprint(public_pem: bytes) -> str:
    der = serialization.load_pem_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def check(data: bytes, record: dict) -> list[str]:
    """Problems with a stored signature over data (empty when it holds)."""
    try:
        key = serialization.load_pem_public_key(record["public_key"].encode("ascii"))
        signature = base64.b64decode(record["signature"], validate=True)
        algorithm = record["algorithm"]
        if algorithm == "rsa-pkcs1v15-sha256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == "ecdsa-sha256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return [f"unknown signature algorithm {algorithm!r} for this key"]
    except InvalidSignature:
        return ["bureau signature does not verify"]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        return [f"bureau signature unreadable: {exc}"]
    if record.get("key_fingerprint") and record["key_fingerprint"] != fingerprint(record["public_key"].encode()):
        return ["key fingerprint does not match the stored public key"]
    return []
