"""Keep the ``#:`` comments of class attributes of classes documented under
the package name.

The reference documents ``kolben.Kolben`` (the name users import), while the
class is defined in ``kolben.app``. For a class attribute whose value is a
class (``request_class = Request``, documented by a ``#:`` comment above it),
autodoc looks for that comment in the source of the module the class is
documented under, ``kolben/__init__.py``, finds nothing and shows only "alias
of Request". At ``builder-inited`` this extension hands the source analyzer of
``kolben`` the attribute comments of every class the package re-exports, read
from the module that defines it, so the comment is shown (followed by the
"alias of" line). It changes nothing else; with a Sphinx whose autodoc no
longer reads comments this way, those attributes just lose their comments again.
"""

from __future__ import annotations

import importlib
import typing as t

from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx

#: The packages whose re-exported classes are documented under the package name.
PACKAGES = ("kolben",)


def seed_comments(app: Sphinx) -> None:
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        try:
            target = ModuleAnalyzer.for_module(package_name)
            target.analyze()
        except PycodeError:
            continue
        for name in getattr(package, "__all__", ()):
            obj = getattr(package, name, None)
            module_name = getattr(obj, "__module__", None)
            if not isinstance(obj, type) or module_name in (None, package_name):
                continue
            try:
                source = ModuleAnalyzer.for_module(module_name)
                source.analyze()
            except PycodeError:
                continue
            for (namespace, attr), comment in source.attr_docs.items():
                if namespace == obj.__qualname__:
                    target.attr_docs.setdefault((name, attr), comment)


def setup(app: Sphinx) -> dict[str, t.Any]:
    app.connect("builder-inited", seed_comments)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
