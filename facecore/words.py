"""Words for the terminal: a count with its noun in the right number."""

from __future__ import annotations

__all__ = ["counted"]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 face"``, ``"2 faces"``: ``n`` and ``noun``, made plural (``plural``, or ``noun + "s"``)
    unless ``n`` is 1."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
