"""Blinker signals sent by the application, with Flask's names and arguments.

Every send site in kolben checks ``signal.receivers`` first, so a signal nobody is
connected to costs one attribute test per request and nothing more.
"""

from __future__ import annotations

import functools
import typing as t

from blinker import Namespace, Signal

if t.TYPE_CHECKING:
    from .app import Kolben
    from .pipeline import Steps

_signals = Namespace()

#: Sent before a template is rendered: ``template``, ``context``.
before_render_template = _signals.signal("before-render-template")
#: Sent after a template was rendered: ``template``, ``context``.
template_rendered = _signals.signal("template-rendered")
#: Sent when a request context is set up, before any request processing.
request_started = _signals.signal("request-started")
#: Sent right before the response goes out: ``response``.
request_finished = _signals.signal("request-finished")
#: Sent when the request context tears down: ``exc``.
request_tearing_down = _signals.signal("request-tearing-down")
#: Sent when an unhandled exception occurs during a request: ``exception``.
got_request_exception = _signals.signal("got-request-exception")
#: Sent when an unhandled exception occurs in a websocket (Quart's name; with
#: ``got_request_exception``, which is sent too): ``exception``.
got_websocket_exception = _signals.signal("got-websocket-exception")
#: Sent as a websocket's handshake matched a route, before its
#: ``before_websocket`` functions (Quart's).
websocket_started = _signals.signal("websocket-started")
#: Sent after a websocket's ``after_websocket`` functions: ``response`` (the
#: response refusing the handshake, or None once it was accepted) (Quart's).
websocket_finished = _signals.signal("websocket-finished")
#: Sent after a websocket's ``teardown_websocket`` functions: ``exc`` (Quart's).
websocket_tearing_down = _signals.signal("websocket-tearing-down")
#: Sent for each message a websocket view receives, with the message (a ``str``
#: or ``bytes``) as the sender (Quart's).
websocket_received = _signals.signal("websocket-received")
#: Sent for each message a websocket view sent, with the message (a ``str`` or
#: ``bytes``) as the sender (Quart's).
websocket_sent = _signals.signal("websocket-sent")
#: Sent when the application context tears down: ``exc``.
appcontext_tearing_down = _signals.signal("appcontext-tearing-down")
#: Sent when an application context is pushed.
appcontext_pushed = _signals.signal("appcontext-pushed")
#: Sent when an application context is popped.
appcontext_popped = _signals.signal("appcontext-popped")
#: Sent when a message is flashed: ``message``, ``category``.
message_flashed = _signals.signal("message-flashed")

__all__ = [
    "Namespace",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "got_request_exception",
    "got_websocket_exception",
    "message_flashed",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "template_rendered",
    "websocket_finished",
    "websocket_received",
    "websocket_sent",
    "websocket_started",
    "websocket_tearing_down",
]


def signal_steps(
    signal: Signal,
    sender: t.Any,
    kwargs: dict[str, t.Any],
    app: Kolben | None = None,
    error: BaseException | None = None,
) -> Steps[None]:
    """Send ``signal`` as pipeline steps (see :mod:`kolben.pipeline`): each
    receiver is one step, so a coroutine receiver is awaited where async code runs
    (blinker's ``send_async`` semantics) and a sync one runs where sync code runs.
    With ``error`` (and ``app``), the receivers run while it is being handled
    (:func:`kolben.pipeline.handling`), as ``got_request_exception``'s do in Flask."""
    if signal.is_muted:
        return
    if error is not None:
        from .pipeline import handling
    # An app's own ensure_sync sees each ``async def`` receiver, as blinker's
    # ``_async_wrapper`` does in Flask: give the partial the receiver's name (an
    # override reading func.__name__, as tracing ones do, works as in Flask,
    # which passes it the receiver itself). A sync receiver is called as it is.
    named = getattr(app if app is not None else sender, "_custom_ensure_sync", False)
    if named:
        from .concurrency import is_async_callable
        from .pipeline import Direct
    for receiver in signal.receivers_for(sender):
        step: t.Callable[..., t.Any] = functools.partial(receiver, sender, **kwargs)
        if named:
            if is_async_callable(receiver):
                functools.update_wrapper(step, receiver)
            else:
                step = Direct(step)
        if error is not None and app is not None:
            step = handling(app, step, error)
        yield step, ()
