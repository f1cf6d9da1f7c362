"""Sealed reference tokens: what a reference number refers to.

Since contract v1.1 a person is handed a short *reference number* (``search_api.references``);
the sealed token described here is what the number refers to, kept in the reference index under
a keyed hash of the number. Tokens printed before v1.1 (the token itself) are still opened.
The properties below hold for the sealed blob wherever it is kept.

Why authenticated encryption
----------------------------
A token carries the candidate record ids and the submitted check *inside itself*, sealed with
AES-256-GCM under a key only the service holds. That choice buys:

* statelessness — any API replica can issue a token and any replica (or the staff tool) can
  resolve it; nothing has to be replicated, locked or backed up;
* survival across restarts and deployments — a token stays valid as long as its key is in the
  key ring, with no migration of a token table;
* no database of personal data — the submitted names and dates are never written to disk by
  the service; they exist only inside the ciphertext held by whoever asked;
* integrity — GCM authenticates every byte, so a token cannot be forged or altered, and without
  the key it reveals nothing about its contents.

The trade-off: a single token cannot be revoked before it expires (there is no list to strike
it from). The expiry (90 days by default) bounds that exposure; revoking *all* tokens of a key
is possible by removing the key from the ring. Token length grows with the payload, so the
payload is kept compact (short JSON keys, no whitespace, epoch seconds, zlib for the check).

Why the check is compressed but the record ids are not
------------------------------------------------------
Compressing attacker-chosen text together with a secret turns the ciphertext length into an
oracle (the CRIME/BREACH attacks): a caller could put a guessed record id into a free-text
field and watch whether the token gets shorter. So only the submitted check — which the caller
already knows — is zlib-compressed, and the secret part (token id, times, record ids) is plain
compact JSON padded with spaces to a multiple of ``_SECRET_PART_BLOCK`` bytes. Token length
therefore reveals only a coarse bound on the number of candidates, never their ids.

Token layout (url-safe base64 without padding)::

    version (1 byte) || kid length (1 byte) || kid (ASCII, 1..16 bytes)
    || nonce (12 random bytes) || AES-GCM ciphertext + 16-byte tag

The version byte and the kid (with its length byte) are the GCM associated data, so neither can
be swapped without the tag failing. The plaintext is::

    len(secret part) (2 bytes, big endian) || secret part (padded JSON) || zlib(check JSON)

Key rotation: ``MOCHINUSHI_TOKEN_SECRET`` may hold several ``kid:secret`` entries, newest first;
the first issues, all open. Keys are derived from the secrets with HKDF-SHA256, so operators may
supply any sufficiently long string.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "DEFAULT_TOKEN_TTL",
    "MAX_TOKEN_CHARS",
    "InvalidTokenSecret",
    "ReferencePayload",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenKeyRing",
    "TokenTooLarge",
    "issue_token",
    "open_token",
]

TOKEN_VERSION = 1
DEFAULT_TOKEN_TTL = timedelta(days=90)
MAX_TOKEN_CHARS = 16 * 1024
"""Longest token string accepted; bounds the work an anonymous caller can make us do."""

MIN_SECRET_CHARS = 16
MAX_KID_BYTES = 16
DEV_KID = "dev"
DEFAULT_KID = "k1"

_HKDF_INFO = b"mochinushi reference token v1"
_LOOKUP_INFO = b"mochinushi reference number lookup v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_SECRET_PART_BLOCK = 64
_MAX_CHECK_JSON_BYTES = 1024 * 1024
"""Decompression ceiling; only authentic plaintexts get here, but a bound costs nothing."""

_KID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,16}")
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


class TokenError(Exception):
    """Base of every error raised while opening a token."""


class TokenInvalid(TokenError):
    """The token is not one we issued: forged, altered, truncated, garbage or an unknown key.

    Deliberately carries no detail: callers answer 404 and must not learn which check failed.
    """

    def __init__(self) -> None:
        super().__init__("reference token is invalid")


class TokenExpired(TokenError):
    """The token is authentic but past its expiry.

    It carries the token id (so the refusal can be audit-logged against the issuance) and the
    expiry time, but never the record ids or the submitted check.
    """

    def __init__(self, token_id: str, expired_at: datetime) -> None:
        super().__init__("reference token has expired")
        self.token_id = token_id
        self.expired_at = expired_at


class TokenTooLarge(ValueError):
    """Issuing would give a token longer than ``MAX_TOKEN_CHARS``, which could never be opened."""


class InvalidTokenSecret(ValueError):
    """The configured token secret is unusable; the message never contains the secret itself."""


@dataclass(frozen=True)
class ReferencePayload:
    """What a token resolves to for pension-office staff."""

    token_id: str
    """Random 96-bit url-safe id; the handle used in audit logs instead of the token itself."""
    record_ids: tuple[str, ...]
    """Candidate record ids, best first."""
    check: dict[str, Any] = field(repr=False)
    """The existence-check request as submitted (kept out of ``repr`` so it never reaches a log
    or a traceback by accident)."""
    issued_at: datetime
    """UTC, whole seconds."""
    expires_at: datetime
    """UTC, whole seconds."""
    channel: str = "web"
    """Where the check came from: ``web`` or a partner office's kind (sealed, never in clear)."""
    office: str | None = None
    """The partner office that ran the check, if any (sealed, never in clear)."""


