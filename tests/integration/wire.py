"""Round trips to PostgreSQL, counted on the wire.

A TCP proxy between the engine and the server reads the client's side of the protocol and
counts what ends a round trip: a Sync (the end of an extended-protocol exchange: a prepared
statement's Bind/Execute, or a Parse/Describe) or a simple Query (BEGIN, COMMIT). Counting
on the wire sees every path at once — SQLAlchemy's, the driver's, savepoints — which a
statement event or a driver logger would each miss part of.
"""

from __future__ import annotations

import asyncio
import struct
from contextlib import suppress

from sqlalchemy.engine import make_url

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


class WireCounter:
    """A proxy to `url`'s server; `url_through()` is the same database reached through it."""

    def __init__(self, url: str) -> None:
        self.target = make_url(url)
        self.round_trips = 0
        self.queries: list[str] = []
        self._prepared: dict[bytes, str] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Listen on a free local port; the URL to give the engine."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return self.target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

    async def stop(self) -> None:
        """Stop listening and drop the connections."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError, OSError):
                await task

    def reset(self) -> None:
        """Start counting again from zero."""
        self.round_trips = 0
        self.queries.clear()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(
            self.target.host or "127.0.0.1", self.target.port or 5432
        )
        upstream = asyncio.ensure_future(self._client_to_server(client_r, server_w))
        downstream = asyncio.ensure_future(_pipe(server_r, client_w))
        self._tasks |= {upstream, downstream}
        try:
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (upstream, downstream):
                task.cancel()
                self._tasks.discard(task)
            for writer in (client_w, server_w):
                writer.close()

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Start-up messages carry no type byte: an SSL or GSSAPI request (answered with one
        # byte by the server, then the real start-up message follows), then the start-up.
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            body = await reader.readexactly(length - 8)
            writer.write(head + body)
            await writer.drain()
            if code not in (_SSL_REQUEST, _GSSENC_REQUEST):
                break
        while True:
            kind = await reader.readexactly(1)
            length_bytes = await reader.readexactly(4)
            (length,) = struct.unpack("!i", length_bytes)
            body = await reader.readexactly(length - 4)
            if kind == b"S":
                self.round_trips += 1
            elif kind == b"Q":
                self.round_trips += 1
                self.queries.append(body.rstrip(b"\0").decode())
            elif kind == b"P":  # Parse: the statement's name, then its SQL
                name, _, rest = body.partition(b"\0")
                self._prepared[name] = rest.partition(b"\0")[0].decode()
            elif kind == b"B":  # Bind: the portal's name, then the statement's
                name = body.split(b"\0", 2)[1]
                self.queries.append(self._prepared.get(name, "?"))
            writer.write(kind + length_bytes + body)
            await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
