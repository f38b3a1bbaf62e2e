"""A stand-in for CloudFormation's pre-signed response URL: an HTTPS loopback server (crhelper answers over
HTTPS only) with a certificate made for it, trusted through ``SSL_CERT_FILE`` while it runs. Every response a
custom resource sends is kept in :attr:`CfnResponses.received`."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from devstack.loopback import LoopbackServer


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class CfnResponses:
    """``with CfnResponses() as cfn:`` ``cfn.url(...)`` is a response URL; ``cfn.wait()`` the next response."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._dir = tempfile.TemporaryDirectory()
        cert, key = _self_signed(Path(self._dir.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._cert = cert
        self._old_cert_file: str | None = None
        self._server = LoopbackServer(self._receive, ssl_context=context)

    def url(self, name: str = "response") -> str:
        return f"{self._server.url}/cfn/{name}?X-Amz-Signature=stand-in"

    @Request.application
    def _receive(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"{}")
        with self._changed:
            self.received.append({"method": request.method, "path": request.path, **body})
            self._changed.notify_all()
        return Response(status=200)

    def wait(self, count: int = 1, timeout: float = 30) -> dict[str, Any]:
        """The ``count``-th response received (waiting for it)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no response {count} from the custom resource within {timeout} s")
                self._changed.wait(left)
            return self.received[count - 1]

    def __enter__(self) -> CfnResponses:
        self._old_cert_file = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = str(self._cert)  # ssl.create_default_context() then trusts it
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()
        if self._old_cert_file is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = self._old_cert_file
        self._dir.cleanup()
