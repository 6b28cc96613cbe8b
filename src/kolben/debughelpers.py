"""Errors that explain common mistakes, raised in debug mode."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
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
