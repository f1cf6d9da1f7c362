"""Partner channels: municipal offices, welfare offices and pension offices that run checks for
the people in front of them, and the staff keys of pension offices.

``MOCHINUSHI_PARTNER_KEYS`` lists ``office_id:kind:key`` entries, comma-separated; ``kind`` is
``municipal``, ``welfare`` or ``pension_office``. A check sent with ``Authorization: Bearer
<key>`` is that office's: its *channel* is the office's kind, it is counted against the office's
own limit (``MOCHINUSHI_PARTNER_RATE_LIMIT``, not the public per-address one, so an office
behind one NAT is not throttled by it), and the channel and office travel sealed inside the
reference entry (never in clear). A check without the header is the public ``web`` channel; a
header with any other value is 401.

``MOCHINUSHI_STAFF_API_KEYS`` entries may name their office, ``office_id:key``; a bare key
still works (office unknown).

Office ids are 1-32 characters of ``A-Z a-z 0-9 _ -``; keys at least 16 characters. Error
messages name the entry's position, never a key.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

__all__ = [
    "CHANNELS",
    "PARTNER_KINDS",
    "Channel",
    "InvalidPartnerKeys",
    "Partner",
    "PartnerKind",
    "PartnerRegistry",
    "StaffKey",
    "bearer",
    "parse_staff_keys",
]

PartnerKind = Literal["municipal", "welfare", "pension_office"]
Channel = Literal["web", "municipal", "welfare", "pension_office"]
PARTNER_KINDS: Final[tuple[str, ...]] = get_args(PartnerKind)
CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
"""The bounded set of channel label values (metrics, the campaign report): never an office."""

MIN_KEY_CHARS: Final = 16
_OFFICE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")


class InvalidPartnerKeys(ValueError):
    """The partner or staff key setting is malformed; the message never contains a key."""


@dataclass(frozen=True)
class Partner:
    office_id: str
    kind: PartnerKind

    @property
    def channel(self) -> Channel:
        return self.kind


@dataclass(frozen=True)
class StaffKey:
    key: str
    office_id: str | None


def bearer(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header; None when there is no header;
    ``""`` when there is one that is not a bearer key (so it matches nothing)."""
    if authorization is None:
        return None
    if not authorization.startswith("Bearer "):
        return ""
    return authorization.removeprefix("Bearer ").strip()


def _matching(presented: str, keys: list[tuple[str, object]]) -> object | None:
    """The value of the key equal to ``presented``, comparing every key in constant time."""
    found: object | None = None
    for key, value in keys:
        if hmac.compare_digest(key.encode(), presented.encode()) and presented:
            found = value
    return found


class PartnerRegistry:
    """The partner keys of ``MOCHINUSHI_PARTNER_KEYS``."""

    def __init__(self, text: str) -> None:
        self._keys: list[tuple[str, object]] = []
        seen: set[str] = set()
        for position, entry in enumerate((e.strip() for e in text.split(",")), start=1):
            if not entry:
                continue
            office_id, _, rest = entry.partition(":")
            kind, _, key = rest.partition(":")
            where = f"MOCHINUSHI_PARTNER_KEYS entry {position}"
            if not _OFFICE.fullmatch(office_id.strip()):
                raise InvalidPartnerKeys(
                    f"{where} must be office_id:kind:key with an office id of 1-32 characters "
                    "of A-Z a-z 0-9 _ -"
                )
            if kind.strip() not in PARTNER_KINDS:
                raise InvalidPartnerKeys(
                    f"{where} has a kind other than {', '.join(PARTNER_KINDS)}"
                )
            key = key.strip()
            if len(key) < MIN_KEY_CHARS:
                raise InvalidPartnerKeys(
                    f"{where} has a key shorter than {MIN_KEY_CHARS} characters"
                )
            if key in seen:
                raise InvalidPartnerKeys(f"{where} repeats a key of an earlier entry")
            seen.add(key)
            partner = Partner(office_id.strip(), kind.strip())  # type: ignore[arg-type]
            self._keys.append((key, partner))

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"PartnerRegistry({len(self._keys)} keys)"

    def offices(self) -> tuple[Partner, ...]:
        return tuple(dict.fromkeys(p for _, p in self._keys if isinstance(p, Partner)))

    def partner_for_key(self, key: str) -> Partner | None:
        found = _matching(key, self._keys)
        return found if isinstance(found, Partner) else None

    def authenticate(self, authorization: str | None) -> Partner | Literal[False] | None:
        """The partner presenting ``authorization``; None without the header (the web channel);
        False for a header that is no partner's key (401)."""
        presented = bearer(authorization)
        if presented is None:
            return None
        partner = self.partner_for_key(presented)
        return partner if partner is not None else False


def parse_staff_keys(keys: tuple[str, ...]) -> list[StaffKey]:
    """``office_id:key`` or a bare key, as ``Settings.staff_keys()`` lists them."""
    parsed = []
    for entry in keys:
        office_id, colon, key = entry.partition(":")
        if colon and _OFFICE.fullmatch(office_id) and len(key.strip()) >= 1:
            parsed.append(StaffKey(key.strip(), office_id))
        else:
            parsed.append(StaffKey(entry, None))
    return parsed
