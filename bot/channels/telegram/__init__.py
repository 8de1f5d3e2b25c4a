"""Telegram: the channel and its aiohttp transport for python-telegram-bot."""
