"""The app's request class."""

from __future__ import annotations

import typing as t

from flask import Request


class MountedRequest(Request):
    """A request whose ``path`` is the whole path the browser asked for, mount
    point included.

    Served under a sub-path (``SCRIPT_NAME=/jotter``, as behind a proxy that
    mounts the app there), ``request.path`` is ``/jotter/notes/new`` instead of
    ``/notes/new``, so it compares equal to ``url_for()`` (which includes the
    mount point) and can be sent back as a ``next`` link. The script root moves
    into the path, so ``request.url`` stays the same. Routing is not affected:
    Flask matches the environ's ``PATH_INFO``.
    """

    def __init__(self, environ: t.Any, populate_request: bool = True, shallow: bool = False):
        super().__init__(environ, populate_request, shallow)
        if self.root_path:
            self.path = self.root_path + self.path
            self.root_path = ""
