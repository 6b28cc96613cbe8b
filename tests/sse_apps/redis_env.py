"""The Redis database and key prefixes the SSE tests use, and their cleanup.

Every test gets its own key prefix (so runs and tests never share a stream), in
the database named by ``KOLBEN_TEST_REDIS_DB`` (default 13); the keys are deleted
afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import redis

from serving import free_port

HOST = "127.0.0.1"
DB = int(os.environ.get("KOLBEN_TEST_REDIS_DB", "13"))
URL = f"redis://{HOST}:6379/{DB}"


def unique_prefix() -> str:
    return f"kolben-test:{uuid.uuid4().hex[:12]}:"


def delete_keys(prefix: str) -> None:
    client = redis.Redis.from_url(URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    return free_port()


def admin() -> redis.Redis:
    return redis.Redis.from_url(URL, socket_timeout=5)


def reader_connections(name: str) -> list[dict[str, object]]:
    client = admin()
    try:
        return [c for c in client.client_list() if c.get("name") == name]
    finally:
        client.close()


def prefixed() -> Iterator[str]:
    prefix = unique_prefix()
    try:
        yield prefix
    finally:
        delete_keys(prefix)
