"""Frames and values that cross the boundary. JSON only: nothing here can run code.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON. Values are JSON
with a few tagged forms, each a one-key-plus-``$`` object, so plain dicts stay plain:

    {"$": "tuple", "v": [...]}        {"$": "bytes", "v": "<base64>"}
    {"$": "float", "v": "nan"}        {"$": "dict", "v": [[key, value], ...]}
    {"$": "ref", "id": 3, "type": "netlab.client.RestClient", "repr": "<...>"}
                                      an object that stays in the worker
    {"$": "cb", "id": 7}              an object of the judge's (a fake clock, a recorder)
                                      that the worker may call back

Messages (``id`` numbers each side's own requests):

    judge -> worker   {"id", "op": import|getattr|call|iter|len|getitem|repr|release, ...}
    worker -> judge   {"id", "ok": value} | {"id", "error": {type, mro, message, where, ...}}
    worker -> judge   {"cb": n, "target", "method", "args", "kwargs"}      a callback
    judge -> worker   {"cbr": n, "ok": value} | {"cbr": n, "error": {...}}
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "JOB_ENV",
    "JUDGE_PYTHONPATH_ENV",
    "MAX_FRAME",
    "ROOT_ENV",
    "SPAWNER_ENV",
    "Channel",
    "ChannelClosed",
    "ProtocolError",
    "decode",
    "encode",
]

# The environment variables the runners, the supervisor and the fixture agree on.
ROOT_ENV = "MLSKILLS_LEARNER_ROOT"  # the learner's folder, where workers start
SPAWNER_ENV = "MLSKILLS_SPAWNER_FD"  # the judge's socket to the supervisor
JUDGE_PYTHONPATH_ENV = "MLSKILLS_JUDGE_PYTHONPATH"  # the supervisor gives it to the judge
JOB_ENV = "MLSKILLS_JOB"  # marks one local run's processes, for its final sweep

MAX_FRAME = 16 * 1024 * 1024
MAX_DEPTH = 64
_HEADER = struct.Struct(">I")
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class ProtocolError(Exception):
    """The other side sent something that is not a valid frame or value."""


class ChannelClosed(Exception):
    """The other side went away."""


class Channel:
    """Frames over a connected stream socket; ``send`` may be called from any thread."""

    def __init__(self, sock: socket.socket, *, max_frame: int = MAX_FRAME) -> None:
        self.sock = sock
        self.max_frame = max_frame
        self._send_lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
        if len(data) > self.max_frame:
            raise ProtocolError(
                f"a message of {len(data):,} bytes is over the {self.max_frame:,}-byte limit"
            )
        with self._send_lock:
            try:
                self.sock.sendall(_HEADER.pack(len(data)) + data)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None

    def recv(self) -> dict[str, Any]:
        (size,) = _HEADER.unpack(self._read(_HEADER.size))
        if size > self.max_frame:
            # The size is checked before anything is read, so a huge frame costs nothing.
            raise ProtocolError(
                f"a message of {size:,} bytes is over the {self.max_frame:,}-byte limit"
            )
        try:
            message = json.loads(self._read(size))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(f"a message that is not JSON ({exc})") from None
        if not isinstance(message, dict):
            raise ProtocolError("a message that is not a JSON object")
        return message

    def _read(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            try:
                chunk = self.sock.recv(min(size - len(chunks), 1 << 20))
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            chunks += chunk
        return bytes(chunks)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def encode(value: Any, export: Callable[[Any], dict[str, Any]], _depth: int = 0) -> Any:
    """``value`` as JSON-ready data; what is not plain data goes through ``export``."""
    if _depth > MAX_DEPTH:
        raise ProtocolError(f"a value nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, bool | str):
        return value
    if type(value) is int:
        return value
    if type(value) is float:
        if math.isfinite(value):
            return value
        return {"$": "float", "v": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if type(value) is list:
        return [encode(v, export, _depth + 1) for v in value]
    if type(value) is tuple:
        return {"$": "tuple", "v": [encode(v, export, _depth + 1) for v in value]}
    if type(value) is bytes:
        return {"$": "bytes", "v": base64.b64encode(value).decode()}
    if type(value) is dict:
        if all(type(k) is str for k in value) and "$" not in value:
            return {k: encode(v, export, _depth + 1) for k, v in value.items()}
        return {
            "$": "dict",
            "v": [
                [encode(k, export, _depth + 1), encode(v, export, _depth + 1)]
                for k, v in value.items()
            ],
        }
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        # A numpy scalar (np.float64, np.int64, np.bool_) is a number to every test.
        return encode(value.item(), export, _depth + 1)
    return export(value)


def decode(data: Any, resolve: Callable[[dict[str, Any]], Any], _depth: int = 0) -> Any:
    """The value ``data`` encodes, with exact types; refs and callbacks go to ``resolve``."""
    if _depth > MAX_DEPTH:
        raise ProtocolError(f"a value nested more than {MAX_DEPTH} levels deep")
    if data is None or isinstance(data, bool | int | str):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [decode(v, resolve, _depth + 1) for v in data]
    if not isinstance(data, dict):
        raise ProtocolError(f"an unexpected value of type {type(data).__name__}")
    tag = data.get("$")
    if tag is None:
        return {str(k): decode(v, resolve, _depth + 1) for k, v in data.items()}
    body = data.get("v")
    if tag == "tuple" and isinstance(body, list):
        return tuple(decode(v, resolve, _depth + 1) for v in body)
    if tag == "bytes" and isinstance(body, str):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            raise ProtocolError("bytes that are not base64") from None
    if tag == "float" and body in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[body]
    if tag == "dict" and isinstance(body, list):
        result: dict[Any, Any] = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ProtocolError("a dict entry that is not a [key, value] pair")
            key = decode(pair[0], resolve, _depth + 1)
            try:
                result[key] = decode(pair[1], resolve, _depth + 1)
            except TypeError:
                raise ProtocolError("a dict key that cannot be hashed") from None
        return result
    if tag in ("ref", "cb") and type(data.get("id")) is int:
        return resolve(data)
    raise ProtocolError(f"an unknown tagged value {str(tag)[:40]!r}")
