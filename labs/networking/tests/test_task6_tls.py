"""Task 6: transport security. A test CA is made here, at run time (trustme): no
certificate is checked in, and nothing touches the network. The worker gets the files it
needs in a folder of its own (``netlab.serve.write_files``).

Your servers (``python -m netlab.serve rest|grpc --tls-dir DIR``) are called by the judge's
own clients; your clients call the judge's own TLS servers, which count handshakes and
choose which certificate to show: the right one, one for another name, an expired one, or
one from a CA your client was never told to trust.

Each requirement of secure.py's docstrings and of the lesson, and the test that fails when
that requirement alone is broken:

- client_ssl_context "trusts only ca_file": another CA
  -> test_rest_client_trusting_another_ca_is_rejected; the system store as well
  -> test_rest_client_trusting_the_system_store_too_is_rejected
- "verifies the server's certificate" (dates) -> test_rest_client_accepting_an_expired_..
- "and name" -> test_rest_client_ignoring_the_hostname_is_rejected, and never a fixed name
  -> test_rest_client_overriding_the_server_name_is_rejected (both certificates)
- "presents cert_file/key_file when given" -> test_rest_client_without_its_certificate_..;
  and none when not -> test_rest_client_that_needs_a_certificate_of_its_own_is_rejected
- uvicorn_ssl_options "serve TLS" -> test_rest_server_answers_a_client_certificate_from_its_ca,
  test_rest_server_speaking_plain_http_is_rejected; "require a client certificate"
  -> test_rest_server_accepting_a_client_without_a_certificate_is_rejected; "signed by
  ca_file" -> test_rest_server_accepting_another_cas_certificate_is_rejected
- ServerIdentity.grpc_credentials "require a client certificate from ca_file"
  -> test_grpc_server_without_client_auth_is_rejected,
  test_grpc_server_accepting_another_cas_certificate_is_rejected,
  test_grpc_server_without_tls_is_rejected
- "after reload(), new connections get the new certificate"
  -> test_rotated_certificate_the_server_ignores_is_rejected; "connections already open,
  and the calls on them, are left alone" -> test_rotation_that_drops_calls_in_flight_..
- reload "check the files here ... raise, and keep serving the current certificate"
  -> test_reload_accepting_a_key_that_does_not_match_is_rejected
- SecureRestClient: a client certificate -> test_rest_client_without_its_certificate_..;
  one connection -> test_rest_client_handshaking_per_call_is_rejected; "gives up after
  timeout_s" -> test_secure_rest_client_ignoring_its_timeout_is_rejected; "raises on any
  HTTP or TLS error" -> test_secure_rest_client_hiding_an_http_error_is_rejected (HTTP),
  and the CA, name and date tests (TLS)
- SecureGrpcClient: a client certificate -> test_grpc_client_without_its_certificate_..;
  "must name the host in target" -> test_grpc_client_ignoring_the_hostname_is_rejected,
  test_grpc_client_overriding_the_target_name_is_rejected; "a deadline of timeout_s"
  -> test_secure_grpc_client_without_a_deadline_is_rejected; one channel
  -> test_grpc_client_handshaking_per_call_is_rejected
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import httpx
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc

pytestmark = pytest.mark.task(6)

ROW = [12.0, 70.0, 2.0, 15.0]
ROWS = [ROW, [1.0, 20.0, 0.0, 3.5]]
SERVING = health_pb2.HealthCheckResponse.SERVING
CALL_TIMEOUT_S = 15.0
POLL_S = 0.02
# The rotation test's slow call: rows x delay of pretend work, in flight while the server
# swaps its certificate.
SLOW_ROWS = 8
ROW_DELAY_MS = 100


@dataclass
class Pki:
    """One test CA and everything it signed, plus a second CA nobody should trust."""

    ca: trustme.CA
    other_ca: trustme.CA
    server: trustme.LeafCert  # 127.0.0.1 and localhost
    server_rotated: trustme.LeafCert  # the same names, a new key
    wrong_name: trustme.LeafCert  # right CA, for another host
    expired: trustme.LeafCert  # right CA and name, expired in 2021
    foreign_server: trustme.LeafCert  # right name, signed by the other CA
    client: trustme.LeafCert
    foreign_client: trustme.LeafCert  # a client certificate from the other CA
    localhost_only: trustme.LeafCert  # right CA, the name localhost and no address
    address_only: trustme.LeafCert  # right CA, the address 127.0.0.1 and no name

    def client_context(self, leaf: trustme.LeafCert | None) -> ssl.SSLContext:
        """The judge's own client context: trusts ``ca``, presents ``leaf`` if given."""
        context = ssl.create_default_context(cadata=self.ca.cert_pem.bytes().decode())
        if leaf is not None:
            leaf.configure_cert(context)
        return context

    def grpc_credentials(self, leaf: trustme.LeafCert | None) -> grpc.ChannelCredentials:
        if leaf is None:
            return grpc.ssl_channel_credentials(self.ca.cert_pem.bytes())
        return grpc.ssl_channel_credentials(
            self.ca.cert_pem.bytes(), leaf.private_key_pem.bytes(), chain(leaf)
        )


