"""Credentials in URLs: the one rule for showing or storing a URL that may carry a secret.

A stream address (``rtsp://admin:s3cret@cam/stream``) or a service address in the settings
(a webhook, an MQTT broker) may hold a user and password, or a token in its query. Whatever
facecam prints, logs or writes to a file (the CSV ``source`` column, a kept face's record,
the ``--report`` file, a warning or an error) shows :func:`mask_url`'s form instead; the real
URL stays in memory only, to open the connection:

- ``scheme://user:password@host/...`` -> ``scheme://user:***@host/...``;
- ``scheme://secret@host/...`` (a user alone, often a token) -> ``scheme://***@host/...``;
- a query parameter named ``password``, ``pass``, ``passwd``, ``pwd``, ``token``, ``secret``,
  ``key``, ``apikey`` (and the like, any case) keeps its name, its value becomes ``***``.

Text that is not a URL (a file path, a camera index) is returned as it is.

:func:`url_problem` checks a service address from the settings (scheme, host, port) and says
what is wrong with it, never quoting its secret.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["mask_url", "has_credentials", "url_problem", "MASK", "SECRET_PARAMS"]

MASK = "***"
SECRET_PARAMS = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "token", "access_token", "auth_token", "auth",
    "secret", "client_secret", "key", "apikey", "api_key", "sig", "signature", "credentials",
})
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/?#]*)(?P<rest>.*)$", re.S)
_PARAM = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&;#]+)=(?P<value>[^&;#]*)")


def _mask_authority(authority: str) -> str:
    """``user:password@host:port`` -> ``user:***@host:port``; ``token@host`` -> ``***@host``."""
    at = authority.rfind("@")
    if at < 0:
        return authority
    user, colon, _password = authority[:at].partition(":")
    return f"{user}:{MASK}{authority[at:]}" if colon else f"{MASK}{authority[at:]}"


def _mask_query(rest: str) -> str:
    """The path, query and fragment with the values of secret-looking parameters masked."""
    def masked(match: re.Match) -> str:
        if match["name"].strip().lower() not in SECRET_PARAMS or not match["value"]:
            return match[0]
        return f"{match['sep']}{match['name']}={MASK}"

    path, mark, query = rest.partition("?")
    return path + mark + _PARAM.sub(masked, "?" + query)[1:] if mark else rest


def mask_url(text: str | int) -> str:
    """``text`` as it may be shown or stored: a URL's user, password and secret query values
    replaced by ``***`` (see the module's rule); anything else unchanged (as ``str``)."""
    text = str(text)
    match = _URL.match(text)
    if match is None:
        return text
    return match["scheme"] + _mask_authority(match["authority"]) + _mask_query(match["rest"])


def has_credentials(text: str | int) -> bool:
    """Whether ``text`` is a URL that :func:`mask_url` changes (it carries a secret)."""
    return mask_url(text) != str(text)


def url_problem(url: str, schemes: tuple[str, ...]) -> str:
    """What is wrong with the service address ``url`` (``""``: nothing): its scheme is not one
    of ``schemes``, it has no host, or its port is not a number 1..65535. The text quotes the
    URL masked (:func:`mask_url`)."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return f"{shown!r} has a bad port (expected a number 1..65535)"
    if parts.scheme.lower() not in schemes:
        return f"{shown!r} must start with {' or '.join(s + '://' for s in schemes)}"
    if not parts.hostname:
        return f"{shown!r} has no host"
    if port == 0:
        return f"{shown!r} has a bad port (expected a number 1..65535)"
    return ""
