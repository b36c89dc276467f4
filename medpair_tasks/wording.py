"""Small pieces of the text medpair prints."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun`` in the number that fits: ``1 point``, ``2 points``, ``0 points``."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
