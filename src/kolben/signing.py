"""Signed tokens: URL-safe, timestamped, keyed by the app's ``SECRET_KEY``.

``app.tokens`` signs any JSON-serializable value for a purpose (the *salt*) and
verifies it later, optionally with a maximum age::

    token = app.tokens.dumps({"user": 42}, salt="activate")
    ...
    try:
        data = app.tokens.loads(token, salt="activate", max_age=86400)
    except SignatureExpired:
        ...  # genuine but too old: offer a new link
    except BadSignature:
        ...  # tampered with, or signed for another purpose or with another key

The errors are itsdangerous' own (``SignatureExpired`` is a ``BadSignature``), so
``except BadSignature`` catches every invalid token. Tokens are signed with
``SECRET_KEY``; the keys in ``SECRET_KEY_FALLBACKS`` are accepted when loading, so
the secret can be rotated without breaking the links already sent. The format is
itsdangerous' :class:`~itsdangerous.URLSafeTimedSerializer` with its defaults
(HMAC-SHA1, ``django-concat`` key derivation), so another service holding the key
can verify kolben's tokens with itsdangerous alone.
"""

from __future__ import annotations

import math
import re
import typing as t
from datetime import timedelta

from itsdangerous import BadData, BadPayload, BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from .caching import Cache

if t.TYPE_CHECKING:
    from .app import Kolben

__all__ = ["BadSignature", "SignatureExpired", "Tokens"]

# payload (a leading "." marks a compressed one) . timestamp . signature, each in
# unpadded URL-safe base64.
_TOKEN_SHAPE = re.compile(rb"\.?([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")


def _check_canonical(token: str | bytes) -> bytes:
    """Reject a token that is not exactly as it was made.

    base64 decoding ignores characters outside its alphabet and the unused low
    bits of the last character, so ``token + "é"`` or a last character changed in
    those bits would verify as the same token. An app that records used tokens
    (single-use links) must not see two spellings of one token.
    """
    if isinstance(token, str):
        raw = token.encode("utf-8", "replace")
    elif isinstance(token, (bytes, bytearray, memoryview)):
        raw = bytes(token)
    else:
        # ``bytes(n)`` of an int from a JSON body would allocate n bytes (or
        # raise a MemoryError or ValueError: a 500); a dict a TypeError.
        raise BadSignature(
            f"The token is malformed: a str or bytes was expected, got {type(token).__name__}."
        )
    match = _TOKEN_SHAPE.fullmatch(raw)
    if match is None:
        raise BadSignature("The token is malformed: not payload.timestamp.signature.")
    for part in match.groups():
        try:
            canonical = base64_encode(base64_decode(part)) == part
        except BadData:
            canonical = False
        if not canonical:
            raise BadSignature("The token is not in its canonical form.")
    return raw


class Tokens:
    """Signed, timestamped, URL-safe tokens for one app (``app.tokens``).

    The configuration is read each time a token is made or checked, so
    ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` may be set or changed after the
    first use. Subclass it and set :attr:`serializer_class` or
    :attr:`serializer_kwargs` to change the format.
    """

    #: The itsdangerous serializer class tokens are made with.
    serializer_class: type[URLSafeTimedSerializer] = URLSafeTimedSerializer
    #: Extra keyword arguments for :attr:`serializer_class` (e.g. ``signer_kwargs``).
    serializer_kwargs: t.ClassVar[dict[str, t.Any]] = {}
    #: How many (keys, salt) serializers are kept; past this, the oldest goes
    #: (see :mod:`kolben.caching`).
    cache_size = 32

    def __init__(self, app: Kolben) -> None:
        self.app = app
        self._serializers: Cache[tuple[t.Any, ...], URLSafeTimedSerializer] = Cache(
            self.cache_size, "kolben.signing: token serializers"
        )

    def serializer(self, salt: str) -> URLSafeTimedSerializer:
        """The itsdangerous serializer for ``salt`` with the app's current keys.

        PERF: built once per (keys, salt) and reused; itsdangerous derives the
        signing key again for every serializer it builds.
        """
        if not isinstance(salt, str) or not salt:
            raise TypeError(
                f"A token needs a salt naming its purpose, such as salt='activate' or"
                f" salt='reset-password'; got {salt!r}. A different salt per purpose"
                " keeps a token made for one use from being accepted for another."
            )
        config = self.app.config
        secret_key = self.app.secret_key  # as Flask reads it (also a class attribute)
        if not secret_key:
            raise RuntimeError(
                "Signed tokens need a secret key: set app.config['SECRET_KEY'] (or"
                " app.secret_key) to a long random value, for example the output of"
                " 'python -c \"import secrets; print(secrets.token_hex())\"'."
            )
        fallbacks = config.get("SECRET_KEY_FALLBACKS") or ()
        cache_key = (secret_key, tuple(fallbacks), salt)
        rv = self._serializers.get(cache_key)
        if rv is None:
            # itsdangerous signs with the last key and accepts all of them.
            rv = self.serializer_class(
                [*fallbacks, secret_key], salt=salt, **self.serializer_kwargs
            )
            self._serializers.put(cache_key, rv)
        return rv

    def dumps(self, obj: t.Any, *, salt: str) -> str:
        """Sign ``obj`` (any JSON-serializable value) for the purpose ``salt``.

        The token carries the value in readable (base64) form plus the time it
        was made and a signature: put nothing secret in it.
        """
        return self.serializer(salt).dumps(obj)

    def loads(
        self,
        token: str | bytes,
        *,
        salt: str,
        max_age: int | float | timedelta | None = None,
    ) -> t.Any:
        """Verify ``token`` for the purpose ``salt`` and return its value.

        :param max_age: reject a token older than this many seconds (or this
            ``timedelta``); None accepts any age.
        :raises itsdangerous.SignatureExpired: the signature is valid but the token
            is older than ``max_age`` (``e.date_signed`` says when it was made).
        :raises itsdangerous.BadSignature: anything else is wrong: tampered with,
            signed for another salt or with an unknown key, or malformed. A token
            spelt differently from how it was made (extra characters, a changed
            padding bit) is rejected too, so each valid token has one spelling.
        """
        if isinstance(max_age, timedelta):
            max_age = max_age.total_seconds()
        if isinstance(max_age, float) and math.isnan(max_age):
            # itsdangerous compares the age with it: NaN would accept any age.
            raise ValueError(
                "max_age must be a number of seconds (or None to accept any age);"
                " got NaN."
            )
        serializer = self.serializer(salt)
        token = _check_canonical(token)
        try:
            # itsdangerous compares the age with any number; its hint says int.
            return serializer.loads(token, max_age=max_age)  # type: ignore[arg-type]
        except BadPayload as e:
            # Only reachable with a valid signature over a broken payload; one
            # error class for "don't trust this token" keeps callers simple.
            raise BadSignature(f"The token's payload could not be loaded: {e}") from e
