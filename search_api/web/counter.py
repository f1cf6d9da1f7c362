"""Counter mode (``/counter``): office staff check for the person in front of them.

Staff sign in with their office's partner key; the session is a random id in a signed cookie
(HttpOnly, Secure, SameSite=Strict, path ``/counter``) whose state lives here, on the server:
the office, a CSRF token that every form carries, and the *visitor* — what was typed and the
answer — which "次の方" drops (and the session id is replaced, so the cookie changes and the
browser keeps no page of the previous person in its back/forward cache). Every page with a
visitor's data is a GET rendered from that state after a redirect (POST → 303 → GET), always
``Cache-Control: no-store``: going back after "次の方" fetches the page again and finds nothing.

Sessions are in this process's memory (bounded, idle ones expire after
``MOCHINUSHI_COUNTER_SESSION_MINUTES``): with several replicas, route /counter to one of them
(sticky sessions); a restart signs the counters out, which loses no data.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from search_api.partners import Partner

__all__ = ["COOKIE", "CounterSession", "CounterSessions", "Visitor"]

COOKIE: Final = "mochinushi_counter"
MAX_SESSIONS: Final = 10_000


@dataclass
class Visitor:
    """The person at the counter: what was typed, errors, and the answer (if any)."""

    values: dict[str, str] = field(default_factory=dict, repr=False)
    errors: dict[str, str] = field(default_factory=dict, repr=False)
    busy: bool = False
    answer: dict[str, Any] | None = field(default=None, repr=False)


@dataclass
class CounterSession:
    sid: str
    csrf: str
    partner: Partner | None = None
    visitor: Visitor | None = field(default=None, repr=False)
    last_seen: float = field(default_factory=time.monotonic)


class CounterSessions:
    """The sessions of this process, by id; cookies carry ``id.signature``."""

    def __init__(self, key: bytes, idle_seconds: float) -> None:
        self._key = key
        self._idle = idle_seconds
        self._sessions: OrderedDict[str, CounterSession] = OrderedDict()
        self._lock = threading.Lock()

    def _sign(self, sid: str) -> str:
        return hmac.new(self._key, sid.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def cookie_value(self, session: CounterSession) -> str:
        return f"{session.sid}.{self._sign(session.sid)}"

    def new(self, partner: Partner | None = None) -> CounterSession:
        session = CounterSession(secrets.token_urlsafe(24), secrets.token_urlsafe(24), partner)
        with self._lock:
            self._sessions[session.sid] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session

    def get(self, cookie: str | None) -> CounterSession | None:
        """The live session a cookie names (signature checked in constant time), or None."""
        if not cookie or "." not in cookie:
            return None
        sid, _, signature = cookie.partition(".")
        if not hmac.compare_digest(self._sign(sid), signature):
            return None
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(sid)
            if session is not None:
                session.last_seen = now
                self._sessions.move_to_end(sid)
            return session

    def rotate(self, session: CounterSession, *, keep_visitor: bool = False) -> CounterSession:
        """A fresh id and CSRF token for the same office (sign-in, next person)."""
        fresh = self.new(session.partner)
        if keep_visitor:
            fresh.visitor = session.visitor
        self.drop(session)
        return fresh

    def drop(self, session: CounterSession) -> None:
        session.visitor = None
        with self._lock:
            self._sessions.pop(session.sid, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expire(self, now: float) -> None:
        while self._sessions:
            sid, oldest = next(iter(self._sessions.items()))
            if now - oldest.last_seen < self._idle:
                break
            oldest.visitor = None
            del self._sessions[sid]


def csrf_ok(session: CounterSession, presented: str) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf, presented)
