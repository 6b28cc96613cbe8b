"""kolben: a Python web micro-framework with Flask's API.

``from kolben import Kolben`` (or ``Flask``, the same class) and write the app as
you would with Flask.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from . import json as json
from .app import Kolben as Kolben
from .blueprints import Blueprint as Blueprint
from .config import Config as Config
from .ctx import after_this_request as after_this_request
from .ctx import copy_current_request_context as copy_current_request_context
from .ctx import has_app_context as has_app_context
from .ctx import has_request_context as has_request_context
from .globals import current_app as current_app
from .globals import g as g
from .globals import request as request
from .globals import session as session
from .helpers import abort as abort
from .helpers import flash as flash
from .helpers import get_flashed_messages as get_flashed_messages
from .helpers import get_template_attribute as get_template_attribute
from .helpers import is_safe_url as is_safe_url
from .helpers import make_response as make_response
from .helpers import redirect as redirect
from .helpers import redirect_back as redirect_back
from .helpers import send_file as send_file
from .helpers import send_from_directory as send_from_directory
from .helpers import stream_request_body as stream_request_body
from .helpers import stream_with_context as stream_with_context
from .helpers import url_for as url_for
from .json import jsonify as jsonify
from .resources import after_commit as after_commit
from .resources import rollback_task as rollback_task
from .server_sessions import ServerSideSessionInterface as ServerSideSessionInterface
from .server_sessions import SessionUnavailable as SessionUnavailable
from .signals import appcontext_popped as appcontext_popped
from .signals import appcontext_pushed as appcontext_pushed
from .signals import appcontext_tearing_down as appcontext_tearing_down
from .signals import before_render_template as before_render_template
from .signals import got_request_exception as got_request_exception
from .signals import got_websocket_exception as got_websocket_exception
from .signals import message_flashed as message_flashed
from .signals import request_finished as request_finished
from .signals import request_started as request_started
from .signals import request_tearing_down as request_tearing_down
from .signals import template_rendered as template_rendered
from .signals import websocket_finished as websocket_finished
from .signals import websocket_received as websocket_received
from .signals import websocket_sent as websocket_sent
from .signals import websocket_started as websocket_started
from .signals import websocket_tearing_down as websocket_tearing_down
from .templating import render_template as render_template
from .templating import render_template_string as render_template_string
from .templating import stream_template as stream_template
from .templating import stream_template_string as stream_template_string
from .websocket import WebsocketDisconnect as WebsocketDisconnect
from .websocket import copy_current_websocket_context as copy_current_websocket_context
from .websocket import has_websocket_context as has_websocket_context
from .wrappers import Request as Request
from .wrappers import Response as Response

#: Flask's name for :class:`Kolben`, so ``from kolben import Flask`` works.
Flask = Kolben

# Bound after the submodule kolben.websocket was loaded (above): loading a
# submodule sets the package attribute of its name, once, so from here on
# `kolben.websocket` is the context global. Import the module's names with
# `from kolben.websocket import ...`.
from .globals import websocket as websocket  # noqa: E402

__version__ = "0.1.0.dev0"

__all__ = [
    "Blueprint",
    "Config",
    "Flask",
    "Kolben",
    "Markup",
    "Request",
    "Response",
    "ServerSideSessionInterface",
    "SessionUnavailable",
    "WebsocketDisconnect",
    "abort",
    "after_commit",
    "after_this_request",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "copy_current_request_context",
    "copy_current_websocket_context",
    "current_app",
    "escape",
    "flash",
    "g",
    "get_flashed_messages",
    "get_template_attribute",
    "got_request_exception",
    "got_websocket_exception",
    "has_app_context",
    "has_request_context",
    "has_websocket_context",
    "is_safe_url",
    "json",
    "jsonify",
    "make_response",
    "message_flashed",
    "redirect",
    "redirect_back",
    "render_template",
    "render_template_string",
    "request",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "rollback_task",
    "send_file",
    "send_from_directory",
    "session",
    "stream_request_body",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "template_rendered",
    "url_for",
    "websocket",
    "websocket_finished",
    "websocket_received",
    "websocket_sent",
    "websocket_started",
    "websocket_tearing_down",
]

# KOLBEN_FLASK_COMPAT=1 (or true/yes): make `import flask` give kolben, for Flask
# extensions (see kolben.compat). The compat module is imported only when asked for.
import os as _os  # noqa: E402

if _os.environ.get("KOLBEN_FLASK_COMPAT", "").lower() not in {"", "0", "false", "no"}:
    from .compat import install as _install_flask_compat

    _install_flask_compat()
del _os
