"""Links from the guide pages to files of the repository outside ``docs/``.

The Markdown pages are read in two places: on the Git host, where a link such
as ``[db.py](../examples/blog/blog/db.py)`` or ``[deploy/](../deploy/README.md)``
opens that file, and in the Sphinx site, which holds only ``docs/``. MyST turns
a link to a plain file outside ``docs/`` into a download and warns about a
folder or a Markdown file there. This post-transform runs before MyST's
reference resolver and, for links that leave ``docs/``:

- sends a link to a repository file that the site includes as a page of its own
  (``CHANGES.md`` -> ``changes``, see :data:`PAGES`) to that page;
- renders a link to a folder or to another Markdown file as its text followed
  by the repository path, ``db.py (examples/blog/blog/db.py)``, since the site
  has nothing to link to;
- leaves links to other files to MyST, which offers them as downloads.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx

#: Repository files (relative to the repository root) shown as pages of the site.
PAGES = {"CHANGES.md": "changes"}


class RepositoryLinks(SphinxPostTransform):
    default_priority = 8  # before MyST's MystReferenceResolver (9)

    def run(self, **kwargs: t.Any) -> None:
        srcdir = Path(self.env.srcdir).resolve()
        root = srcdir.parent
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst":
                continue
            path = self._outside_path(node, srcdir)
            if path is None or not path.is_relative_to(root):
                continue
            rel = path.relative_to(root).as_posix()
            if rel in PAGES:
                node["refdomain"] = "doc"
                node["reftarget"] = PAGES[rel]
                continue
            if path.is_file() and path.suffix != ".md":
                continue  # MyST makes it a download
            shown = rel + "/" if path.is_dir() else rel
            text = node.astext()
            new = nodes.inline("", "", *node.children)
            if text.strip("/") != shown.strip("/"):
                new += [nodes.Text(" ("), nodes.literal(shown, shown), nodes.Text(")")]
            node.replace_self(new)

    def _outside_path(self, node: addnodes.pending_xref, srcdir: Path) -> Path | None:
        target = node["reftarget"]
        if node.get("refdomain") == "doc":
            # MyST gives a document outside the source folder as an absolute
            # path without its suffix ("/repo/README" for "../README.md").
            if not os.path.isabs(target):
                return None
            for suffix in (".md", ".rst", ""):
                candidate = Path(target + suffix)
                if candidate.exists():
                    return candidate.resolve()
            return None
        if node.get("refdomain") is not None or "://" in target:
            return None
        doc_dir = (srcdir / node.get("refdoc", self.env.docname)).parent
        candidate = (doc_dir / target.split("#", 1)[0]).resolve()
        if not candidate.exists() or candidate.is_relative_to(srcdir):
            return None
        return candidate


def setup(app: Sphinx) -> dict[str, t.Any]:
    app.add_post_transform(RepositoryLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
