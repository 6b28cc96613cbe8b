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
"""

from __future__ import annotations

from kolben import after_commit, current_app, request
from kolben.sse import EventStream, stream_channel

#: The broker channel of post changes.
CHANNEL = "posts"
#: The SSE event type (the page listens with ``addEventListener("post", ...)``).
EVENT = "post"


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
    return stream_channel(CHANNEL, last_event_id=request.args.get("since"))
