"""A misbehaving network in front of the Telegram emulator: redirects, drops, error pages, hangs.

Every Bot API URL carries the bot token (`.../bot<TOKEN>/sendMessage`), so tests put `Front`
between the bot and the emulator to see that the token reaches no log line and no other host.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from dataclasses import dataclass

from aiohttp import ClientError, ClientSession, web

ELSEWHERE = "127.0.0.2"  # another host, as far as the bot can tell (still this machine)


@dataclass
class _Fault:
    mode: str
    times: int


class Front:
    """Passes Bot API calls on to the emulator; misbehaves for the methods given to `fail`.

    Modes: `redirect` (302 to another host), `close` (drop the connection), `garbage` (200 with
    an HTML page quoting the URL), `error-page` (502, the same page), `hang` (never answer).
    Downloads of files are the method `file`.
    """

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream
        self._faults: dict[str, _Fault] = {}
        self.failed: Counter[str] = Counter()
        self.elsewhere_asked: list[str] = []  # paths the other host was asked for
        self._runners: list[web.AppRunner] = []
        self._client: ClientSession | None = None
        self.base_url = self._elsewhere = ""

    def fail(self, method: str, mode: str, *, times: int = 1) -> None:
        self._faults[method] = _Fault(mode, times)

    async def start(self) -> None:
        self._client = ClientSession()
        front = web.Application()
        front.router.add_route("*", "/bot{token}/{method}", self._api)
        front.router.add_get("/file/bot{token}/{path:.+}", self._file)
        elsewhere = web.Application()
        elsewhere.router.add_route("*", "/{path:.*}", self._other_host)
        self.base_url = await self._serve(front, "127.0.0.1")
        self._elsewhere = await self._serve(elsewhere, ELSEWHERE)

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _serve(self, app: web.Application, host: str) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket()
        sock.bind((host, 0))
        await web.SockSite(runner, sock).start()
        self._runners.append(runner)
        return f"http://{host}:{sock.getsockname()[1]}"

    async def _api(self, request: web.Request) -> web.StreamResponse:
        return await self._misbehave(request, request.match_info["method"])

    async def _file(self, request: web.Request) -> web.StreamResponse:
        return await self._misbehave(request, "file")

    async def _misbehave(self, request: web.Request, method: str) -> web.StreamResponse:
        fault = self._faults.get(method)
        if fault is None or fault.times <= 0:
            return await self._pass_on(request)
        fault.times -= 1
        self.failed[method] += 1
        page = f"<html><body>Cannot serve {request.url}</body></html>"
        if fault.mode == "redirect":
            raise web.HTTPFound(f"{self._elsewhere}{request.path_qs}")
        if fault.mode == "close":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if fault.mode == "garbage":
            return web.Response(text=page, content_type="text/html")
        if fault.mode == "error-page":
            return web.Response(text=page, content_type="text/html", status=502)
        assert fault.mode == "hang", fault.mode
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def _pass_on(self, request: web.Request) -> web.Response:
        assert self._client is not None
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        try:
            async with self._client.request(
                request.method,
                f"{self._upstream}{request.path_qs}",
                data=await request.read(),
                headers=headers,
            ) as answer:
                return web.Response(
                    body=await answer.read(),
                    status=answer.status,
                    content_type=answer.content_type,
                )
        except ClientError:  # the emulator went away (a long poll when the front stops)
            return web.Response(status=502)

    async def _other_host(self, request: web.Request) -> web.Response:
        self.elsewhere_asked.append(request.path)
        raise web.HTTPFound(request.path_qs)  # and round again, till the client gives up
