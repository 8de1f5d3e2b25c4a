"""The service's HTTP side (aiohttp): web chat, Telegram webhook, health check."""
