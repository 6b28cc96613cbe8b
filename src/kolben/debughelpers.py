"""Errors and log messages that explain common mistakes (debug mode, options)."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from jinja2 import BaseLoader

    from .app import Kolben
    from .scaffold import Scaffold
    from .wrappers import Request


class FormDataRoutingRedirect(AssertionError):
    """Raised in debug mode when routing would redirect a request with a body.

    Browsers drop the form data when they follow such a redirect (anything but a
    307 or 308), usually because a URL without a trailing slash was posted to a
    rule that has one.
    """

    def __init__(self, request: Request) -> None:
        exc = request.routing_exception
        new_url = getattr(exc, "new_url", "?")
        buf = [
            f"A request was sent to {request.url!r}, but routing issued a redirect to"
            f" the canonical URL {new_url!r}."
        ]
        if f"{request.base_url}/" == new_url.partition("?")[0]:
            buf.append(
                " The URL was defined with a trailing slash. kolben redirects to the"
                " URL with a trailing slash when it is accessed without one."
            )
        buf.append(
            " Send requests to the canonical URL, or use 307 or 308 for routing"
            " redirects; otherwise browsers drop the form data.\n\n"
            "This exception is only raised in debug mode."
        )
        super().__init__("".join(buf))


def _describe_loader(loader: BaseLoader) -> t.Iterator[str]:
    """The class and the public settings of a template loader, one per line."""
    cls = type(loader)
    yield f"class: {cls.__module__}.{cls.__qualname__}"
    for key, value in sorted(vars(loader).items()):
        if key.startswith("_"):
            continue
        if isinstance(value, (tuple, list)):
            if not all(isinstance(x, str) for x in value):
                continue
            yield f"{key}:"
            for item in value:
                yield f"  - {item}"
        elif isinstance(value, (str, int, float, bool)):
            yield f"{key}: {value!r}"


def explain_template_loading_attempts(
    app: Kolben,
    template: str,
    attempts: list[tuple[BaseLoader, Scaffold, tuple[str, str | None, t.Any] | None]],
) -> None:
    """Log, at INFO on ``app.logger``, how ``template`` was looked for.

    Called by the app's template loader when ``EXPLAIN_TEMPLATE_LOADING`` is set.
    ``attempts`` holds one ``(loader, app or blueprint, get_source result or None)``
    per loader tried, in search order. The log lists each loader with its settings
    and whether it found the template, and adds hints when nothing or more than one
    loader matched (as Flask does).
    """
    from .globals import _cv_request

    lines = [f"Locating template {template!r}:"]
    total_found = 0
    blueprint: str | None = None
    req_ctx = _cv_request.get(None)
    if req_ctx is not None:
        blueprint = req_ctx.request.blueprint

    for idx, (loader, srcobj, triple) in enumerate(attempts, 1):
        if srcobj is app:
            src_info = f"application {app.import_name!r}"
        else:
            src_info = f"blueprint {srcobj.name!r} ({srcobj.import_name})"
        lines.append(f"{idx:5}: trying loader of {src_info}")
        lines.extend(f"       {detail}" for detail in _describe_loader(loader))
        if triple is None:
            lines.append("       -> no match")
        else:
            lines.append(f"       -> found ({triple[1] or '<string>'!r})")
            total_found += 1

    if not attempts:
        lines.append(
            "Error: no loader to search: the application's template_folder is None"
            " and no blueprint has a template_folder."
        )
    elif total_found == 0:
        lines.append("Error: the template could not be found.")
        if blueprint is not None:
            lines.append(
                f"  The template was looked up from an endpoint that belongs to the"
                f" blueprint {blueprint!r}."
            )
            lines.append("  Maybe you did not place a template in the right folder?")
        lines.append(
            "  Templates are found in the application's template folder first, then"
            " in each blueprint's, in registration order; names are relative to those"
            " folders. See the templates page of the documentation."
        )
    elif total_found > 1:
        lines.append(
            "Warning: multiple loaders returned a match for the template; the first one is used."
        )

    app.logger.info("\n".join(lines))