def chain(leaf: trustme.LeafCert) -> bytes:
    return b"".join(blob.bytes() for blob in leaf.cert_chain_pems)


def server_files(pki: Pki, leaf: trustme.LeafCert) -> dict[str, str]:
    return {
        "ca.pem": pki.ca.cert_pem.bytes().decode(),
        "server.pem": chain(leaf).decode(),
        "server.key": leaf.private_key_pem.bytes().decode(),
    }


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca, other = trustme.CA(), trustme.CA()
    return Pki(
        ca=ca,
        other_ca=other,
        server=ca.issue_cert("127.0.0.1", "localhost"),
        server_rotated=ca.issue_cert("127.0.0.1", "localhost"),
        wrong_name=ca.issue_cert("model.other.example"),
        expired=ca.issue_cert(
            "127.0.0.1",
            "localhost",
            not_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
            not_after=datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC),
        ),
        foreign_server=other.issue_cert("127.0.0.1", "localhost"),
        client=ca.issue_cert("client.netlab.test"),
        foreign_client=other.issue_cert("client.netlab.test"),
        localhost_only=ca.issue_cert("localhost"),
        address_only=ca.issue_cert("127.0.0.1"),
    )


@pytest.fixture(scope="module")
def serve_mod(learner: Any) -> Any:
    """The provided ``netlab.serve``, in the worker: it writes the worker's TLS folders."""
    return learner.module("netlab.serve", timeout=CALL_TIMEOUT_S)


@pytest.fixture(scope="module")
def secure(learner: Any) -> Any:
    """Your ``netlab.secure``, imported in the worker."""
    return learner.module("netlab.secure", timeout=CALL_TIMEOUT_S)


@pytest.fixture(scope="module")
def client_dir(pki: Pki, serve_mod: Any) -> dict[str, str]:
    """The client's files, in the worker: trust ``ca``, present ``client``."""
    folder = serve_mod.write_files(
        {
            "ca.pem": pki.ca.cert_pem.bytes().decode(),
            "client.pem": chain(pki.client).decode(),
            "client.key": pki.client.private_key_pem.bytes().decode(),
        }
    )
    return {
        "ca_file": f"{folder}/ca.pem",
        "cert_file": f"{folder}/client.pem",
        "key_file": f"{folder}/client.key",
    }


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except AssertionError:  # the worker timed out or is gone: its own message says it best
        raise
    except Exception as exc:
        code = getattr(exc, "code", None)
        if isinstance(code, grpc.StatusCode):
            return code.name
        if isinstance(code, str):  # a grpc.RpcError from the worker: its code, by name
            return code
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return "OK"


# -- your REST server over mutual TLS ------------------------------------------------------


@pytest.fixture(scope="module")
def rest_tls(pki: Pki, serve_mod: Any, start_server: Any, wait_until: Any) -> Iterator[Any]:
    folder = serve_mod.write_files(server_files(pki, pki.server))
    server = start_server("rest", "--tls-dir", folder)
    url = f"https://127.0.0.1:{server.target.rsplit(':', 1)[1]}"
    context = pki.client_context(pki.client)

    def ready() -> bool:
        with httpx.Client(verify=context, timeout=2) as http:
            return http.get(f"{url}/readyz").status_code == 200

    wait_until(ready, timeout=30, what=f"GET {url}/readyz over mutual TLS to answer 200")
    yield url
    server.stop()