@dataclass(frozen=True)
class _Key:
    kid: str
    aead: AESGCM
    lookup: bytes
    """HMAC key under which reference numbers are stored (``search_api.references``)."""


def _derive(secret: str, info: bytes) -> bytes:
    # HKDF (not the raw secret) so that any long-enough string, of any alphabet, yields a
    # uniformly random 256-bit key, and so the same secret feeds independent derivations
    # (the sealing key, the reference-number lookup key) under different ``info``.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return hkdf.derive(secret.encode("utf-8"))


def _derive_key(secret: str) -> AESGCM:
    return AESGCM(_derive(secret, _HKDF_INFO))


class TokenKeyRing:
    """The keys that issue (the first) and open (all) reference tokens.

    Built from the text of ``MOCHINUSHI_TOKEN_SECRET``: either one bare secret (key id ``k1``)
    or comma-separated ``kid:secret`` entries, newest first. An entry is split at its first
    colon, so a secret may contain colons but not commas. Key ids are 1-16 characters of
    ``A-Z a-z 0-9 . _ -``.
    """

    def __init__(self, secret_text: str) -> None:
        entries = _parse_secret_text(secret_text)
        self._keys: tuple[_Key, ...] = tuple(
            _Key(kid=kid, aead=_derive_key(secret), lookup=_derive(secret, _LOOKUP_INFO))
            for kid, secret in entries
        )
        self._by_kid: Mapping[str, _Key] = {key.kid: key for key in self._keys}
        # Used for the decryption attempt on tokens whose key id is unknown or whose framing is
        # broken, so that those fail in about the time a wrong tag does (see ``open_token``).
        self._decoy = AESGCM(AESGCM.generate_key(bit_length=256))

    @classmethod
    def generate_dev(cls) -> TokenKeyRing:
        """A ring with a fresh random key, for dev mode only.

        Tokens die with the process. Nothing is logged: the secret is never shown anywhere.
        """
        return cls(f"{DEV_KID}:{secrets.token_urlsafe(32)}")

    @property
    def kids(self) -> tuple[str, ...]:
        """Key ids, the issuing one first (safe to log: they are labels, not secrets)."""
        return tuple(key.kid for key in self._keys)

    @property
    def issuing_kid(self) -> str:
        return self._keys[0].kid

    def lookup_keys(self) -> tuple[tuple[str, bytes], ...]:
        """``(kid, HMAC key)`` for storing reference numbers, the issuing key first."""
        return tuple((key.kid, key.lookup) for key in self._keys)

    def _issuing_key(self) -> _Key:
        return self._keys[0]

    def _lookup(self, kid: str) -> _Key | None:
        return self._by_kid.get(kid)

    def __repr__(self) -> str:
        return f"TokenKeyRing(kids={self.kids!r})"


