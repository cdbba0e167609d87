"""The firm's Ed25519 key, which signs the log's tree heads.

The private key is a PEM file named by `CANDOR_LOG_SIGNING_KEY_FILE`, never
in the database: whoever can write the database must not be able to sign.
Each head keeps the public key that signed it, and a head verifies only if
that key is the current one or one listed in `CANDOR_LOG_RETIRED_PUBLIC_KEYS`
(rotation: docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


class SigningKeyError(Exception):
    """The signing key is missing, unreadable or not an Ed25519 key (the message says which)."""


def key_path() -> Path:
    return Path(settings.CANDOR_LOG_SIGNING_KEY_FILE)


def signing_key() -> Ed25519PrivateKey:
    path = key_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(
            f"There is no signing key at {path}. Create one with "
            "`python manage.py log_key create` (docs/deploy.md)."
        ) from None
    except OSError as error:
        raise SigningKeyError(
            f"The signing key at {path} cannot be read: {error.strerror}."
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(
            f"The file {path} is not a PEM private key without a password."
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"The key in {path} is not an Ed25519 key.")
    return key


def key_problem() -> str:
    """Why no tree head can be signed now ("" when the key is usable)."""
    try:
        signing_key()
    except SigningKeyError as error:
        return str(error)
    return ""


def create_key(path: Path) -> Ed25519PrivateKey:
    """Write a new private key to `path`, readable by its owner only; never overwrite."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    """The public key as PEM text, without the final newline (a backup in XML drops it)."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii").strip()


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: short enough to read out on the phone."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_pem(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def trusted_key_ids() -> dict[str, str]:
    """The key ids a head may be signed with, and where each comes from.

    The current key's (when it can be read) and every retired public key's.
    A listed file that cannot be read is reported by the caller as missing.
    """
    trusted = {}
    with contextlib.suppress(SigningKeyError):
        trusted[key_id(signing_key().public_key())] = "the current signing key"
    for name in settings.CANDOR_LOG_RETIRED_PUBLIC_KEYS:
        try:
            trusted[key_id(load_public_pem(Path(name).read_text()))] = f"retired key {name}"
        except (OSError, ValueError):
            continue
    return trusted


def signature_valid(public_key_pem: str, signature: bytes, message: bytes) -> bool:
    try:
        load_public_pem(public_key_pem).verify(signature, message)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True
