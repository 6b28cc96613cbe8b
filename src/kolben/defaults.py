"""The application's configuration defaults (``Kolben.default_config``).

Every key Flask 3.1 has, with Flask's value, then kolben's own keys. The user
guide pages document each key where its feature is described; the values here are
what ``app.config`` starts with (``DEBUG`` is then read from ``KOLBEN_DEBUG`` /
``FLASK_DEBUG``).
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

#: The configuration defaults: ``Kolben.default_config`` is this dict.
DEFAULT_CONFIG: dict[str, t.Any] = {
    "DEBUG": None,
    "TESTING": False,
    "PROPAGATE_EXCEPTIONS": None,
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": None,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
    "USE_X_SENDFILE": False,
    "TRUSTED_HOSTS": None,
    "SERVER_NAME": None,
    "APPLICATION_ROOT": "/",
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_PARTITIONED": False,
    "SESSION_COOKIE_SAMESITE": None,
    "SESSION_REFRESH_EACH_REQUEST": True,
    "MAX_CONTENT_LENGTH": None,
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1_000,
    "SEND_FILE_MAX_AGE_DEFAULT": None,
    "TRAP_BAD_REQUEST_ERRORS": None,
    "TRAP_HTTP_EXCEPTIONS": False,
    "EXPLAIN_TEMPLATE_LOADING": False,
    "PREFERRED_URL_SCHEME": "http",
    "TEMPLATES_AUTO_RELOAD": None,
    "MAX_COOKIE_SIZE": 4093,
    "PROVIDE_AUTOMATIC_OPTIONS": True,
    # kolben's own keys (not in Flask). BROKER_URL is read with a default of
    # None but not set here: Celery takes BROKER_URL from a Flask app's config
    # (the classic ``celery.conf.update(app.config)``), and a None there would
    # replace the broker the app gave Celery.
    "BROKER_RETENTION": 1000,
    "BROKER_QUEUE_SIZE": 256,
    "BROKER_KEY_PREFIX": "kolben:broker:",
    "BROKER_REDIS_TIMEOUT": 5.0,
    "STATIC_CACHE_BUST": False,
    "SESSION_BACKEND": "cookie",
    "SESSION_REDIS_URL": None,
    "SESSION_REDIS_TIMEOUT": 2.0,
    # SESSION_KEY_PREFIX is read with the default "kolben:session:" but not set
    # here: Flask-Session reads the same key with its own default ("session:"),
    # which a value in app.config would replace.
    "SESSION_MEMORY_MAX_ENTRIES": 10_000,
    "SESSION_REDIS_MAX_CONNECTIONS": 32,
    # Server-side sessions move to a new id when one of these keys changes (a
    # log-in): Flask-Login's and the tutorial's user id.
    "SESSION_REGENERATE_KEYS": ("_user_id", "user_id", "user", "username"),
    "WEBSOCKET_MAX_MESSAGE_SIZE": 1024 * 1024,
    "ASGI_WORKER_THREADS": None,
    # Seconds a worker thread waits for the next part of a request body before
    # the request is a 408 (a client that stops sending mid-body).
    "ASGI_BODY_TIMEOUT": 30.0,
    # Seconds the lifespan shutdown waits for def code still running in worker
    # threads before the after_serving functions run (None: as long as it takes).
    "ASGI_SHUTDOWN_TIMEOUT": 30.0,
    # Keep parsed Cookie headers and verified session cookies per app, between
    # requests (kolben.caching); False verifies every cookie again.
    "REQUEST_DATA_CACHES": True,
}
