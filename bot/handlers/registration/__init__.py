"""Registration: the flow (its table of steps) and its form engine and fields."""

from bot.handlers.registration.flow import (
    FLOW,
    STEPS,
    Step,
    advance,
    book_for_registered,
    book_from_button,
    cancel,
    go_back,
    start_identity,
    start_registration,
)

__all__ = [
    "FLOW",
    "STEPS",
    "Step",
    "advance",
    "book_for_registered",
    "book_from_button",
    "cancel",
    "go_back",
    "start_identity",
    "start_registration",
]
