"""The app the SSE server tests serve with uvicorn (and gunicorn).

Configured from the environment: ``KOLBEN_TEST_BROKER_URL`` (unset: the
in-process broker) and ``KOLBEN_TEST_BROKER_PREFIX``.
"""

from __future__ import annotations

import os
import threading

from kolben import Kolben, Response, request
from kolben.sse import stream_channel

app = Kolben(__name__)
app.config.update(
    BROKER_URL=os.environ.get("KOLBEN_TEST_BROKER_URL") or None,
    BROKER_KEY_PREFIX=os.environ.get("KOLBEN_TEST_BROKER_PREFIX", "kolben:broker:"),
)


@app.get("/ping")
def ping() -> str:
    return "ok"


@app.post("/publish/<channel>")
def publish(channel: str) -> dict[str, str]:
    return {"id": app.broker.publish(channel, request.get_json())}


@app.post("/apublish/<channel>")
async def apublish(channel: str) -> dict[str, str]:
    return {"id": await app.broker.apublish(channel, request.get_json())}


@app.get("/events/<channel>")
def events(channel: str) -> Response:
    return stream_channel(channel, keepalive=float(request.args.get("keepalive", 15)))


@app.get("/stats")
def stats() -> dict[str, object]:
    return {
        "subscribers": app.broker.subscriber_count(),
        "readers": sum(th.name == "kolben-broker-reader" for th in threading.enumerate()),
        "pid": os.getpid(),
    }
