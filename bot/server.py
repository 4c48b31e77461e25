"""The process's one HTTP server: each channel mounts its routes on it (the Telegram webhook,
WeChat, OneBot's WebSocket), next to the operator's pages: /healthz (the process answers),
/readyz and /metrics (`bot/ops`). Idle and half-open connections are closed after a while
and their number is capped."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # aiohttp.web is imported where a server is built: most commands (`chat`, `db`, the
    # console) never serve HTTP, and importing it costs each of those processes ~0.2 s.
    from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # the largest any channel takes (Telegram's updates); routes cap lower
KEEPALIVE = 15.0  # seconds an idle (or never-speaking) connection stays open
MAX_CONNECTIONS = 1000


Page = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


class PortUnavailable(Exception):
    """The server cannot listen where HTTP_HOST/HTTP_PORT say."""


class HttpServer:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.routes: list[web.RouteDef] = []
        self.apps: list[tuple[str, web.Application]] = []  # (path prefix, its own app)
        self.pages: dict[str, Page] = {"/healthz": _health}  # the operator's GET pages
        self.wanted = False  # serve even when no channel receives over HTTP (/metrics)
        self._runner: web.AppRunner | None = None
        self._sockets: list[socket.socket] = []

    def mount(self, routes: list[web.RouteDef]) -> None:
        """Add a channel's routes (before `start`)."""
        self.routes.extend(routes)

    def mount_app(self, prefix: str, app: web.Application) -> None:
        """Serve a whole application under `prefix` (the staff console, with middlewares
        of its own), before `start`."""
        self.apps.append((prefix, app))

    def page(self, path: str, handler: Page, *, serve: bool = False) -> None:
        """An operator's GET page (before `start`); `serve`: listen for it even when no
        channel needs the server."""
        self.pages[path] = handler
        self.wanted |= serve

    @property
    def needed(self) -> bool:
        """Whether any channel receives over HTTP, or a page asked to be served."""
        return bool(self.routes or self.apps or self.wanted)

    def application(self) -> web.Application:
        from aiohttp import web

        app = web.Application(client_max_size=MAX_BODY)
        pages = [web.get(path, handler) for path, handler in self.pages.items()]
        app.add_routes([*self.routes, *pages])
        for prefix, sub in self.apps:
            app.add_subapp(prefix, sub)
        return app

    def reserve(self) -> None:
        """Take the port before anything else starts (a port in use is a setting to fix,
        told at once); connections wait in the backlog until `start` serves them. A name
        such as localhost is taken on every address it has (127.0.0.1 and ::1)."""
        if self._sockets:
            return
        sockets: list[socket.socket] = []
        try:
            seen = set()
            for family, kind, proto, _, address in socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM
            ):
                if (family, address[:2]) in seen:
                    continue
                seen.add((family, address[:2]))
                sock = socket.socket(family, kind, proto)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(1024)
                sock.setblocking(False)
        except OSError as exc:
            for sock in sockets:
                sock.close()
            raise PortUnavailable(
                f"HTTP_PORT: cannot listen on {self.host}:{self.port} ({exc.strerror or exc})"
            ) from None
        self._sockets = sockets

    async def start(self) -> None:
        from aiohttp import web

        self.reserve()
        runner = web.AppRunner(self.application(), keepalive_timeout=KEEPALIVE, shutdown_timeout=5)
        await runner.setup()
        cap_connections(runner)
        for sock in self._sockets:
            await web.SockSite(runner, sock).start()
        self._runner = runner
        log.info("http: listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        for sock in self._sockets:
            sock.close()
        self._sockets = []


async def _health(_request: web.Request) -> web.Response:
    from aiohttp import web

    return web.json_response({"ok": True})


def cap_connections(runner: web.AppRunner, limit: int | None = None) -> None:
    """Refuse connections beyond `limit` (each closed one frees a place)."""
    limit = MAX_CONNECTIONS if limit is None else limit
    server = runner.server
    if server is None:
        raise RuntimeError("set the runner up first")
    admit = server.connection_made

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        admit(handler, transport)
        if len(server.connections) > limit:
            log.warning("more than %d connections open; refusing one", limit)
            transport.close()

    server.connection_made = connection_made  # type: ignore[method-assign]
