"""Sphinx configuration for kolben's documentation.

Build it with ``bash scripts/docs`` (the HTML lands in ``docs/_build/html``), or
by hand: ``sphinx-build -W --keep-going -b html docs docs/_build/html``.

- The user guide is the Markdown pages in ``docs/*.md``, read by myst-parser;
  the API reference is ``docs/api/*.rst``, generated from the docstrings by
  ``sphinx.ext.autodoc`` (kolben's docstrings use Sphinx roles such as
  ``:meth:`` and ``:class:``).
- No intersphinx: the build must work offline (CI has no network beyond the
  package registries), so references to Python's, werkzeug's or Jinja's docs
  render as plain code rather than links. For the same reason nitpicky mode is
  off: without the other projects' inventories every ``:class:`werkzeug...```
  would be a warning. Every other warning is an error (``-W``).
- Theme: furo, from PyPI. It is readable on phones and in dark mode, has a
  search box and a per-page table of contents, and needs no configuration or
  assets of our own; alabaster (Sphinx's default, and what the Pallets projects
  started from) has neither the dark mode nor the per-page contents.
"""

from __future__ import annotations

import os
import sys

# Document the checkout, not whatever kolben is installed: src/ first on the path.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))
# Local extensions: _ext/repository_links.py, _ext/reexported_comments.py.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "_ext")))

import kolben

project = "kolben"
copyright = "the kolben authors, BSD-3-Clause"
author = "the kolben authors"
release = kolben.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
    "repository_links",
    "reexported_comments",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]

# --- autodoc ----------------------------------------------------------------
autodoc_member_order = "bysource"
# Types go in the parameter list, not in the (then very long) signature.
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
# Show defaults as written in the source (``timedelta(days=31)``, not a repr).
autodoc_preserve_defaults = True
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}
# Annotations that only exist under ``if TYPE_CHECKING`` stay strings: autodoc
# renders them as written instead of failing to resolve them.
autodoc_type_aliases: dict[str, str] = {}

# --- MyST (the Markdown guide pages) ----------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
# Links such as ``sessions.md#rotating-the-secret-key`` target heading anchors.
myst_heading_anchors = 4

# --- HTML -------------------------------------------------------------------
html_theme = "furo"
html_title = f"kolben {release}"
html_static_path: list[str] = []
