"""Static cache busting: ``url_for('static', filename=...)`` adds ``?v=<hash>``.

With ``STATIC_CACHE_BUST = True`` the URL of a static file (the app's or a
blueprint's) carries the first 12 hex digits of the SHA-256 of the file's content;
the static route answers a request whose ``v`` is the file's current version with
``Cache-Control: public, max-age=31536000, immutable``, so browsers and proxies
keep it for a year and a changed file gets a new URL. A stale or made-up ``v``
still gets the file, with the usual ``SEND_FILE_MAX_AGE_DEFAULT``.

Each file is hashed once per app and the version cached (a per-app cache of
``MAX_CACHED_VERSIONS`` files, see :mod:`kolben.caching`). In debug mode the
file's modification time and size are checked on every URL built, and the file
is hashed again when they change; outside debug mode a changed file is only
noticed after a restart (deploying restarts the workers).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat as _stat
import typing as t

from werkzeug.security import safe_join

from .caching import Cache, app_cache

if t.TYPE_CHECKING:
    from .app import Kolben

__all__ = ["IMMUTABLE_MAX_AGE", "add_static_version", "file_version"]

#: The max-age (one year, in seconds) of a static file requested with its version.
IMMUTABLE_MAX_AGE = 31536000
#: How many hex digits of the content hash the version keeps.
VERSION_LENGTH = 12

#: How many files' versions an app remembers (the oldest is hashed again when
#: more are asked for).
MAX_CACHED_VERSIONS = 4096

_CHUNK = 64 * 1024

# The name of the per-app cache: (folder, filename) -> (mtime_ns, size, version).
_VERSIONS = "kolben.static: file versions"


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:VERSION_LENGTH]


def file_version(app: Kolben, folder: str, filename: str) -> str | None:
    """The version of ``filename`` inside the static ``folder``: the first 12 hex
    digits of its SHA-256, or None if it is not a file there (or the name would
    leave the folder).

    Hashed once and cached per app; outside debug mode a cached file is not
    looked at again (no ``stat``), in debug mode it is hashed again when its
    modification time or size changed.
    """
    # PERF: the cache is keyed by what the caller has, so a hit costs a dict
    # lookup (no path joining or checks); only misses (and debug) touch the disk.
    cache: Cache[tuple[str, str], tuple[int, int, str]] = app_cache(
        app, _VERSIONS, MAX_CACHED_VERSIONS
    )
    key = (folder, filename)
    cached = cache.get(key)
    if cached is not None and not app.debug:
        return cached[2]
    if cached is None:
        # One entry per file, however a request spells its name ("./a.css").
        key = (folder, posixpath.normpath(filename))
        cached = cache.get(key)
        if cached is not None and not app.debug:
            return cached[2]
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # missing, a bad name, a NUL byte
        cache.pop(key, None)
        return None
    if not _stat.S_ISREG(st.st_mode):
        cache.pop(key, None)
        return None
    if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
        return cached[2]
    try:
        version = _hash_file(path)
    except OSError:
        return None
    cache.put(key, (st.st_mtime_ns, st.st_size, version))
    return version


def static_folder_for(app: Kolben, endpoint: str) -> str | None:
    """The static folder served by ``endpoint`` (``"static"`` for the app's,
    ``"<blueprint>.static"`` for a blueprint's), or None."""
    if endpoint == "static":
        return app.static_folder
    blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
    if blueprint is None:
        return None
    return blueprint.static_folder


def add_static_version(app: Kolben, endpoint: str, values: dict[str, t.Any]) -> None:
    """Add ``v`` (the file's version) to the values of a static URL being built.

    Called by :meth:`Kolben.url_for` for a static endpoint when
    ``STATIC_CACHE_BUST`` is on. A ``v`` given by the caller is kept; a missing
    file gets no ``v`` (the URL still builds, and the request will be a 404).
    """
    if "v" in values:
        return
    folder = static_folder_for(app, endpoint)
    filename = values.get("filename")
    if folder is None or not isinstance(filename, str):
        return
    version = file_version(app, folder, filename)
    if version is not None:
        values["v"] = version
