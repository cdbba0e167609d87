"""RFC 3161 trusted timestamps for the log's tree heads (rfc3161-client).

A timestamp authority (TSA) signs "this SHA-256 existed at this time"; its
token proves a head was not made later, whatever the firm's own clocks say.
Candor asks over HTTP (RFC 3161, section 3.4: a DER request POSTed as
`application/timestamp-query`) and keeps the whole DER response, which
`openssl ts -verify` checks.
"""

from __future__ import annotations

import datetime
import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import cryptography.x509
from django.conf import settings
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

# Enough for any real TSA's answer; anything longer is not one.
MAX_RESPONSE_BYTES = 64 * 1024


class TimestampError(Exception):
    """The authority could not be reached or gave no usable token (the message says which)."""


@dataclass(frozen=True)
class Token:
    response: bytes  # the DER TimeStampResp, as received
    time: datetime.datetime  # genTime: when the authority says it saw the hash


def timestamp(data: bytes, *, url: str | None = None) -> Token:
    """Ask the authority at `url` (default: TSA_URL) to timestamp the SHA-256 of `data`."""
    url = url or settings.CANDOR_TSA_URL
    built = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)  # what `openssl ts -verify -data` expects by default
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    http_request = urllib.request.Request(
        url,
        data=built.as_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(
            http_request, timeout=settings.CANDOR_TSA_TIMEOUT_SECONDS
        ) as answer:
            body = answer.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise TimestampError(f"The timestamp authority answered HTTP {error.code}.") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TimestampError(f"The timestamp authority could not be reached: {reason}.") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError("The timestamp authority's answer is too long to be a token.")
    token = check(body, data)
    if token_nonce(body) != built.nonce:
        raise TimestampError("The timestamp authority's answer is for another request (nonce).")
    return token


def check(
    response: bytes, data: bytes, *, roots: list[cryptography.x509.Certificate] | None = None
) -> Token:
    """The token in `response`, if it is a granted timestamp of SHA-256(`data`).

    With `roots` (default: the certificates in TSA_CA_FILE, when set) the
    authority's signature and certificate chain are checked too.
    """
    try:
        decoded = decode_timestamp_response(response)
    except ValueError:
        raise TimestampError(
            "The timestamp authority's answer is not an RFC 3161 response."
        ) from None
    if PKIStatus(decoded.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        detail = "; ".join(decoded.status_string) or f"status {decoded.status}"
        raise TimestampError(f"The timestamp authority refused: {detail}.")
    imprint = decoded.tst_info.message_imprint
    if imprint.message != hashlib.sha256(data).digest():
        raise TimestampError("The token is for another hash than this head's.")
    roots = authority_roots() if roots is None else roots
    if roots:
        builder = VerifierBuilder()
        for root in roots:
            builder = builder.add_root_certificate(root)
        try:
            builder.build().verify(decoded, hashlib.sha256(data).digest())
        except VerificationError as error:
            raise TimestampError(f"The token's signature does not check out: {error}.") from None
    return Token(response=response, time=decoded.tst_info.gen_time)


def token_nonce(response: bytes) -> int | None:
    return decode_timestamp_response(response).tst_info.nonce


def authority_certificates_pem() -> bytes:
    """TSA_CA_FILE's contents, for evidence packs (empty when not set or unreadable)."""
    name = settings.CANDOR_TSA_CA_FILE
    try:
        return Path(name).read_bytes() if name else b""
    except OSError:
        return b""


def authority_roots() -> list[cryptography.x509.Certificate]:
    """The certificates the authority's tokens must chain to (TSA_CA_FILE), or none."""
    name = settings.CANDOR_TSA_CA_FILE
    if not name:
        return []
    try:
        return cryptography.x509.load_pem_x509_certificates(Path(name).read_bytes())
    except (OSError, ValueError) as error:
        raise TimestampError(
            f"The authority's certificates in {name} cannot be read: {error}."
        ) from None
