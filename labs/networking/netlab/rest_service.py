"""Task 1: the model behind a REST API (FastAPI).

Build ``create_app(model_loader)`` so that, once uvicorn serves it (``python -m netlab.serve
rest`` does that for you):

- ``POST /v1/predict`` takes ``{"instances": [[f1, f2, f3, f4], ...]}`` (1 to ``MAX_BATCH``
  rows of ``N_FEATURES`` finite numbers) and answers ``{"predictions": [...],
  "model_version": "1"}``. Bad input gets a 422 whose body says what is wrong, never a 500.
  While the model is still loading, predict answers 503.
- ``GET /healthz`` is liveness: 200 whenever the process can answer at all.
- ``GET /readyz`` is readiness: 503 until the model is loaded, 503 again once draining
  has started (``start_draining``), and 200 in between.
- Every response carries an ``X-Request-ID`` header: the caller's own id when it sent one,
  a fresh one otherwise. That includes the 500 of an unhandled exception (log it with the id).
- The OpenAPI schema is served at ``/openapi.json`` (FastAPI does this if you let it).

``model_loader`` is slow (think: downloading weights). Call it in the background when the app
starts, so that liveness answers while the model loads.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from pydantic import BaseModel

from netlab.model import MAX_BATCH, N_FEATURES, LogisticModel  # noqa: F401 (you will need them)

REQUEST_ID_HEADER = "X-Request-ID"


class PredictRequest(BaseModel):
    """The request body. TODO(student): declare ``instances`` with its constraints.

    pydantic's ``Field(min_length=..., max_length=...)``, ``Annotated`` and ``FiniteFloat``
    let the framework reject a bad batch with a 422 before your code runs.
    """


def create_app(model_loader: Callable[[], LogisticModel]) -> FastAPI:
    """Return the FastAPI app. ``app.state.model`` holds the model once it has loaded."""
    # TODO(student): a lifespan that starts loading the model in a background thread,
    #   /healthz, /readyz, POST /v1/predict, a request-id middleware, and a 422 handler that
    #   stays a 422 even when the bad input is NaN (hint: try it with curl and see).
    raise NotImplementedError("TODO(student): build the FastAPI app in create_app()")


def start_draining(app: FastAPI) -> None:
    """Called on shutdown: fail readiness from now on, but keep serving what still arrives."""
    # TODO(student)
    raise NotImplementedError("TODO(student): make /readyz answer 503 from now on")
