"""Faster itsdangerous signing for the cookie sessions: what it replaces, why,
what it measured and how it is verified.

**What.** The session cookie is itsdangerous' :class:`~itsdangerous.URLSafeTimedSerializer`
format (Flask's): base64 JSON (zlib-compressed after a leading ``.``), a
timestamp and an HMAC-SHA1 signature, keys derived with ``key_derivation="hmac"``.
:class:`SessionSerializer` and :class:`SessionSigner` are subclasses of
itsdangerous' own classes that produce and accept exactly that format, but skip
work itsdangerous repeats on every call:

- the signing key is derived (an HMAC of the salt) once per key, not on every
  sign and every verify (:meth:`SessionSigner.derive_key`);
- the signature is one :func:`hmac.digest` call (OpenSSL's HMAC in C) instead of
  an ``hmac.HMAC`` object, with the digest given by name (:class:`OneShotHMAC`;
  :func:`session_serializer` passes ``"sha1"`` for ``hashlib.sha1``);
- a signer per salt is built once, not per ``dumps`` / ``loads``;
- a payload is compressed with a 4 KiB zlib window (``zlib.compress``'s default
  32 KiB window allocates ~256 KiB per call), and not at all under 64 bytes;
- a cookie verified (or signed) before is not verified again, only its age is
  checked: the verified JSON is remembered in a per-app request-data cache
  (:mod:`kolben.caching`, off with ``REQUEST_DATA_CACHES = False``), trusted
  only by the serializer (one set of keys) that verified it.

**Why, measured.** The ``session`` scenario of the shared in-process benchmark
(``GET /visit`` with a session cookie: the view reads and writes the session).
Two processes pinned to one core run at the same time, one with this module and
one with a plain itsdangerous ``URLSafeTimedSerializer`` built as Flask builds it
(but built once, not per request); thread CPU time per request, median of 5
paired ratios: the library path takes 1.42x as long (range 1.20-1.59x; 118 vs
167 µs on the 2-core development machine). ``hello`` (no session) is unchanged.
With ``REQUEST_DATA_CACHES = False`` (every cookie verified again) the session
scenario takes ~1.5x as long.

**Verified by** ``tests/test_sessions.py`` (cookies signed here are loaded by
itsdangerous' own serializer and the reverse, fallback keys, tampering, expiry),
``tests/test_session_interop.py`` (cookies read and written by Flask),
``tests/test_session_cache.py`` (the verified-cookie cache never accepts what
itsdangerous would reject: tampered, expired, from the future, after a key
rotation), and ``tests/test_library_privates.py`` (the itsdangerous internals
used here: ``derive_key``, ``make_signer``, the timestamp format, ``HMACAlgorithm``),
under the version bound in ``pyproject.toml``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import typing as t
import zlib

from itsdangerous import BadData, BadPayload, Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import (
    base64_decode,
    base64_encode,
    bytes_to_int,
    int_to_bytes,
    want_bytes,
)
from itsdangerous.signer import HMACAlgorithm
from itsdangerous.url_safe import URLSafeSerializerMixin

from .caching import Cache

__all__ = ["OneShotHMAC", "SessionSerializer", "SessionSigner", "lazy_sha1", "session_serializer"]


def lazy_sha1(string: bytes = b"") -> t.Any:
    # Looked up on call, so an interpreter without SHA-1 (FIPS builds) can still
    # import this module and use an interface with another digest.
    return hashlib.sha1(string)


class SessionSigner(TimestampSigner):
    """itsdangerous's timestamp signer, remembering its derived keys.

    PERF: deriving the signing key is an HMAC of the salt; itsdangerous does it on
    every sign and on every verify (once per accepted key). The result only depends
    on the key and the signer's fixed settings, so each is computed once.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # Bounded: called with None or one of self.secret_keys.
        self._derived: Cache[str | bytes | None, bytes] = Cache(
            8, "kolben.sessions: derived signing keys"
        )
        algorithm = self.algorithm
        if type(algorithm) is HMACAlgorithm and isinstance(algorithm.digest_method, str):
            self.algorithm = OneShotHMAC(algorithm.digest_method)

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self._derived.get(secret_key)
        if key is None:
            key = self._derived.put(secret_key, super().derive_key(secret_key))
        return key

    def sign_now(self, value: bytes) -> tuple[bytes, int]:
        """``(self.sign(value), the timestamp it carries)``: the same signed value,
        without parsing the timestamp back out of it."""
        timestamp = self.get_timestamp()
        sep = want_bytes(self.sep)
        value = value + sep + base64_encode(int_to_bytes(timestamp))
        return value + sep + self.get_signature(value), timestamp


