"""Shared by the web app's tests: the browser's whereabouts, the test password, reading a page's CSRF token."""

from __future__ import annotations

import os
import re

__all__ = ["CHROMIUM", "PASSWORD", "browser_missing", "csrf_of"]

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"


def browser_missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) for the browser tests"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]'): the browser tests need it"
    return ""


def csrf_of(html: str) -> str:
    """The CSRF token a page carries (its meta tag, or a form's hidden field)."""
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)