def _rest_post(url: str, verify: ssl.SSLContext | bool) -> str:
    """POST one row; "200", "422"... or the exception the judge's own client raised."""
    try:
        with httpx.Client(verify=verify, timeout=5) as http:
            return str(http.post(f"{url}/v1/predict", json={"instances": [ROW]}).status_code)
    except httpx.HTTPError as exc:
        return type(exc).__name__


def test_rest_server_answers_a_client_certificate_from_its_ca(
    pki: Pki, rest_tls: str, expected_scores: Any
) -> None:
    with httpx.Client(verify=pki.client_context(pki.client), timeout=5) as http:
        response = http.post(f"{rest_tls}/v1/predict", json={"instances": ROWS})
    assert response.status_code == 200, (
        f"POST {rest_tls}/v1/predict with a client certificate from ca.pem answered "
        f"{response.status_code}: {response.text[:200]}"
    )
    assert response.json()["predictions"] == pytest.approx(expected_scores(ROWS), rel=1e-9)


def test_rest_server_speaking_plain_http_is_rejected(rest_tls: str) -> None:
    plain = rest_tls.replace("https://", "http://")
    outcome = _rest_post(plain, verify=False)
    assert not outcome.isdigit(), (
        f"A plain-HTTP POST to {plain} was answered {outcome}; expected no HTTP answer. "
        "With --tls-dir the server must speak TLS only: a port that also answers in clear "
        "text is one a misconfigured client will use."
    )


def test_rest_server_accepting_a_client_without_a_certificate_is_rejected(
    pki: Pki, rest_tls: str
) -> None:
    outcome = _rest_post(rest_tls, verify=pki.client_context(None))
    assert not outcome.isdigit(), (
        f"A client with no certificate got HTTP {outcome} from {rest_tls}; expected the "
        "handshake refused. Mutual TLS means the server requires a client certificate "
        "(ssl_cert_reqs=ssl.CERT_REQUIRED; CERT_OPTIONAL lets anyone in)."
    )


def test_rest_server_accepting_another_cas_certificate_is_rejected(pki: Pki, rest_tls: str) -> None:
    outcome = _rest_post(rest_tls, verify=pki.client_context(pki.foreign_client))
    assert not outcome.isdigit(), (
        f"A client certificate from another CA got HTTP {outcome}; expected the handshake "
        "refused. The server must trust only ca.pem for its clients (ssl_ca_certs)."
    )


# -- your gRPC server over mutual TLS --------------------------------------------------------


@dataclass
class GrpcTls:
    server: Any
    target: str
    folder: str


def _grpc_call(pki: Pki, target: str, leaf: trustme.LeafCert | None, rows: Any = None) -> Any:
    from netlab import protos

    pb2, pb2_grpc = protos.load()
    with grpc.secure_channel(target, pki.grpc_credentials(leaf)) as channel:
        stub = pb2_grpc.ModelServiceStub(channel)
        request = pb2.PredictRequest(rows=[pb2.Row(features=r) for r in (rows or [ROW])])
        return stub.Predict(request, timeout=10)


def _start_grpc_tls(
    pki: Pki, serve_mod: Any, start_server: Any, wait_until: Any, *args: str
) -> GrpcTls:
    folder = serve_mod.write_files(server_files(pki, pki.server))
    server = start_server("grpc", "--tls-dir", folder, *args)
    target = server.target

    def serving() -> bool:
        with grpc.secure_channel(target, pki.grpc_credentials(pki.client)) as channel:
            request = health_pb2.HealthCheckRequest(service="")
            return bool(health_pb2_grpc.HealthStub(channel).Check(request, timeout=2).status)

    wait_until(serving, timeout=30, what=f"grpc.health.v1 over mutual TLS at {target}")
    return GrpcTls(server, target, folder)


@pytest.fixture(scope="module")
def grpc_tls(pki: Pki, serve_mod: Any, start_server: Any, wait_until: Any) -> Iterator[GrpcTls]:
    # Slow rows, so that the rotation test can hold a call in flight; one server for all.
    running = _start_grpc_tls(
        pki, serve_mod, start_server, wait_until, "--row-delay-ms", str(ROW_DELAY_MS)
    )
    yield running
    running.server.stop()


