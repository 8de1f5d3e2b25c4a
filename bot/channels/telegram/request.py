"""An aiohttp transport for python-telegram-bot.

PTB's default httpx transport costs an echo bot about 2 ms of CPU per update against about
0.8 ms with aiohttp, and degrades under many concurrent requests (see DESIGN.md and
`bench/inbound.py`). PTB lets any `BaseRequest` carry its calls; this one does so on one pooled
aiohttp session.

Every Bot API URL carries the bot token (`.../bot<TOKEN>/sendMessage`), so nothing that may
quote a URL leaves this module: transport errors are described by their kind (and the system's
reason, "Connection refused"), never by their text, and are not chained to the original error
(a logged traceback would print it); redirects are not followed (one to another host would hand
it the token) but refused by their status; an answer that is not JSON is not quoted.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import aiohttp
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """Send Bot API calls through an aiohttp `ClientSession`."""

    def __init__(
        self,
        *,
        connection_limit: int = 100,
        read_timeout: float = 10.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self._limit = connection_limit
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """Default seconds to wait for an answer (long polls add their own timeout)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the pooled session (called by PTB's `Bot.initialize`)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        write_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        connect_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        pool_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Perform one call; map transport failures to PTB's `TimedOut` / `NetworkError`."""
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = read_timeout if isinstance(read_timeout, int | float) else self._read_timeout
        connect = (
            connect_timeout if isinstance(connect_timeout, int | float) else self._connect_timeout
        )
        # A total bound matters: the sender relies on a send never outliving its claim.
        total = (read or 0) + (connect or 0) or None
        timeout = aiohttp.ClientTimeout(total=total, sock_read=read, sock_connect=connect)
        body: aiohttp.FormData | bytes | None = None
        headers = {}
        if request_data is not None:
            if request_data.multipart_data:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                body = form
            else:
                body = request_data.json_payload
                headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                status, payload = response.status, await response.read()
        except TimeoutError:
            raise TimedOut from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}{_reason(error)}") from None
        if HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST:
            raise NetworkError(f"Telegram answered HTTP {status}; redirects are not followed")
        if status >= HTTPStatus.BAD_REQUEST and not _is_json(payload):
            # PTB would quote the answer in its error, and a proxy's error page may quote the URL.
            raise NetworkError(f"Telegram answered HTTP {status} without a JSON body")
        return status, payload

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """The answer's JSON; unlike PTB's own, an invalid answer is neither logged nor quoted.

        Raises:
            TelegramError: the answer is not JSON.
        """
        try:
            parsed: dict[str, Any] = json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            raise TelegramError("Invalid server response") from None
        return parsed


def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        return False
    return True


def _reason(error: Exception) -> str:
    """The system's reason for a failed connection ("Connection refused"), if there is one.

    Never the error's own text: aiohttp quotes the URL (with the token) in several of them.
    """
    cause = getattr(error, "os_error", None) or error
    reason = getattr(cause, "strerror", None)
    return f": {reason}" if isinstance(reason, str) and reason else ""
