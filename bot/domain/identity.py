"""Personal ID numbers at rest: sealed, with a blind index to find (and refuse) duplicates."""

from __future__ import annotations

from bot.crypto import DataProtector

ID_INDEX = "id_number"  # blind-index kind of ID numbers, in every table that looks them up


def id_index(protector: DataProtector, number: str) -> str:
    """The blind index of a 12-digit ID number (the same number always gives the same index)."""
    return protector.blind_index(ID_INDEX, number)