def test_grpc_server_answers_a_client_certificate_from_its_ca(
    pki: Pki, grpc_tls: GrpcTls, expected_scores: Any
) -> None:
    outcome = _outcome(lambda: _grpc_call(pki, grpc_tls.target, pki.client))
    assert outcome == "OK", (
        f"Predict over mutual TLS with a client certificate from ca.pem ended with {outcome}."
    )
    scores = list(_grpc_call(pki, grpc_tls.target, pki.client, ROWS).scores)
    assert scores == pytest.approx(expected_scores(ROWS), rel=1e-9)


def test_grpc_server_without_tls_is_rejected(pb: Any, grpc_tls: GrpcTls) -> None:
    pb2, pb2_grpc = pb
    with grpc.insecure_channel(grpc_tls.target) as channel:
        stub = pb2_grpc.ModelServiceStub(channel)
        request = pb2.PredictRequest(rows=[pb2.Row(features=ROW)])
        outcome = _outcome(lambda: stub.Predict(request, timeout=5))
    assert outcome != "OK", (
        f"A Predict over a plain-text channel to {grpc_tls.target} succeeded; expected it "
        "refused. Bind the port with add_secure_port and your credentials."
    )


def test_grpc_server_without_client_auth_is_rejected(pki: Pki, grpc_tls: GrpcTls) -> None:
    outcome = _outcome(lambda: _grpc_call(pki, grpc_tls.target, None))
    assert outcome != "OK", (
        "A Predict from a client with no certificate succeeded; expected the handshake "
        "refused (UNAVAILABLE). The gRPC server must require client authentication: "
        "require_client_auth / require_client_authentication=True."
    )


def test_grpc_server_accepting_another_cas_certificate_is_rejected(
    pki: Pki, grpc_tls: GrpcTls
) -> None:
    outcome = _outcome(lambda: _grpc_call(pki, grpc_tls.target, pki.foreign_client))
    assert outcome != "OK", (
        "A Predict with a client certificate from another CA succeeded; expected the "
        "handshake refused. Trust only ca.pem for clients (root_certificates)."
    )


# -- certificate rotation without downtime ---------------------------------------------------


def _peer_certificate(pki: Pki, target: str) -> bytes:
    """The certificate a new TLS connection to ``target`` is shown (DER)."""
    host, port = target.rsplit(":", 1)
    context = pki.client_context(pki.client)
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


@dataclass
class Rotation:
    before: bytes  # the certificate a new connection saw before reload
    after: bytes  # ... and after
    reload_reply: str
    in_flight: str  # how the call in flight during the reload ended
    in_flight_scores: list[float]
    old_channel_after: str  # a call on the connection opened before the reload
    new_channel_after: str  # a call on a new connection after it


@pytest.fixture(scope="module")
def rotation(
    pki: Pki, serve_mod: Any, grpc_tls: GrpcTls, wait_until: Any, pb: Any
) -> Iterator[Rotation]:
    """On the slow gRPC server over mutual TLS, put a call in flight, write a new server
    certificate into its folder and send ``reload``; then see what each party got."""
    running = grpc_tls
    pb2, pb2_grpc = pb
    channel = grpc.secure_channel(running.target, pki.grpc_credentials(pki.client))
    stub = pb2_grpc.ModelServiceStub(channel)
    try:
        stub.Predict(pb2.PredictRequest(rows=[pb2.Row(features=ROW)]), timeout=10)
        before = _peer_certificate(pki, running.target)
        rows_before = running.server.rows_scored()
        slow_rows = [ROW] * SLOW_ROWS
        future = stub.Predict.future(
            pb2.PredictRequest(rows=[pb2.Row(features=r) for r in slow_rows]), timeout=30
        )
        wait_until(
            lambda: running.server.rows_scored() > rows_before,
            timeout=10,
            what="the slow call to be in flight",
        )
        serve_mod.write_files(server_files(pki, pki.server_rotated), running.folder)
        reply = running.server.command("reload")
        after = _peer_certificate(pki, running.target)
        new_channel = _outcome(lambda: _grpc_call(pki, running.target, pki.client))
        try:
            in_flight, scores = "OK", list(future.result(timeout=30).scores)
        except grpc.RpcError as exc:
            in_flight, scores = exc.code().name, []
        old = _outcome(
            lambda: stub.Predict(pb2.PredictRequest(rows=[pb2.Row(features=ROW)]), timeout=10)
        )
        yield Rotation(before, after, reply, in_flight, scores, old, new_channel)
    finally:
        channel.close()


