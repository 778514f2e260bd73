"""The trust boundary's pieces: the protocol, the worker, and the judge's handles.

These run the worker as a plain subprocess (no second user); tests/test_forgery.py proves
the same code against hostile submissions in the sandbox.
"""

from __future__ import annotations

import gc
import math
import socket
import struct
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.boundary.fixture import Learner, LearnerError, LearnerGone, LearnerTimeout
from grader.boundary.protocol import Channel, ProtocolError, decode, encode

MODULE = """
import math, os, threading, time


class Counter:
    def __init__(self, start):
        self.value = start

    def add(self, step):
        self.value += step
        return self.value

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.value = -1

    def __len__(self):
        return 3

    def __iter__(self):
        return iter([1, 2, 3])


class Oops(Exception):
    pass


def values():
    return [1, 2.5, "s", None, True, (1, 2), {3: "x"}, b"\\x00", math.nan, {"a": [1]}]


def raises_value_error():
    raise ValueError("bad value")


def raises_own():
    raise Oops("mine")


def hang():
    time.sleep(600)


def uses_clock(clock, sleep):
    start = clock()
    sleep(0.5)
    return clock() - start


def draw(rng):
    return rng.uniform(0, 3)


def catches(fake):
    try:
        fake()
    except ConnectionError as exc:
        return f"caught {exc}"
    return "not raised"


def threads(call, n):
    results = []
    workers = [threading.Thread(target=lambda: results.append(call())) for _ in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return len(results)


def who():
    return os.getpid()


def crash():
    os._exit(3)


def held():
    # how many objects the worker holds for the judge, found the way a learner could
    import gc
    return next(len(o.objects) for o in gc.get_objects() if type(o).__name__ == "Worker")
"""


@pytest.fixture
def learner(tmp_path: Path) -> Iterator[Learner]:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "m.py").write_text(textwrap.dedent(MODULE))
    handle = Learner(tmp_path, timeout=20)
    yield handle
    handle.close()


def test_plain_data_comes_back_with_its_exact_types(learner: Learner) -> None:
    got = learner.module("pkg.m").values()
    assert got[:8] == [1, 2.5, "s", None, True, (1, 2), {3: "x"}, b"\x00"]
    assert [type(v) for v in got[:8]] == [int, float, str, type(None), bool, tuple, dict, bytes]
    assert math.isnan(got[8]) and got[9] == {"a": [1]}


def test_objects_stay_in_the_worker_behind_handles(learner: Learner) -> None:
    m = learner.module("pkg.m")
    counter = m.Counter(5)
    assert counter.add(2) == 7 and counter.value == 7
    assert len(counter) == 3 and list(counter) == [1, 2, 3]
    with m.Counter(1) as inside:
        assert inside.value == 1
    assert m.Counter(0).add(counter.value) == 7  # a handle passed back is the object


def test_exceptions_keep_builtin_types_and_the_learners_names(learner: Learner) -> None:
    m = learner.module("pkg.m")
    with pytest.raises(ValueError, match="bad value") as info:
        m.raises_value_error()
    assert "raised at pkg/m.py" in str(info.value)
    with learner.raises("pkg.m.Oops") as own:
        m.raises_own()
    assert type(own.value).__name__ == "Oops" and isinstance(own.value, LearnerError)
    with pytest.raises(AttributeError):
        m.no_such_function  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        learner.module("pkg.nope")


def test_the_tests_fakes_stay_in_the_judge_and_are_called_back(learner: Learner) -> None:
    m = learner.module("pkg.m")

    class FakeTime:
        now = 0.0

        def clock(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds

    fake = FakeTime()
    assert m.uses_clock(fake.clock, fake.sleep) == 0.5 and fake.now == 0.5

    class Top:
        def uniform(self, a: float, b: float) -> float:
            return b

    assert m.draw(Top()) == 3

    def refuses() -> None:
        raise ConnectionError("refused")

    assert m.catches(refuses) == "caught refused"  # the builtin type crossed back
    assert m.threads(lambda: 1, 16) == 16  # many learner threads calling back at once


def test_a_call_that_never_returns_fails_and_the_worker_is_replaced(learner: Learner) -> None:
    m = learner.module("pkg.m", timeout=1)
    first = m.who()
    with pytest.raises(LearnerTimeout, match=r"pkg\.m\.hang\(\) did not return within 1 s"):
        m.hang()
    with pytest.raises(LearnerGone):
        m.who()  # the old worker's handles are gone with it
    assert learner.module("pkg.m").who() != first


def test_a_worker_that_dies_fails_the_call_plainly(learner: Learner) -> None:
    m = learner.module("pkg.m")
    with pytest.raises(LearnerGone, match="exited"):
        m.crash()
    assert learner.module("pkg.m").values()[0] == 1


def test_handles_no_test_holds_are_released_in_the_worker(learner: Learner) -> None:
    m = learner.module("pkg.m")
    before = m.held()
    for _ in range(50):
        m.Counter(1).add(1)  # each leaves a Counter and a bound method behind, unheld
    gc.collect()
    assert m.held() < before + 10, "the worker still holds the objects no test refers to"


def test_the_fixture_exposes_its_exception_classes(learner: Learner) -> None:
    assert learner.Error is LearnerError and learner.Timeout is LearnerTimeout
    assert learner.Gone is LearnerGone


def _pair() -> tuple[Channel, socket.socket]:
    ours, theirs = socket.socketpair()
    return Channel(ours, max_frame=1024), theirs


def test_a_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    channel, theirs = _pair()
    theirs.sendall(struct.pack(">I", 2**31))
    with pytest.raises(ProtocolError, match="over the 1,024-byte limit"):
        channel.recv()
    channel.close()
    theirs.close()


@pytest.mark.parametrize(
    "payload", [b"not json", b"[1, 2]", b'{"$": "ref"}'], ids=["garbage", "array", "bad-tag"]
)
def test_malformed_frames_are_protocol_errors(payload: bytes) -> None:
    channel, theirs = _pair()
    theirs.sendall(struct.pack(">I", len(payload)) + payload)
    with pytest.raises(ProtocolError):
        message = channel.recv()
        decode(message, lambda tag: pytest.fail("no tag should resolve"))
    channel.close()
    theirs.close()


def test_encoding_refuses_values_nested_too_deep() -> None:
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nested"):
        encode(deep, lambda value: {})


def test_tagged_values_round_trip() -> None:
    value = {"t": (1, [2.5, math.inf]), 4: b"\xff", "$": "dollar"}
    assert decode(encode(value, lambda v: {}), lambda tag: None) == value


def test_numpy_scalars_cross_as_plain_numbers(learner: Learner) -> None:
    np = learner.module("numpy")
    mean = np.mean([1.0, 2.0])
    assert mean == 1.5 and type(mean) is float
    assert type(np.int64(3)) is int and np.bool_(True) is True
