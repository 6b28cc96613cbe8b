"""The app the deploy/ layout serves: one module, two pools.

Regular views (pages, forms, the publish endpoint) are served by gunicorn's sync
workers; the streaming views under ``/streams/`` by uvicorn workers, where one
worker holds thousands of open Server-Sent Events connections. nginx routes by
path; the two pools share events through the Redis broker (``BROKER_URL``).

Configuration comes from ``KOLBEN_*`` environment variables (JSON values, or
plain strings): ``KOLBEN_SECRET_KEY``, ``KOLBEN_BROKER_URL`` (required: the
in-process broker can't reach the other pool).
"""

from __future__ import annotations

import typing as t

from kolben import Kolben, abort, redirect, render_template_string, request, url_for
from kolben.sse import stream_channel

app = Kolben(__name__)
app.config.from_prefixed_env()

if not str(app.config.get("BROKER_URL") or "").startswith(("redis://", "rediss://", "unix://")):
    raise RuntimeError(
        "deploy/app.py needs KOLBEN_BROKER_URL=redis://host:port/db: the sync pool"
        " publishes and the async pool streams, so they must share a Redis broker."
    )

CHANNELS = {"demo"}

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>kolben deploy demo</title>
<h1>kolben deploy demo</h1>
<form method="post" action="{{ url_for('publish', channel='demo') }}">
  <input name="text" autocomplete="off" required> <button>Send</button>
</form>
<ul id="events"></ul>
<script>
  const list = document.getElementById("events");
  const source = new EventSource("{{ url_for('stream', channel='demo') }}");
  source.onmessage = (e) => {
    const item = document.createElement("li");
    item.textContent = JSON.parse(e.data).text;
    list.append(item);
  };
</script>
"""


@app.get("/")
def index() -> str:
    """A page (sync pool) that listens to the demo channel (async pool)."""
    return render_template_string(PAGE)


def _health() -> dict[str, t.Any]:
    # The ASGI door puts the scope in the environ: that tells the pools apart.
    return {"ok": True, "door": "asgi" if "asgi.scope" in request.environ else "wsgi"}


@app.get("/healthz")
def healthz() -> dict[str, t.Any]:
    """Health check of the pool serving regular views (through nginx: sync)."""
    return _health()


@app.get("/streams/healthz")
def streams_healthz() -> dict[str, t.Any]:
    """Health check of the pool serving /streams/ (through nginx: async)."""
    return _health()


@app.post("/events/<channel>")
def publish(channel: str) -> t.Any:
    """Publish a message (sync pool); a form post goes back to the page."""
    if channel not in CHANNELS:
        abort(404)
    text = request.form.get("text") or (request.get_json(silent=True) or {}).get("text")
    if not text:
        abort(400, "Send a 'text' form field or JSON member.")
    event_id = app.broker.publish(channel, {"text": text})
    if request.form:
        return redirect(url_for("index"))
    return {"id": event_id}, 201


@app.get("/streams/<channel>")
def stream(channel: str) -> t.Any:
    """The event stream (async pool), resumable with Last-Event-ID."""
    if channel not in CHANNELS:
        abort(404)
    return stream_channel(channel)
