"""The one error type of the Vietnamese input parsers: what was typed, refused, and why."""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

Problem = TypeVar("Problem", bound=StrEnum)


class InputRefused(ValueError, Generic[Problem]):
    """Typed input was refused; `problem` says why (handlers turn it into a kind message)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.value)
        self.problem = problem
