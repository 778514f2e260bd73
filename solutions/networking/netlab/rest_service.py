"""Task 1: the model behind a REST API (FastAPI), with liveness, readiness and request ids."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from netlab.model import MAX_BATCH, N_FEATURES, LogisticModel
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

REQUEST_ID_HEADER = "X-Request-ID"
logger = logging.getLogger("netlab.rest")

Features = Annotated[list[FiniteFloat], Field(min_length=N_FEATURES, max_length=N_FEATURES)]


class PredictRequest(BaseModel):
    # Unknown fields are a client bug (a typo in "instances"): say so instead of ignoring it.
    model_config = ConfigDict(extra="forbid")

    instances: list[Features] = Field(min_length=1, max_length=MAX_BATCH)


class PredictResponse(BaseModel):
    predictions: list[float]
    model_version: str


def create_app(model_loader: Callable[[], LogisticModel]) -> FastAPI:
    """Build the app. ``model_loader`` may be slow; it runs in the background at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load in a thread so the server answers /healthz (alive) while /readyz says "not yet".
        def load() -> None:
            app.state.model = model_loader()

        threading.Thread(target=load, name="model-loader", daemon=True).start()
        yield

    app = FastAPI(title="netlab model server", version="1", lifespan=lifespan)
    app.state.model = None
    app.state.draining = False

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default handler echoes the offending input, and a NaN in it cannot be
        # written as JSON: the 422 would turn into a 500. Report where and what, not the value.
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Reuse the caller's id so one request can be followed across every hop's logs.
        rid = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        try:
            response = await call_next(request)
        except Exception:
            # An unhandled error would reach Starlette's own 500 handler, outside this
            # middleware, and lose the id: the one answer someone will come asking about.
            # Log it with its id, and answer the 500 here.
            logger.exception(
                "unhandled error in %s %s (request id %s)", request.method, request.url.path, rid
            )
            response = JSONResponse({"detail": "internal server error"}, status_code=500)
        response.headers[REQUEST_ID_HEADER] = rid
        return response

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        # Liveness: "the process works". Failing it gets the process restarted, so it must
        # not depend on the model or on draining.
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        # Readiness: "send me traffic". A load balancer stops routing here while this fails.
        if app.state.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        if app.state.model is None:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse({"status": "ready"})

    # async def: scoring takes microseconds, so a thread-pool hop would cost more than it saves.
    @app.post("/v1/predict", response_model=PredictResponse)
    async def predict(body: PredictRequest) -> PredictResponse | JSONResponse:
        model = app.state.model
        if model is None:
            return JSONResponse(
                {"detail": "model is still loading"}, status_code=503, headers={"Retry-After": "1"}
            )
        return PredictResponse(
            predictions=model.predict(body.instances), model_version=model.version
        )

    return app


def start_draining(app: FastAPI) -> None:
    """Fail readiness from now on, and keep serving whatever still arrives."""
    app.state.draining = True
