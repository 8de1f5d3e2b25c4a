"""A running service over real HTTP, called the way the tests' helpers call aiohttp's TestClient.

`Browser` (tests/webchat.py) and the staff API helpers take either: a TestClient on a test
server, or a `Remote` on a service that `bot.app.running` started. A `Remote` may send from a
local address of its own (any of 127.0.0.0/8 on Linux), so one machine plays many clients, each
seen by the service as its own peer.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from aiohttp import ClientSession, DummyCookieJar, TCPConnector
from aiohttp.client import _RequestContextManager
from yarl import URL


class Remote:
    """Requests to `base_url` (`http://host:port`), each with only the cookies it is given."""

    def __init__(self, base_url: str, *, local_address: str | None = None) -> None:
        self.base_url = URL(base_url)
        self.local_address = local_address
        self._session: ClientSession | None = None

    async def __aenter__(self) -> Self:
        local = (self.local_address, 0) if self.local_address else None
        self._session = ClientSession(
            self.base_url, connector=TCPConnector(local_addr=local), cookie_jar=DummyCookieJar()
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> ClientSession:
        assert self._session is not None, "use `async with Remote(...)`"
        return self._session

    def make_url(self, path: str) -> URL:
        """The absolute URL of `path` on the service."""
        return self.base_url.join(URL(path))

    def request(self, method: str, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.session.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.session.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> _RequestContextManager:
        return self.session.post(path, **kwargs)
