"""A bare python-telegram-bot echo bot: the yardstick for bench/inbound.py.

`--transport default` is PTB as shipped (`ApplicationBuilder().token(...).base_url(...)
.build()`, httpx underneath); `--transport aiohttp` swaps in our aiohttp `BaseRequest`, which is
the practical limit for any PTB-based bot.
"""

from __future__ import annotations

import argparse
import logging

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.channels.telegram.request import AiohttpRequest


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the same text."""
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--transport", choices=("default", "aiohttp"), default="default")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    builder = (
        ApplicationBuilder()
        .token(args.token)
        .base_url(f"{args.base_url}/bot")
        .base_file_url(f"{args.base_url}/file/bot")
    )
    if args.transport == "aiohttp":
        builder = builder.request(AiohttpRequest()).get_updates_request(
            AiohttpRequest(connection_limit=1)
        )
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0, timeout=10, allowed_updates=["message"])


if __name__ == "__main__":
    main()
