"""Typed aiohttp application keys: what the routes need, set once by `build_web_app`."""

from __future__ import annotations

from aiohttp import web

from bot.channels.telegram.bot_api import TelegramChannel
from bot.channels.web_chat import WebChannel
from bot.config import Settings
from bot.crypto import DataProtector
from bot.dispatch import Dispatcher
from bot.domain.dcc.trust import Authority
from bot.domain.ratelimit import KeyedLimiter
from storage.db import Database

AUTHORITY = web.AppKey("authority", Authority)
DATABASE = web.AppKey("database", Database)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
NEW_SESSIONS = web.AppKey("new_sessions", KeyedLimiter)  # web chat sessions per client address
POSTING = web.AppKey("posting", KeyedLimiter)  # web chat posts per session
POSTING_BY_ADDRESS = web.AppKey("posting_by_address", KeyedLimiter)  # ... and per client address
PROTECTOR = web.AppKey("protector", DataProtector)
SETTINGS = web.AppKey("settings", Settings)
TELEGRAM = web.AppKey("telegram", TelegramChannel)
WEB_CHANNEL = web.AppKey("web_channel", WebChannel)
