"""Task 6: the REST and gRPC services over mutual TLS, and clients that verify the server."""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import httpx
from netlab import protos


def client_ssl_context(
    ca_file: str, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """An SSLContext for a client that trusts only ``ca_file``, verifies the server's
    certificate and name, and presents ``cert_file``/``key_file`` when given (mutual TLS)."""
    # create_default_context turns on CERT_REQUIRED and check_hostname; with cafile it trusts
    # that CA alone, not the system store: an internal service has an internal CA.
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context


def uvicorn_ssl_options(ca_file: str, cert_file: str, key_file: str) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: TLS, and a client certificate required."""
    return {
        "ssl_certfile": cert_file,
        "ssl_keyfile": key_file,
        "ssl_ca_certs": ca_file,
        # CERT_OPTIONAL would let a client without a certificate in: that is not mutual TLS.
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }


class ServerIdentity:
    """The gRPC server's certificate, which can be replaced while the server runs."""

    def __init__(self, ca_file: str, cert_file: str, key_file: str) -> None:
        self._ca = Path(ca_file)
        self._cert = Path(cert_file)
        self._key = Path(key_file)
        self._lock = threading.Lock()
        self._first = self._read()
        self._pending: Any = None

    def _read(self) -> Any:
        ca, cert, key = self._ca.read_bytes(), self._cert.read_bytes(), self._key.read_bytes()
        # gRPC only keeps these bytes and parses them at the next handshake, where a bad key
        # is dropped quietly and the old certificate kept (grpcio 1.85): the reload would
        # say OK while the server stays on a certificate that will expire. Parse them now,
        # with the ssl module: the CA, the certificate, and that the key is the certificate's.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_verify_locations(cadata=ca.decode("ascii"))
        with tempfile.TemporaryDirectory() as private:  # mode 0700: only we can read it
            pair = Path(private, "pair.pem")
            pair.write_bytes(cert + b"\n" + key)
            context.load_cert_chain(pair)
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def grpc_credentials(self) -> grpc.ServerCredentials:
        # gRPC asks the fetcher before every handshake: None keeps the current certificate,
        # a configuration replaces it for new connections. Open connections keep theirs.
        return grpc.dynamic_ssl_server_credentials(
            self._first, self._fetch, require_client_authentication=True
        )

    def _fetch(self) -> Any:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def reload(self) -> None:
        # Read and check the new files before swapping: a bad or mismatched key raises here,
        # the reload command fails, and the server keeps serving the old certificate.
        config = self._read()
        with self._lock:
            self._pending = config


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
        # One client, so one TLS session for every call: a handshake per call costs two round
        # trips and a signature.
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout_s,
            verify=client_ssl_context(ca_file, cert_file, key_file),
        )

    def predict(self, instances: Sequence[Sequence[float]]) -> list[float]:
        response = self._http.post(
            "/v1/predict", json={"instances": [list(row) for row in instances]}
        )
        response.raise_for_status()
        return list(response.json()["predictions"])

    def close(self) -> None:
        self._http.close()


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
        self.pb2, pb2_grpc = protos.load()
        self.timeout_s = timeout_s
        credentials = grpc.ssl_channel_credentials(
            root_certificates=Path(ca_file).read_bytes(),
            private_key=Path(key_file).read_bytes() if key_file else None,
            certificate_chain=Path(cert_file).read_bytes() if cert_file else None,
        )
        # gRPC checks the server's certificate against the host in `target`. Overriding the
        # name (grpc.ssl_target_name_override) is for tests that cannot get a matching cert.
        self._channel = grpc.secure_channel(target, credentials)
        self._stub = pb2_grpc.ModelServiceStub(self._channel)

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        request = self.pb2.PredictRequest(rows=[self.pb2.Row(features=row) for row in rows])
        return list(self._stub.Predict(request, timeout=self.timeout_s).scores)

    def close(self) -> None:
        self._channel.close()