def _der(leaf: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())


def test_rotated_certificate_the_server_ignores_is_rejected(pki: Pki, rotation: Rotation) -> None:
    assert rotation.before == _der(pki.server), "Before reload the server showed another cert."
    assert rotation.reload_reply == "OK reload", (
        f"The server answered {rotation.reload_reply!r} to `reload`; expected 'OK reload'."
    )
    assert rotation.after == _der(pki.server_rotated), (
        "After a new server.pem/server.key were written and `reload` was sent, a new "
        "connection was still shown the old certificate. ServerIdentity.reload() must make "
        "new handshakes use the new files (grpc.dynamic_ssl_server_credentials asks its "
        "fetcher before each handshake), without a restart."
    )
    assert rotation.new_channel_after == "OK", (
        f"A call on a new connection after the reload ended with {rotation.new_channel_after}."
    )


def test_rotation_that_drops_calls_in_flight_is_rejected(
    rotation: Rotation, expected_scores: Any
) -> None:
    assert rotation.in_flight == "OK", (
        f"A call in flight while the certificate was rotated ended with {rotation.in_flight}; "
        "expected it to finish. Rotation must not restart the server or close connections: "
        "only new handshakes change."
    )
    assert rotation.in_flight_scores == pytest.approx(expected_scores([ROW] * SLOW_ROWS))
    assert rotation.old_channel_after == "OK", (
        f"A call on the connection opened before the rotation ended with "
        f"{rotation.old_channel_after}; expected OK: open connections keep working."
    )


def test_reload_accepting_a_key_that_does_not_match_is_rejected(
    pki: Pki, serve_mod: Any, grpc_tls: GrpcTls, rotation: Rotation
) -> None:
    # After the rotation above, the folder holds server_rotated. Now a certificate arrives
    # without its key: the key on disk is another certificate's.
    serve_mod.write_files(
        {"server.pem": chain(pki.server).decode(),
         "server.key": pki.server_rotated.private_key_pem.bytes().decode()},
        grpc_tls.folder,
    )  # fmt: skip
    try:
        reply = grpc_tls.server.command("reload")
        shown = _outcome(lambda: _peer_certificate(pki, grpc_tls.target))
        after = _outcome(lambda: _grpc_call(pki, grpc_tls.target, pki.client))
        peer = _peer_certificate(pki, grpc_tls.target) if shown == "OK" else b""
    finally:
        serve_mod.write_files(server_files(pki, pki.server_rotated), grpc_tls.folder)
    assert reply.startswith("ERR"), (
        f"`reload` with a server.key that is not server.pem's key answered {reply!r}; "
        "expected an error (ERR ...). Check the files in reload() (parse the certificate and "
        "key, and that they belong together): gRPC only parses them at the next handshake, "
        "and then quietly keeps the old certificate, so a rotation job told OK leaves the "
        "server on a certificate that is about to expire."
    )
    assert after == "OK" and peer == _der(pki.server_rotated), (
        f"After a failed reload, a new connection ended with {after} (and its handshake with "
        f"{shown}); expected OK, with the certificate served before the failed reload. A bad "
        "file must leave the server on its current certificate."
    )


# -- your clients, against the judge's TLS servers --------------------------------------------


class _TlsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True
    server: TlsHttpServer

    def setup(self) -> None:
        # The handshake runs here, in the connection's own thread, so a client that hangs
        # up mid-handshake never blocks the accept loop.
        self.request = self.server.context.wrap_socket(self.request, server_side=True)
        with self.server.lock:
            self.server.handshakes += 1
        super().setup()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.requests += 1
        self.server.answer.wait(self.server.hold_s)  # 0 unless a test holds the answer back
        body = b'{"predictions": [0.5], "model_version": "1"}'
        if self.server.status != 200:
            body = b'{"detail": "overloaded"}'
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class TlsHttpServer(ThreadingHTTPServer):
    """A loopback HTTPS server that shows ``leaf``, optionally requires a client
    certificate from ``client_ca``, and counts completed handshakes and requests."""

    daemon_threads = True

    def __init__(self, leaf: trustme.LeafCert, client_ca: trustme.CA | None) -> None:
        super().__init__(("127.0.0.1", 0), _TlsHandler)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(self.context)
        if client_ca is not None:
            client_ca.configure_trust(self.context)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.lock = threading.Lock()
        self.handshakes = 0
        self.requests = 0
        self.hold_s = 0.0
        self.answer = threading.Event()
        self.status = 200
        self.url = f"https://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a refused handshake is what several tests expect


