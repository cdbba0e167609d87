"""A real RFC 3161 timestamp authority on 127.0.0.1, for tests.

`openssl ts -reply` does the authority's work, with a certificate authority
and a timestamping certificate made here; a small HTTP server in a thread
takes the POSTed query (RFC 3161, section 3.4) and answers with the reply.
`behaviour` makes it misbehave the ways real ones do: answer garbage, an
HTTP error, or the same old reply to every query.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = """
[ tsa ]
default_tsa = candor_test

[ candor_test ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

TSA_EXTENSIONS = """
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def openssl(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", *args], cwd=cwd, input=stdin, capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def make_authority(folder: Path) -> None:
    """A test CA, and a timestamping certificate it signed, in `folder`."""
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-subj", "/CN=Candor Test CA", "-days", "2",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", "/CN=Candor Test TSA",
        cwd=folder,
    )  # fmt: skip
    (folder / "tsa.ext").write_text(TSA_EXTENSIONS)
    openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.crt", "-days", "2", "-extfile", "tsa.ext",
        cwd=folder,
    )  # fmt: skip
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(CONFIG.format(dir=folder))


@dataclass
class Authority:
    folder: Path
    url: str = ""
    # "reply" (the real thing), "garbage", "error" (HTTP 500), "replay" (the first reply, always)
    behaviour: str = "reply"
    queries: int = 0
    first_reply: bytes = b""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.crt"

    def reply(self, query: bytes) -> bytes:
        with self.lock, tempfile.TemporaryDirectory() as work:
            (Path(work) / "query.tsq").write_bytes(query)
            openssl(
                "ts", "-reply", "-config", str(self.folder / "tsa.cnf"),
                "-queryfile", "query.tsq", "-out", "reply.tsr",
                cwd=Path(work),
            )  # fmt: skip
            return (Path(work) / "reply.tsr").read_bytes()


class _Handler(BaseHTTPRequestHandler):
    authority: Authority

    def do_POST(self) -> None:
        authority = self.authority
        authority.queries += 1
        query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if authority.behaviour == "error":
            self.send_error(500, "The authority is having a bad day")
            return
        if authority.behaviour == "garbage":
            body = b"<html>Service temporarily unavailable</html>"
        else:
            body = authority.reply(query)
            if not authority.first_reply:
                authority.first_reply = body
            if authority.behaviour == "replay":
                body = authority.first_reply
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet
        pass


@contextlib.contextmanager
def running(authority: Authority) -> Iterator[Authority]:
    handler = type("Handler", (_Handler,), {"authority": authority})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    authority.url = f"http://127.0.0.1:{server.server_port}/tsa"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield authority
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def openssl_verifies(token: bytes, data: bytes, ca_file: Path) -> subprocess.CompletedProcess:
    """`openssl ts -verify` of `token` (a DER TimeStampResp) over `data`, as a recipient would."""
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "head.txt").write_bytes(data)
        (Path(work) / "head.tsr").write_bytes(token)
        return subprocess.run(
            ["openssl", "ts", "-verify", "-data", "head.txt", "-in", "head.tsr",
             "-CAfile", str(ca_file)],
            cwd=work, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
