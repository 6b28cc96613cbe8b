"""Live updates: every change to a post is announced on the app's broker, once it
is committed, and the index page follows the announcements with ``EventSource``.

An announcement is small, ``{"action": "created", "id": 7}`` on the ``posts``
channel with the SSE event type ``post``; the page then fetches the post's card
(``/7/card``), rendered by the server for the person looking. Every event has an
id: a browser that loses the connection reconnects with ``Last-Event-ID`` and
the broker replays what it missed.

With one server process the app's default in-memory broker is enough; with
several (``uvicorn --workers 4``, more machines) set ``BROKER_URL`` to a Redis
server so that every process sees every announcement.

A WSGI server that handles one request at a time per process (gunicorn's
default ``sync`` worker, ``kolben run --without-threads``) says so with
``wsgi.multithread = False``. There an open stream would take the whole worker
for as long as the page is open, and every other request would wait for it.
There the stream sends what was published since ``Last-Event-ID`` and ends,
telling the browser to come back in :data:`POLL_RETRY_MS`: ``EventSource``
reconnects by itself with the last id, so the page polls and misses nothing.
"""

from __future__ import annotations

from kolben import after_commit, current_app, request
from kolben.broker import BrokerError
from kolben.sse import Event, EventStream, stream_channel

#: The broker channel of post changes.
CHANNEL = "posts"
#: The SSE event type (the page listens with ``addEventListener("post", ...)``).
EVENT = "post"
#: How soon a browser comes back for more under a one-request-at-a-time WSGI worker.
POLL_RETRY_MS = 3000


def announce(action: str, post_id: int) -> None:
    """Announce that post ``post_id`` was ``created``, ``updated`` or ``deleted``,
    once the request's database transaction is committed (never for a change
    that is rolled back)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    message = {"action": action, "id": post_id}
    after_commit(lambda: app.broker.publish(CHANNEL, message, event=EVENT))


def events() -> EventStream:
    """The index page's event stream (``/events``), resuming after the request's
    ``Last-Event-ID`` header."""
    since = request.args.get("since")
    if not request.environ.get("wsgi.multithread", True):
        return _poll(since)
    return stream_channel(CHANNEL, last_event_id=since)


class _Position(Event):
    """The block ending a polled stream: the position reached (``id:``, which the
    browser sends back as ``Last-Event-ID``), the reconnection delay, and a
    ``poll`` event telling the page that the stream ending is expected."""

    __slots__ = ()

    def encode(self) -> bytes:
        where = f"id: {self.id}\n" if self.id else ""
        return f"{where}retry: {POLL_RETRY_MS}\nevent: poll\ndata: {POLL_RETRY_MS}\n\n".encode()


def _poll(since: str | None) -> EventStream:
    """The events published after ``Last-Event-ID`` (or ``since``), then an end."""
    last_event_id = request.headers.get("Last-Event-ID") or since or None
    broker = current_app.broker
    try:
        subscription = broker.subscribe(CHANNEL, last_event_id=last_event_id)
    except BrokerError:  # logged by the broker
        return EventStream([_Position(None)], keepalive=None)
    with subscription:
        missed = []
        while (event := subscription.get(timeout=0)) is not None:
            missed.append(event)
        position = subscription.last_id
    return EventStream([*missed, _Position(None, id=position)], keepalive=None)
