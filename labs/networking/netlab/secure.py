"""Task 6: the REST and gRPC services over TLS, then mutual TLS.

Certificates are files, as they are in production (a Kubernetes secret mounted in a pod,
say). A folder of them holds:

    ca.pem                    the CA whose certificates this side accepts from its peer
    server.pem / server.key   the server's certificate chain and private key
    client.pem / client.key   the client's

``python -m netlab.serve rest|grpc --tls-dir DIR`` (provided) runs your task-1 app and your
task-2 servicer behind what you build here:

- ``uvicorn_ssl_options`` for the REST server,
- ``ServerIdentity.grpc_credentials()`` for the gRPC server, and ``reload()`` for a
  certificate rotated on disk (the server's stdin command ``reload`` calls it).

Both servers accept a client only with a certificate from ``ca.pem``: that is *mutual* TLS.
The clients trust only their ``ca_file``, check the server's name, and keep one TLS
connection for all their calls: a handshake costs round trips and public-key work.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import grpc


def client_ssl_context(
    ca_file: str, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """An SSLContext for a client that trusts only ``ca_file``, verifies the server's
    certificate and name, and presents ``cert_file``/``key_file`` when given (mutual TLS)."""
    # TODO(student): build it; never turn a check off to make an error go away.
    raise NotImplementedError("TODO(student): client_ssl_context")


def uvicorn_ssl_options(ca_file: str, cert_file: str, key_file: str) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that serve TLS with ``cert_file``/``key_file``
    and require a client certificate signed by ``ca_file``."""
    # TODO(student): the ssl_* options of uvicorn.Config.
    raise NotImplementedError("TODO(student): uvicorn_ssl_options")


class ServerIdentity:
    """The gRPC server's certificate, which can be replaced while the server runs.

    ``grpc_credentials()`` is passed once to ``server.add_secure_port``. After ``reload()``,
    new connections get the certificate and key now in ``cert_file``/``key_file``;
    connections already open, and the calls on them, are left alone.
    """

    def __init__(self, ca_file: str, cert_file: str, key_file: str) -> None:
        # TODO(student): remember the paths and read the first certificate.
        raise NotImplementedError("TODO(student): ServerIdentity")

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Server credentials that require a client certificate from ``ca_file``."""
        # TODO(student)
        raise NotImplementedError("TODO(student): ServerIdentity.grpc_credentials")

    def reload(self) -> None:
        """Read ``cert_file`` and ``key_file`` again; new handshakes use them.

        Check the files here, not at the next handshake: if the certificate or key cannot be
        parsed, or the key is not the certificate's, raise, and keep serving the current
        certificate."""
        # TODO(student)
        raise NotImplementedError("TODO(student): ServerIdentity.reload")


class SecureRestClient:
    """``POST /v1/predict`` over HTTPS, with a client certificate when one is given. The
    server's certificate must name the host in ``base_url``; every call gives up after
    ``timeout_s``."""

    def __init__(
        self,
        base_url: str,
        *,
        ca_file: str,
        cert_file: str | None = None,
        key_file: str | None = None,
        timeout_s: float = 1.0,
    ) -> None:
        # TODO(student): one httpx.Client, verifying with client_ssl_context().
        raise NotImplementedError("TODO(student): SecureRestClient")

    def predict(self, instances: Sequence[Sequence[float]]) -> list[float]:
        """The model's scores for ``instances``; raises on any HTTP or TLS error."""
        raise NotImplementedError("TODO(student): SecureRestClient.predict")

    def close(self) -> None:
        raise NotImplementedError("TODO(student): SecureRestClient.close")


class SecureGrpcClient:
    """``ModelService.Predict`` over TLS, with a client certificate when one is given. The
    server's certificate must name the host in ``target``; every call has a deadline of
    ``timeout_s``."""

    def __init__(
        self,
        target: str,
        *,
        ca_file: str,
        cert_file: str | None = None,
        key_file: str | None = None,
        timeout_s: float = 1.0,
    ) -> None:
        # TODO(student): one secure channel, made with grpc.ssl_channel_credentials.
        raise NotImplementedError("TODO(student): SecureGrpcClient")

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """The model's scores for ``rows``; raises grpc.RpcError on failure."""
        raise NotImplementedError("TODO(student): SecureGrpcClient.predict")

    def close(self) -> None:
        raise NotImplementedError("TODO(student): SecureGrpcClient.close")