def _parse_secret_text(secret_text: str) -> list[tuple[str, str]]:
    text = secret_text.strip()
    if not text:
        raise InvalidTokenSecret("MOCHINUSHI_TOKEN_SECRET is empty")
    raw_entries = [entry.strip() for entry in text.split(",")]
    if len(raw_entries) == 1 and ":" not in raw_entries[0]:
        entries = [(DEFAULT_KID, raw_entries[0])]
    else:
        entries = []
        for position, entry in enumerate(raw_entries, start=1):
            kid, colon, secret = entry.partition(":")
            kid = kid.strip()
            secret = secret.strip()
            if not colon:
                raise InvalidTokenSecret(
                    f"MOCHINUSHI_TOKEN_SECRET entry {position} is not of the form kid:secret"
                )
            if not _KID_PATTERN.fullmatch(kid):
                raise InvalidTokenSecret(
                    f"MOCHINUSHI_TOKEN_SECRET entry {position} has an invalid key id "
                    f"(1-{MAX_KID_BYTES} characters of A-Z a-z 0-9 . _ -)"
                )
            entries.append((kid, secret))
    seen: set[str] = set()
    for position, (kid, secret) in enumerate(entries, start=1):
        if len(secret) < MIN_SECRET_CHARS:
            raise InvalidTokenSecret(
                f"MOCHINUSHI_TOKEN_SECRET entry {position} (key id {kid!r}) is shorter than "
                f"{MIN_SECRET_CHARS} characters; use a long random value"
            )
        if kid in seen:
            raise InvalidTokenSecret(f"MOCHINUSHI_TOKEN_SECRET names key id {kid!r} twice")
        seen.add(kid)
    return entries