@pytest.fixture
def https_server() -> Iterator[Callable[..., TlsHttpServer]]:
    made: list[tuple[TlsHttpServer, threading.Thread]] = []

    def make(leaf: trustme.LeafCert, client_ca: trustme.CA | None = None) -> TlsHttpServer:
        server = TlsHttpServer(leaf, client_ca)
        thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True)
        thread.start()
        made.append((server, thread))
        return server

    yield make
    for server, thread in made:
        server.answer.set()
        server.shutdown()
        server.server_close()
        thread.join()


def _rest_outcome(secure: Any, client_dir: dict[str, str], server: TlsHttpServer) -> str:
    rest = secure.SecureRestClient(server.url, **client_dir, timeout_s=5)
    try:
        return _outcome(lambda: rest.predict([ROW]))
    finally:
        rest.close()


def test_rest_client_without_its_certificate_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any
) -> None:
    server = https_server(pki.server, client_ca=pki.ca)
    outcome = _rest_outcome(secure, client_dir, server)
    assert outcome == "OK" and server.requests == 1, (
        f"predict() against a server that requires a client certificate ended with "
        f"{outcome}; expected OK. Present cert_file/key_file (SSLContext.load_cert_chain)."
    )


def test_rest_client_trusting_another_ca_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any
) -> None:
    server = https_server(pki.foreign_server)
    outcome = _rest_outcome(secure, client_dir, server)
    assert outcome != "OK" and server.requests == 0, (
        f"predict() against a server whose certificate comes from a CA not in ca_file "
        f"ended with {outcome} (the server saw {server.requests} requests); expected an "
        "error before any request was sent. verify=False, or CERT_NONE, lets anyone on the "
        "path read and change your traffic."
    )


def test_rest_client_ignoring_the_hostname_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any
) -> None:
    server = https_server(pki.wrong_name)
    outcome = _rest_outcome(secure, client_dir, server)
    assert outcome != "OK" and server.requests == 0, (
        f"predict() against 127.0.0.1 showing a valid certificate for model.other.example "
        f"ended with {outcome}; expected an error before any request was sent. Without "
        "check_hostname, any certificate the CA ever signed impersonates every service."
    )


def test_rest_client_accepting_an_expired_certificate_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any
) -> None:
    server = https_server(pki.expired)
    outcome = _rest_outcome(secure, client_dir, server)
    assert outcome != "OK" and server.requests == 0, (
        f"predict() against a server whose certificate expired in 2021 ended with "
        f"{outcome}; expected an error before any request was sent."
    )


def test_rest_client_handshaking_per_call_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any
) -> None:
    server = https_server(pki.server, client_ca=pki.ca)
    rest = secure.SecureRestClient(server.url, **client_dir, timeout_s=5)
    try:
        for _ in range(8):
            assert rest.predict([ROW]) == [0.5]
    finally:
        rest.close()
    assert server.handshakes == 1, (
        f"8 predict() calls on one SecureRestClient made {server.handshakes} TLS handshakes; "
        "expected 1. Keep one httpx.Client with its pool: a handshake costs two round trips "
        "and a signature per call."
    )


