"""The in-process broker: the default when ``BROKER_URL`` is unset."""

from __future__ import annotations

import logging
import time
import typing as t
from collections import deque

from ..sse import Event, _check_field
from . import (
    Broker,
    EventKey,
    Subscription,
    _check_channel,
    _wake,
    format_event_id,
    replay_start,
)

logger = logging.getLogger("kolben.broker")


class _Channel:
    __slots__ = ("last_key", "ring")

    def __init__(self, retention: int) -> None:
        self.ring: deque[tuple[EventKey, Event]] = deque(maxlen=retention)
        self.last_key: EventKey | None = None


class MemoryBroker(Broker):
    """A broker inside this process: for one worker process, tests, development.

    Safe to use from threads and asyncio tasks at once. Memory is bounded per
    channel and per subscriber: each channel retains its last ``retention`` events
    (shared by every subscriber, encoded once) until the broker is closed, and each
    subscriber queues at most ``queue_size`` live events before it is
    disconnected. The number of channels is the app's: keep the set of channel
    names bounded.

    Event ids are ``"<milliseconds>-<sequence>"``, like Redis Stream ids: the
    publishing time in milliseconds since the epoch, and a sequence number within
    that millisecond (the time never goes back within a channel). They increase
    strictly per channel, also across restarts as long as the clock does not go
    back, so an id a browser kept from before a restart is still understood: it
    replays nothing that is older than it.
    """

    def __init__(
        self,
        *,
        retention: int = 1000,
        queue_size: int = 256,
        dumps: t.Callable[[t.Any], str] | None = None,
    ) -> None:
        super().__init__(retention=retention, queue_size=queue_size, dumps=dumps)
        self._channels: dict[str, _Channel] = {}

    def __repr__(self) -> str:
        return f"<MemoryBroker {len(self._channels)} channels>"

    def publish(self, channel: str, data: t.Any, *, event: str | None = None) -> str:
        _check_channel(channel)
        if event is not None:
            _check_field("event type", event)
        text = self._encode(data)
        with self._lock:
            state = self._channels.get(channel)
            if state is None:
                state = self._channels[channel] = _Channel(self.retention)
            now = time.time_ns() // 1_000_000
            last = state.last_key
            key = (now, 0) if last is None or now > last[0] else (last[0], last[1] + 1)
            item = Event(text, event=event, id=format_event_id(key))
            state.ring.append((key, item))
            state.last_key = key
            waiters = self._fanout(channel, item, key)
        _wake(waiters)
        return t.cast(str, item.id)

    def subscribe(self, channel: str, *, last_event_id: str | None = None) -> Subscription:
        start = replay_start(channel, last_event_id)
        with self._lock:
            state = self._channels.get(channel)
            last_key = state.last_key if state is not None else None
            replay: list[Event] = []
            behind = start is not None and last_key is not None and start < last_key
            if state is not None and behind:
                # Newest first until the resume point; the ring is in id order.
                for key, item in reversed(state.ring):
                    if key <= start:  # type: ignore[operator]
                        break
                    replay.append(item)
                replay.reverse()
            if start is not None and (last_key is None or start <= last_key):
                resume = last_event_id
            else:  # malformed, or newer than the channel's last event: live from now
                resume = format_event_id(last_key) if last_key is not None else None
            sub = self._new_subscription(channel, resume)
            sub._prime(replay, last_key)
            self._register(sub)
        return sub

    def close(self) -> None:
        super().close()
        with self._lock:
            self._channels.clear()
