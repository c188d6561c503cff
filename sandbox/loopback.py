"""What every sandbox server shares: an aiohttp application on an ephemeral 127.0.0.1
port, started and stopped (or used as `async with`)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Subclasses build their application in `application()`."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def application(self) -> web.Application:
        """The routes this server answers."""
        raise NotImplementedError

    async def start(self, port: int = 0) -> str:
        """Listen on a loopback port (0: an ephemeral one); return the base URL."""
        self._runner = web.AppRunner(self.application(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base_url

    async def go_away(self) -> None:
        """Stop listening, as a server that went down does: connections are refused
        until `come_back()`. What the server holds is kept."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def come_back(self) -> None:
        """Listen again on the same port, as the same server restarted."""
        port = int(self.base_url.rsplit(":", 1)[1])
        await self.start(port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
