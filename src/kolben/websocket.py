"""WebSocket routes on the ASGI door.

Not built yet: every WebSocket handshake is refused (the server answers 403).
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from .app import Kolben


async def serve_websocket(
    app: Kolben,
    scope: t.MutableMapping[str, t.Any],
    receive: t.Callable[[], t.Awaitable[t.MutableMapping[str, t.Any]]],
    send: t.Callable[[t.MutableMapping[str, t.Any]], t.Awaitable[None]],
) -> None:
    """Serve one ASGI ``websocket`` connection."""
    # Closing before accepting makes the server answer the handshake with 403.
    await send({"type": "websocket.close", "code": 1000})
