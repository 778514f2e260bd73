"""Generated gRPC code for ``proto/model.proto``. Provided: you do not need to edit this file.

Call ``load()`` to get the two generated modules::

    pb2, pb2_grpc = protos.load()
    request = pb2.PredictRequest(rows=[pb2.Row(features=[1, 2, 3, 4])])

Why generate at run time? Generated code is a build artefact: it must match the installed
grpcio and protobuf, so it is never committed. The lab folder may be read-only, so the code
goes into a fresh temporary directory (under ``$NETLAB_STUB_DIR`` when that is set).

The pitfall this fixes: ``protoc`` writes ``model_pb2_grpc.py`` with a bare
``import model_pb2``, which only works when the output directory itself is on ``sys.path``.
Here the output is a package, ``_netlab_pb``, and that import is rewritten to a relative one.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

PROTO_DIR = Path(__file__).resolve().parent.parent / "proto"
PROTO_FILE = "model.proto"
PACKAGE = "_netlab_pb"


@functools.cache
def load() -> tuple[ModuleType, ModuleType]:
    """Compile the proto once per process and return ``(model_pb2, model_pb2_grpc)``."""
    from grpc_tools import protoc

    base = os.environ.get("NETLAB_STUB_DIR") or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="netlab-stubs-", dir=base))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    out = root / PACKAGE
    out.mkdir()
    (out / "__init__.py").write_text("")
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            PROTO_FILE,
        ]
    )
    if status != 0:
        raise RuntimeError(f"grpc_tools.protoc failed on {PROTO_DIR / PROTO_FILE} ({status})")
    grpc_file = out / "model_pb2_grpc.py"
    source = grpc_file.read_text()
    grpc_file.write_text(source.replace("import model_pb2 as", "from . import model_pb2 as"))
    sys.path.insert(0, str(root))
    pb2 = importlib.import_module(f"{PACKAGE}.model_pb2")
    pb2_grpc = importlib.import_module(f"{PACKAGE}.model_pb2_grpc")
    return pb2, pb2_grpc