class OneShotHMAC(HMACAlgorithm):
    """itsdangerous's HMAC signature, computed by :func:`hmac.digest`.

    PERF: for a digest given by name, ``hmac.digest`` runs OpenSSL's HMAC in one
    call, about 1 µs less than building an ``hmac.HMAC`` object per signature. The
    signatures are identical.
    """

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, self.digest_method)


class SessionSerializer(URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed serializer, reusing its signers.

    PERF: itsdangerous builds a new signer for every ``dumps`` and ``loads``; a
    signer holds no per-call state, so one per salt is kept (a few at most).
    """

    #: How many verified cookies :meth:`loads` remembers.
    verified_cache_size = 1024

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._signers: Cache[str | bytes | None, Signer] = Cache(
            8, "kolben.sessions: signers of a serializer"
        )
        # PERF: cookie -> (serializer, timestamp, verified JSON). A browser sends
        # the same cookie until the session changes, so most requests carry one
        # this serializer has verified (or signed) before: its signature and
        # timestamp need not be checked again, only its age. Only cookies that
        # passed verification, or that were signed here, are remembered, and an
        # entry is only trusted by the serializer that made it (specific to one
        # set of keys). The interface gives each app's serializers that app's
        # request-data cache (see kolben.caching), or an empty one (maxsize 0)
        # when the app turns request-data caches off; a serializer made directly
        # has its own.
        self._verified: Cache[str, tuple[SessionSerializer, int, bytes]] = Cache(
            self.verified_cache_size, "kolben.sessions: verified session cookies"
        )

    def _remember(self, cookie: str, timestamp: int, json: bytes) -> None:
        self._verified.put(cookie, (self, timestamp, json))

    def verified_json(self, cookie: str, max_age: int | None) -> bytes | None:
        """The JSON text inside ``cookie`` if it is validly signed and not older
        than ``max_age``; None otherwise."""
        try:
            return self._verified_json(cookie, max_age)
        except (BadData, ValueError, TypeError):
            return None

    def _verified_json(self, cookie: str, max_age: int | None) -> bytes:
        """The JSON text inside ``cookie``, checked as itsdangerous checks it (same
        errors). A cookie verified before is only checked for its age; one
        verified now is remembered."""
        hit = self._verified.get(cookie)
        if hit is not None and hit[0] is self:
            _, timestamp, json = hit
            age = int(time.time()) - timestamp
            if max_age is None or 0 <= age <= max_age:
                return json
            self._verified.pop(cookie, None)
        signer = t.cast(TimestampSigner, self.make_signer(self.salt))
        payload, signed_at = signer.unsign(cookie, max_age=max_age, return_timestamp=True)
        try:
            json = self._decode(payload)
        except BadPayload:
            raise
        except Exception as e:
            raise BadPayload("Could not base64 decode the payload", original_error=e) from e
        self._remember(cookie, int(signed_at.timestamp()), json)
        return json

    def _load_json(self, json: bytes) -> t.Any:
        # Serializer.load_payload: the tagged JSON serializer, errors as BadPayload.
        return super(URLSafeSerializerMixin, self).load_payload(json)

    @staticmethod
    def _decode(payload: bytes) -> bytes:
        """The JSON inside a payload: base64, zlib-compressed after a leading dot."""
        if payload[:1] == b".":
            try:
                return zlib.decompress(base64_decode(payload[1:]))
            except zlib.error as e:
                raise BadPayload("Could not zlib decompress the payload", original_error=e) from e
        return base64_decode(payload)

    def loads(  # type: ignore[override]
        self,
        s: str | bytes,
        max_age: int | None = None,
        return_timestamp: bool = False,
        salt: str | bytes | None = None,
    ) -> t.Any:
        """Verify and load a signed value, as itsdangerous does (same errors).

        A cookie verified before is only checked for its age.
        """
        if return_timestamp or salt is not None or not isinstance(s, str):
            return super().loads(s, max_age=max_age, return_timestamp=return_timestamp, salt=salt)
        return self._load_json(self._verified_json(s, max_age))

    def dumps(self, obj: t.Any, salt: str | bytes | None = None) -> str:
        """Sign ``obj`` as itsdangerous does, remembering the cookie as verified."""
        if salt is not None:
            return super().dumps(obj, salt=salt)
        json, payload = self._encode(obj)
        signer = self.make_signer(self.salt)
        if isinstance(signer, SessionSigner):
            signed, timestamp = signer.sign_now(payload)
        else:
            signed = signer.sign(payload)
            timestamp = bytes_to_int(base64_decode(signed.rsplit(b".", 2)[1]))
        cookie = signed.decode("utf-8")
        self._remember(cookie, timestamp, json)
        return cookie

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers.put(salt, super().make_signer(salt))
        return signer

    def dump_payload(self, obj: t.Any) -> bytes:
        """The JSON, zlib-compressed when that makes it shorter, base64-encoded
        (a leading ``.`` marks compression): itsdangerous's format. Payloads under
        64 bytes are not compressed.

        PERF: itsdangerous compresses with ``zlib.compress``, whose default 32 KiB
        window and memory level allocate ~256 KiB per call; above the allocator's
        mmap threshold that is ~40 µs per session save. A cookie is at most ~4 KiB,
        so a 4 KiB window (``wbits=12``, ``memLevel=4``, ~24 KiB) finds the same
        matches for a few µs. The stream is standard zlib: itsdangerous and Flask
        decompress it as is.
        """
        return self._encode(obj)[1]

    def _encode(self, obj: t.Any) -> tuple[bytes, bytes]:
        """``(json, payload)`` for ``obj``; see :meth:`dump_payload`."""
        json = want_bytes(super(URLSafeSerializerMixin, self).dump_payload(obj))
        if len(json) < 64:
            # PERF: zlib's header and checksum take 6 bytes; data this short rarely
            # repeats enough to pay for them, so don't spend ~4 µs trying.
            return json, base64_encode(json)
        compressor = zlib.compressobj(6, zlib.DEFLATED, 12, 4)
        compressed = compressor.compress(json) + compressor.flush()
        if len(compressed) < len(json) - 1:
            return json, b"." + base64_encode(compressed)
        return json, base64_encode(json)


def session_serializer(
    keys: list[t.Any],
    *,
    salt: str | bytes,
    serializer: t.Any,
    digest_method: t.Any,
    key_derivation: str,
    verified: Cache[t.Any, t.Any] | None,
) -> SessionSerializer:
    """A :class:`SessionSerializer` signing with the last of ``keys`` and
    accepting all of them, remembering verified cookies in ``verified`` (None:
    remembering nothing)."""
    if key_derivation == "hmac" and digest_method in (lazy_sha1, hashlib.sha1):
        # PERF: hmac with a digest *name* runs OpenSSL's HMAC in C; with a
        # constructor it takes the pure-Python path (~3 µs per sign or verify).
        # The signatures are the same.
        digest_method = "sha1"
    rv = SessionSerializer(
        keys,
        salt=salt,
        serializer=serializer,
        signer=SessionSigner,
        signer_kwargs={"key_derivation": key_derivation, "digest_method": digest_method},
    )
    rv._verified = verified if verified is not None else Cache(0)
    return rv
