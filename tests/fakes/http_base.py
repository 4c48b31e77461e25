"""What every fake server shares: one aiohttp application on 127.0.0.1, started and stopped
(or used as ``async with``), on a free port or a port chosen beforehand.

A subclass adds its routes in `routes(app)` and may extend `start`/`stop` (to release what
its handlers hold, say) around `super()`.
"""

from __future__ import annotations

import socket
from typing import Self

from aiohttp import web


class FakeHttpServer:
    def __init__(self, *, port: int | None = None) -> None:
        """`port`: serve there (known before `start`); otherwise a free one at each start."""
        self._fixed_port = port
        self._port = port
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        """Serve on 127.0.0.1."""
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        if self._fixed_port is not None:
            await web.TCPSite(self._runner, "127.0.0.1", self._fixed_port).start()
            return
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
