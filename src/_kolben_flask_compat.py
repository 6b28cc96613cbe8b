"""The start-up hook of kolben's Flask compat layer (see :mod:`kolben.compat`).

``kolben_flask_compat.pth``, installed with kolben in site-packages, imports
this module when a Python process starts with ``KOLBEN_FLASK_COMPAT`` set (to
anything but empty, ``0``, ``false`` or ``no``). It puts a small finder first in
:data:`sys.meta_path` that turns the compat layer on at the first ``import
flask`` (or the first look-up of the ``Flask`` distribution's metadata), before
anything else can load the real Flask; so ``pytest``, ``gunicorn app:app`` and
the ``flask`` command get kolben without an ``import kolben`` first. kolben
itself is imported only then: a process that never imports flask pays nothing
but this module.
"""

from __future__ import annotations

import sys

# PERF: this runs at the start-up of every Python process started with the
# variable; typing and threading would double its import time, so neither is
# imported (_thread is built in; annotations are never evaluated).
from _thread import allocate_lock

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

_lock = allocate_lock()


class _Hook:
    """Turns the layer on at the first ``flask`` import, then leaves
    :data:`sys.meta_path` to the layer's own finder."""

    def find_spec(self, fullname: str, path: t.Any = None, target: t.Any = None) -> t.Any:
        if fullname != "flask" and not fullname.startswith("flask."):
            return None
        return _activate().find_spec(fullname, path, target)

    def find_distributions(self, context: t.Any = None) -> t.Any:
        name = getattr(context, "name", None)
        if not name or name.lower().replace("_", "-") != "flask":
            return []
        return _activate().find_distributions(context)

    def invalidate_caches(self) -> None:
        """Nothing cached."""

    def __repr__(self) -> str:
        return "<kolben Flask compat start-up hook>"


_hook = _Hook()


def _activate() -> t.Any:
    """Install the compat layer in place of the hook; return its finder."""
    with _lock:
        while _hook in sys.meta_path:
            sys.meta_path.remove(_hook)
        try:
            import kolben.compat
        except Exception as e:
            raise ImportError(
                "KOLBEN_FLASK_COMPAT is set, so 'flask' is served by kolben, but kolben"
                f" could not be imported: {type(e).__name__}: {e}. Fix the kolben"
                " installation, or unset KOLBEN_FLASK_COMPAT to use the real Flask."
            ) from e
        kolben.compat.install()
        return kolben.compat._finder


def install() -> None:
    """Put the hook first in :data:`sys.meta_path` (unless the layer or the hook
    is already there). Called by ``kolben_flask_compat.pth`` at start-up."""
    with _lock:
        if _hook in sys.meta_path:
            return
        compat = sys.modules.get("kolben.compat")
        if compat is not None and compat.installed():
            return
        sys.meta_path.insert(0, _hook)
