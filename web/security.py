"""Who may use the app: the bind rule, the admin password, sessions, CSRF tokens, API tokens,
the login rate limit.

- The app binds ``127.0.0.1`` unless told otherwise; any other address needs ``web.password``
  or ``web.password_hash`` (:func:`check_bind`), else the command refuses in one line (exit 2).
- Without a password (loopback only) every local client may use it; requests whose ``Host``
  is not a loopback name are refused (DNS rebinding).
- A browser holds one session cookie (``HttpOnly``, ``SameSite=Strict``); its session carries a
  CSRF token that every POST must echo (form field ``csrf_token`` or header ``X-CSRF-Token``).
- API clients send ``Authorization: Bearer TOKEN``; only a hash of each token is stored
  (``web.tokens``, owner-only), so a token is shown once, when it is made.
- Passwords are compared in constant time; a hash is ``scrypt$N$r$p$salt$digest`` (hex).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from facecore.config import WebConfig
from facecore.errors import ConfigError, StorageError, UsageError
from facecore.files import write_private
from facecore.people import make_private_dir

__all__ = ["hash_password", "check_password_hash", "check_bind", "is_loopback", "Session", "Sessions",
           "TokenStore", "LoginLimiter", "Security", "LOOPBACK_NAMES"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_SCRYPT = (2**14, 8, 1)  # N, r, p: about 16 MiB and 50 ms per hash


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$digest`` of ``password`` with a new random salt."""
    n, r, p = _SCRYPT
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_password_hash(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (from :func:`hash_password`); a malformed hash matches nothing."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(digest)))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _check_hash_format(stored: str) -> None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or not all(x.isdigit() for x in parts[1:4]):
        raise ConfigError("web.password_hash: not a hash made by  face-web --hash-password  "
                          "(expected scrypt$N$r$p$salt$digest)")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, web: WebConfig) -> None:
    """Refuse (``UsageError``) to bind ``host`` beyond loopback without a password; check the hash's form."""
    if web.password_hash:
        _check_hash_format(web.password_hash)
    if not is_loopback(host) and not (web.password or web.password_hash):
        raise UsageError(f"binding {host} lets other machines in: set a password first "
                         f"(--set web.password=... or web.password_hash from face-web --hash-password), "
                         f"or bind 127.0.0.1")


@dataclass
class Session:
    """One browser: its CSRF token, whether it logged in, until when it lasts (epoch seconds)."""

    id: str
    csrf: str
    expires: float
    authenticated: bool = False


class Sessions:
    """The sessions of this process, in memory (a restart logs everyone out), thread-safe."""

    def __init__(self, hours: float, most: int = 10_000) -> None:
        self.seconds, self.most = hours * 3600.0, most
        self._lock = threading.Lock()
        self._by_id: dict[str, Session] = {}

    def get(self, session_id: str | None) -> Session | None:
        with self._lock:
            session = self._by_id.get(session_id or "")
            if session is not None and session.expires < time.time():
                del self._by_id[session.id]
                return None
            return session

    def new(self, authenticated: bool = False) -> Session:
        """A new session with a new id and CSRF token (the oldest go when there are too many)."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time() + self.seconds,
                          authenticated)
        with self._lock:
            if len(self._by_id) >= self.most:
                for old in sorted(self._by_id.values(), key=lambda s: s.expires)[: self.most // 10 + 1]:
                    del self._by_id[old.id]
            self._by_id[session.id] = session
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._by_id.pop(session_id, None)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """API tokens: only their SHA-256 is kept, in the owner-only JSON file ``path``."""

    PREFIX = "fc_"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def _read(self) -> list[dict]:
        if self.path is None or not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [t for t in data.get("tokens", []) if isinstance(t, dict) and isinstance(t.get("sha256"), str)]
        except (OSError, ValueError, AttributeError) as exc:
            raise StorageError(f"cannot read the API tokens {self.path}: {exc}") from None

    def new(self, label: str = "") -> str:
        """Make, keep (its hash) and return a new token; shown once, never stored as it is."""
        if self.path is None:
            raise UsageError("web.tokens is empty: no API tokens are kept")
        token = self.PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            tokens = self._read()
            tokens.append({"sha256": _token_hash(token), "label": label[:80], "created": time.time()})
            make_private_dir(self.path.parent)
            write_private(self.path, json.dumps({"tokens": tokens}, indent=1).encode())
        return token

    def count(self) -> int:
        with self._lock:
            return len(self._read())

    def valid(self, token: str) -> bool:
        if not token.startswith(self.PREFIX):
            return False
        wanted = _token_hash(token)
        with self._lock:
            try:
                known = [t["sha256"] for t in self._read()]
            except StorageError:
                return False
        return any(hmac.compare_digest(wanted, k) for k in known)


class LoginLimiter:
    """At most ``attempts`` failed logins per client per ``window_s`` seconds."""

    def __init__(self, attempts: int, window_s: float = 60.0) -> None:
        self.attempts, self.window_s = attempts, window_s
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] < now - self.window_s:
            times.popleft()
        return times

    def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: now)."""
        now = time.time()
        with self._lock:
            times = self._recent(client, now)
            return max(0.0, times[0] + self.window_s - now) if len(times) >= self.attempts else 0.0

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.time()).append(time.time())


@dataclass
class Security:
    """The password rule, the sessions, the API tokens and the login limiter of one app."""

    web: WebConfig
    sessions: Sessions = field(init=False)
    tokens: TokenStore = field(init=False)
    limiter: LoginLimiter = field(init=False)

    def __post_init__(self) -> None:
        if self.web.password_hash:
            _check_hash_format(self.web.password_hash)
        self.sessions = Sessions(self.web.session_hours)
        self.tokens = TokenStore(self.web.tokens)
        self.limiter = LoginLimiter(self.web.login_attempts)

    @property
    def password_required(self) -> bool:
        return bool(self.web.password or self.web.password_hash)

    def password_ok(self, given: str) -> bool:
        if self.web.password_hash:
            return check_password_hash(given, self.web.password_hash)
        return bool(self.web.password) and hmac.compare_digest(given.encode(), self.web.password.encode())

    def bearer_ok(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header holds a valid ``Bearer`` API token."""
        scheme, _, token = (header or "").partition(" ")
        return scheme.lower() == "bearer" and self.tokens.valid(token.strip())
