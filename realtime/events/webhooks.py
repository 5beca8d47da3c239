"""Webhooks: each notification POSTed as JSON to a URL, on the target's own thread.

One :class:`WebhookTarget` per URL of ``[events] webhooks``. It reads its own bounded hub
queue of sightings (oldest dropped when it falls behind), picks notifications with its
:class:`~realtime.events.notices.NotifyPolicy` and POSTs each :func:`~realtime.events.notices.notice` body
(``Content-Type: application/json``). A connection refused, a timeout, a 5xx or a 429 is
retried after ``backoff_s``, doubled each time up to ``MAX_BACKOFF_S``, ``tries`` times in
all; then the event is dropped and counted. Any other answer (a 4xx) drops it at once.
Drops are reported in one warning line per outage naming the URL with its credentials masked
(:class:`~realtime.events.notices.Drops`). A ``user:password@`` in the URL is sent as HTTP Basic
authorization, never as part of the address, and never shown.

Standard library only (``urllib.request``): one small JSON POST per event needs no more.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Callable
from urllib.parse import unquote, urlsplit, urlunsplit

from facecore.urls import mask_url

from .hub import Subscription
from .notices import Drops, NotifyPolicy, notice

__all__ = ["WebhookTarget", "split_credentials", "TRIES", "BACKOFF_S", "MAX_BACKOFF_S", "TIMEOUT_S", "CLOSE_WAIT_S"]

log = logging.getLogger(__name__)
TRIES = 5  # attempts per event before it is dropped
BACKOFF_S = 0.5  # first wait between attempts (then doubled)
MAX_BACKOFF_S = 30.0
TIMEOUT_S = 5.0  # per attempt: connect and answer
CLOSE_WAIT_S = 2.0  # at the end of the run, how long the events still queued may take to go out


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its ``user:password@``, and the ``Authorization`` header they make
    (``{}`` without)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=netloc)), {"Authorization": f"Basic {token}"}


def _failure(exc: Exception) -> tuple[str, bool]:
    """Why a POST failed, in a few words (never the URL), and whether trying again may help."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}", exc.code >= 500 or exc.code == 429
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, str):
        return reason, True
    if isinstance(reason, TimeoutError):
        return "timed out", True
    return str(getattr(reason, "strerror", None) or type(reason).__name__).lower(), True


class WebhookTarget:
    """POSTs the notifications of ``subscription`` to ``url`` on its own thread until :meth:`close`.

    ``opener``: ``urllib.request.urlopen``'s signature (tests may count calls); ``sleep``
    waits between attempts and returns True when the target is being stopped.
    """

    def __init__(self, url: str, subscription: Subscription, policy: NotifyPolicy, tries: int = TRIES,
                 backoff_s: float = BACKOFF_S, timeout_s: float = TIMEOUT_S,
                 opener: Callable = urllib.request.urlopen) -> None:
        self.shown = mask_url(url)
        self._url, self._headers = split_credentials(url)
        self._subscription, self._policy, self._opener = subscription, policy, opener
        self.tries, self.backoff_s, self.timeout_s = tries, backoff_s, timeout_s
        self.sent = 0
        self.drops = Drops(f"webhook {self.shown}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"webhook {self.shown}", daemon=True)

    def start(self) -> "WebhookTarget":
        self._thread.start()
        return self

    def _run(self) -> None:
        for message in self._subscription:
            self.drops.add_queue_drops(self._subscription)
            if self._stop.is_set():
                self.drops.add(1, "face-live stopped before it could be sent")
            elif self._policy.admit(message.record):
                self._deliver(json.dumps(notice(message.record)).encode("utf-8"))
        self.drops.add_queue_drops(self._subscription)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self._url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", **self._headers})
        with self._opener(request, timeout=self.timeout_s) as answer:
            answer.read()

    def _deliver(self, body: bytes) -> None:
        """POST ``body``, retrying with backoff; a lost event is counted in :attr:`drops`."""
        wait = self.backoff_s
        for attempt in range(1, self.tries + 1):
            try:
                self._post(body)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                reason, again = _failure(exc)
                log.debug("webhook %s: attempt %d failed: %s", self.shown, attempt, reason)
                if again and attempt < self.tries and not self._stop.wait(wait):
                    wait = min(2 * wait, MAX_BACKOFF_S)
                    continue
                self.drops.add(1, f"{reason}, after {attempt} tr{'y' if attempt == 1 else 'ies'}")
                return
            self.sent += 1
            self.drops.say()  # it answers again: the outage's drops, in one line
            return

    def close(self) -> None:
        """Stop: the events still queued get up to ``CLOSE_WAIT_S`` to go out, the rest are
        dropped (counted); then the drops not yet reported are."""
        self._subscription.close()
        if self._thread.is_alive():
            self._thread.join(CLOSE_WAIT_S)
            self._stop.set()
            self._thread.join(self.timeout_s + 1.0)
        self.drops.say()