class _CountingModel:
    """A ModelService that answers 0.25 per row and records each call's client port, and
    the time its caller had left (None: no deadline)."""

    def __init__(self, pb2: Any) -> None:
        self.pb2 = pb2
        self.peers: list[str] = []
        self.time_left: list[float | None] = []

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.peers.append(context.peer())
        self.time_left.append(context.time_remaining())
        return self.pb2.PredictResponse(scores=[0.25] * len(request.rows), model_version="1")

    def PredictStream(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
        for request in request_iterator:
            yield self.Predict(request, context)


@pytest.fixture
def grpc_judge(pb: Any, pki: Pki) -> Iterator[Callable[[trustme.LeafCert], tuple[Any, str]]]:
    """``grpc_judge(leaf)``: a gRPC server showing ``leaf`` that requires a client
    certificate from the test CA."""
    pb2, pb2_grpc = pb
    servers: list[grpc.Server] = []

    def make(leaf: trustme.LeafCert) -> tuple[_CountingModel, str]:
        service = _CountingModel(pb2)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb2_grpc.add_ModelServiceServicer_to_server(service, server)
        credentials = grpc.ssl_server_credentials(
            [(leaf.private_key_pem.bytes(), chain(leaf))],
            root_certificates=pki.ca.cert_pem.bytes(),
            require_client_auth=True,
        )
        port = server.add_secure_port("127.0.0.1:0", credentials)
        server.start()
        servers.append(server)
        return service, f"127.0.0.1:{port}"

    yield make
    for server in servers:
        server.stop(0).wait()


def test_grpc_client_without_its_certificate_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], grpc_judge: Any
) -> None:
    service, target = grpc_judge(pki.server)
    client = secure.SecureGrpcClient(target, **client_dir, timeout_s=5)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    assert outcome == "OK" and len(service.peers) == 1, (
        f"predict() against a gRPC server that requires a client certificate ended with "
        f"{outcome}; expected OK. Pass private_key and certificate_chain to "
        "grpc.ssl_channel_credentials."
    )


def test_grpc_client_ignoring_the_hostname_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], grpc_judge: Any
) -> None:
    service, target = grpc_judge(pki.wrong_name)
    client = secure.SecureGrpcClient(target, **client_dir, timeout_s=5)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    assert outcome != "OK" and not service.peers, (
        f"predict() to {target}, which showed a certificate for model.other.example, ended "
        f"with {outcome}; expected UNAVAILABLE before any call arrived. Never set "
        "grpc.ssl_target_name_override to silence a name mismatch: fix the certificate."
    )


def test_grpc_client_handshaking_per_call_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], grpc_judge: Any
) -> None:
    service, target = grpc_judge(pki.server)
    client = secure.SecureGrpcClient(target, **client_dir, timeout_s=5)
    t0 = time.perf_counter()
    try:
        for _ in range(8):
            assert client.predict([ROW]) == [0.25]
    finally:
        client.close()
    ports = set(service.peers)
    assert len(ports) == 1, (
        f"8 predict() calls on one SecureGrpcClient came from {len(ports)} client ports "
        f"(TLS connections) in {time.perf_counter() - t0:.2f}s; expected 1. Make the "
        "secure channel once, in __init__."
    )


def test_rest_client_trusting_the_system_store_too_is_rejected(
    learner: Any, pki: Pki, secure: Any, serve_mod: Any, client_dir: dict[str, str],
    https_server: Any,
) -> None:  # fmt: skip
    # Stand in for the system's trust store: OpenSSL reads SSL_CERT_FILE whenever a context
    # loads its default CAs. Point it, in the worker, at the CA that signed foreign_server.
    folder = serve_mod.write_files({"public.pem": pki.other_ca.cert_pem.bytes().decode()})
    os_mod = learner.module("os")
    os_mod.putenv("SSL_CERT_FILE", f"{folder}/public.pem")
    try:
        cas = secure.client_ssl_context(**client_dir).cert_store_stats()["x509_ca"]
        server = https_server(pki.foreign_server)
        outcome = _rest_outcome(secure, client_dir, server)
    finally:
        os_mod.unsetenv("SSL_CERT_FILE")
    assert cas == 1 and outcome != "OK" and server.requests == 0, (
        f"client_ssl_context() holds {cas} CA certificates, and predict() against a server "
        f"whose certificate comes from a CA in the system's trust store ended with {outcome}; "
        "expected ca_file's one CA, and the call refused. Trust ca_file alone (create_default_"
        "context(cafile=...) does; load_default_certs() or no cafile adds every public CA): "
        "any certificate a public CA ever issued for the name would pass for your service."
    )