def _utc_seconds(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _header(kid: str) -> bytes:
    kid_bytes = kid.encode("ascii")
    return bytes([TOKEN_VERSION, len(kid_bytes)]) + kid_bytes


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode_canonical(token: str) -> bytes | None:
    """Decode strictly: only the url-safe alphabet, and only the one canonical spelling.

    The standard decoder skips foreign characters and ignores the unused low bits of the last
    character, so several strings would open to the same token; this refuses all but one.
    """
    if not _TOKEN_PATTERN.fullmatch(token) or len(token) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if _b64encode(data) != token:
        return None
    return data


def _encode_plaintext(payload: ReferencePayload) -> bytes:
    secret_part = _compact_json(
        {
            "t": payload.token_id,
            "i": int(payload.issued_at.timestamp()),
            "e": int(payload.expires_at.timestamp()),
            "r": list(payload.record_ids),
            **({"c": payload.channel} if payload.channel != "web" else {}),
            **({"o": payload.office} if payload.office is not None else {}),
        }
    )
    # JSON allows trailing whitespace, so spaces pad without any extra framing.
    secret_part += b" " * (-len(secret_part) % _SECRET_PART_BLOCK)
    check_part = zlib.compress(_compact_json(payload.check), level=9)
    return struct.pack(">H", len(secret_part)) + secret_part + check_part


def _compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def _decode_plaintext(plaintext: bytes) -> ReferencePayload:
    """Parse an authentic plaintext; anything unexpected is treated as an invalid token."""
    try:
        (secret_len,) = struct.unpack_from(">H", plaintext)
        secret_part = plaintext[2 : 2 + secret_len]
        if len(secret_part) != secret_len:
            raise TokenInvalid()
        decompressor = zlib.decompressobj()
        check_json = decompressor.decompress(plaintext[2 + secret_len :], _MAX_CHECK_JSON_BYTES)
        if decompressor.unconsumed_tail or not decompressor.eof:
            raise TokenInvalid()
        meta = json.loads(secret_part.decode("utf-8"))
        check = json.loads(check_json.decode("utf-8"))
        token_id = meta["t"]
        record_ids = meta["r"]
        channel = meta.get("c", "web")
        office = meta.get("o")
        if (
            not isinstance(token_id, str)
            or not isinstance(channel, str)
            or not (office is None or isinstance(office, str))
            or not isinstance(record_ids, list)
            or not all(isinstance(record_id, str) for record_id in record_ids)
            or not isinstance(check, dict)
        ):
            raise TokenInvalid()
        issued_at = datetime.fromtimestamp(int(meta["i"]), UTC)
        expires_at = datetime.fromtimestamp(int(meta["e"]), UTC)
    except TokenInvalid:
        raise
    except (struct.error, zlib.error, ValueError, KeyError, TypeError, OverflowError):
        raise TokenInvalid() from None
    return ReferencePayload(
        token_id=token_id,
        record_ids=tuple(record_ids),
        check=check,
        issued_at=issued_at,
        expires_at=expires_at,
        channel=channel,
        office=office,
    )


def issue_token(
    ring: TokenKeyRing,
    record_ids: Sequence[str],
    check: Mapping[str, Any],
    now: datetime,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
    *,
    channel: str = "web",
    office: str | None = None,
) -> tuple[str, ReferencePayload]:
    """Seal candidates and the submitted check into a token with the ring's newest key.

    ``now`` must be timezone-aware; it is truncated to whole seconds (the resolution stored in
    the token), so the returned payload equals what ``open_token`` later yields. ``check`` must
    be JSON-serialisable. Raises ``TokenTooLarge`` if the result would exceed
    ``MAX_TOKEN_CHARS`` (it could never be opened).
    """
    if isinstance(record_ids, str):
        raise TypeError("record_ids must be a sequence of record ids, not one string")
    ids = tuple(record_ids)
    if not ids:
        raise ValueError("a reference token needs at least one record id")
    if not all(isinstance(record_id, str) and record_id for record_id in ids):
        raise ValueError("record ids must be non-empty strings")
    if ttl < timedelta(seconds=1):
        raise ValueError("ttl must be at least one second")
    issued_at = _utc_seconds(now, "now")
    # Normalise the check through JSON now (tuples become lists, and anything not JSON fails
    # here rather than at resolution), so the returned payload equals the opened one.
    normalised_check = json.loads(_compact_json(dict(check)))
    payload = ReferencePayload(
        token_id=secrets.token_urlsafe(12),
        record_ids=ids,
        check=normalised_check,
        issued_at=issued_at,
        expires_at=(issued_at + ttl).replace(microsecond=0),
        channel=channel,
        office=office,
    )
    key = ring._issuing_key()
    header = _header(key.kid)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = key.aead.encrypt(nonce, _encode_plaintext(payload), header)
    token = _b64encode(header + nonce + sealed)
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenTooLarge(
            f"reference token would be {len(token)} characters, more than {MAX_TOKEN_CHARS}"
        )
    return token, payload


def open_token(ring: TokenKeyRing, token: str, now: datetime) -> ReferencePayload:
    """Authenticate and decrypt a token; raise ``TokenInvalid`` or ``TokenExpired``.

    Expiry is checked only after authentication, so ``TokenExpired`` is proof that we issued
    the token; a forged "expired" token is just ``TokenInvalid``.
    """
    moment = _utc_seconds(now, "now")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise TokenInvalid()
    data = _b64decode_canonical(token)

    # Every malformed or unknown-key token still goes through one AES-GCM decryption (with a
    # decoy key and whatever bytes are there), and the failure is decided only afterwards. So
    # "bad framing", "unknown key id", "wrong version" and "bad tag" all cost about the same,
    # and response timing does not tell a prober which check its token failed. (Base64 syntax
    # and the length limit are public rules and are checked up front.)
    structurally_ok = data is not None
    raw = data if data is not None else b""
    kid_len = raw[1] if len(raw) >= 2 else 0
    header_end = 2 + kid_len
    body_start = header_end + _NONCE_BYTES
    structurally_ok = (
        structurally_ok
        and raw[0] == TOKEN_VERSION
        and 1 <= kid_len <= MAX_KID_BYTES
        and len(raw) >= body_start + _TAG_BYTES
    )
    kid = raw[2:header_end].decode("ascii", errors="replace") if structurally_ok else ""
    key = ring._lookup(kid) if structurally_ok else None
    aead = key.aead if key is not None else ring._decoy
    if structurally_ok:
        header, nonce, sealed = raw[:header_end], raw[header_end:body_start], raw[body_start:]
    else:
        header, nonce, sealed = raw[:2], bytes(_NONCE_BYTES), raw.ljust(_TAG_BYTES, b"\0")
    try:
        plaintext: bytes | None = aead.decrypt(nonce, sealed, header)
    except InvalidTag:
        plaintext = None
    if key is None or plaintext is None:
        raise TokenInvalid()

    payload = _decode_plaintext(plaintext)
    if moment >= payload.expires_at:
        raise TokenExpired(payload.token_id, payload.expires_at)
    return payload
