"""Dispatch: the route table (`routes`) and the unit of work that runs it (`unit_of_work`)."""

from bot.dispatch.routes import COMMANDS, MENU_FLOWS, ROUTES, route
from bot.dispatch.unit_of_work import ChatLocks, Dispatcher

__all__ = ["COMMANDS", "MENU_FLOWS", "ROUTES", "ChatLocks", "Dispatcher", "route"]