@pytest.mark.parametrize("name", ["localhost_only", "address_only"])
def test_rest_client_overriding_the_server_name_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any, name: str
) -> None:
    # The client dials 127.0.0.1. A certificate for localhost alone must be refused; one for
    # the address alone must pass.
    server = https_server(getattr(pki, name), client_ca=pki.ca)
    outcome = _rest_outcome(secure, client_dir, server)
    want = "OK" if name == "address_only" else "an error before any request"
    got_right = outcome == "OK" if name == "address_only" else server.requests == 0
    assert got_right, (
        f"predict() to {server.url}, which showed a certificate for "
        f"{'127.0.0.1' if name == 'address_only' else 'localhost'} only, ended with {outcome} "
        f"(requests served: {server.requests}); expected {want}. The name checked is the host "
        "in base_url: never replace it (server_hostname, sni_hostname) with a fixed one."
    )


@pytest.mark.parametrize("name", ["localhost_only", "address_only"])
def test_grpc_client_overriding_the_target_name_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], grpc_judge: Any, name: str
) -> None:
    service, target = grpc_judge(getattr(pki, name))
    client = secure.SecureGrpcClient(target, **client_dir, timeout_s=5)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    want = "OK" if name == "address_only" else "UNAVAILABLE, before any call arrived"
    got_right = outcome == "OK" if name == "address_only" else not service.peers
    assert got_right, (
        f"predict() to {target}, which showed a certificate for "
        f"{'127.0.0.1' if name == 'address_only' else 'localhost'} only, ended with "
        f"{outcome}; expected {want}. gRPC checks the certificate against the host in the "
        "target: grpc.ssl_target_name_override replaces it with a fixed name, and then any "
        "certificate for that name passes for every server you dial."
    )


def test_secure_grpc_client_without_a_deadline_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], grpc_judge: Any
) -> None:
    service, target = grpc_judge(pki.server)
    client = secure.SecureGrpcClient(target, **client_dir, timeout_s=5)
    try:
        outcome = _outcome(lambda: client.predict([ROW]))
    finally:
        client.close()
    left = service.time_left[0] if service.time_left else None
    assert outcome == "OK" and left is not None and 0 < left <= 5.0, (
        f"SecureGrpcClient(timeout_s=5).predict() ended with {outcome}, and the server saw "
        f"{left} s left before the caller's deadline; expected at most 5 s. Pass "
        "timeout=timeout_s on every call: without a deadline a call to a hung server waits "
        "for ever, holding the caller's thread."
    )


def test_secure_rest_client_ignoring_its_timeout_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any
) -> None:
    # The server holds its answer for 3 s; the client was given 0.3 s.
    server = https_server(pki.server, client_ca=pki.ca)
    server.hold_s = 3.0
    rest = secure.SecureRestClient(server.url, **client_dir, timeout_s=0.3)
    try:
        outcome = _outcome(lambda: rest.predict([ROW]))
    finally:
        server.answer.set()
        rest.close()
    assert outcome != "OK", (
        f"SecureRestClient(timeout_s=0.3).predict() against a server that answers after 3 s "
        f"ended with {outcome}; expected a timeout error. Give the httpx.Client "
        "timeout=timeout_s: its default is 5 s, whatever the caller asked for."
    )


def test_secure_rest_client_hiding_an_http_error_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any
) -> None:
    server = https_server(pki.server, client_ca=pki.ca)
    server.status = 503
    outcome = _rest_outcome(secure, client_dir, server)
    assert server.requests == 1 and outcome != "OK", (
        f"predict() against a server that answered 503 ended with {outcome}; expected an "
        "error (raise_for_status). A failed call that returns a value is a wrong answer "
        "downstream, not an outage anyone sees."
    )


def test_rest_client_that_needs_a_certificate_of_its_own_is_rejected(
    pki: Pki, secure: Any, client_dir: dict[str, str], https_server: Any
) -> None:
    # Plain TLS: the client is given only ca_file, and the server asks for no certificate.
    server = https_server(pki.server)

    def call() -> Any:
        rest = secure.SecureRestClient(server.url, ca_file=client_dir["ca_file"], timeout_s=5)
        try:
            return rest.predict([ROW])
        finally:
            rest.close()

    outcome = _outcome(call)
    assert outcome == "OK" and server.requests == 1, (
        f"SecureRestClient with ca_file only (no cert_file, no key_file) against a server "
        f"that asks for no client certificate ended with {outcome}; expected OK. Present a "
        "certificate when one is given, and plain TLS otherwise."
    )
