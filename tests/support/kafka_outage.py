"""A Kafka broker that has just gone away, as a client sees it.

A stand-in on loopback answers the bootstrap: version negotiation is passed to the real
broker, and metadata says the cluster's only broker (node 1) is at a loopback port nothing
listens on. The client then retries node 1 as it does during an outage, and logs as much.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.protocol.metadata import (
    MetadataResponse_v0,
    MetadataResponse_v1,
    MetadataResponse_v2,
    MetadataResponse_v3,
    MetadataResponse_v4,
    MetadataResponse_v5,
)

METADATA = 3
SIZE = struct.Struct(">i")
HEADER = struct.Struct(">hhi")  # api key, api version, correlation id


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _metadata(version: int, port: int) -> Any:
    if version == 0:
        return MetadataResponse_v0([(1, "127.0.0.1", port)], [])
    brokers = [(1, "127.0.0.1", port, None)]
    if version == 1:
        return MetadataResponse_v1(brokers, 1, [])
    if version == 2:
        return MetadataResponse_v2(brokers, "gone", 1, [])
    newer = {3: MetadataResponse_v3, 4: MetadataResponse_v4, 5: MetadataResponse_v5}
    return newer[version](0, brokers, "gone", 1, [])


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = SIZE.unpack(await reader.readexactly(SIZE.size))
    return await reader.readexactly(size)


async def _ask_real_broker(real: tuple[str, int], frame: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*real)
    try:
        writer.write(SIZE.pack(len(frame)) + frame)
        await writer.drain()
        return await _read_frame(reader)
    finally:
        writer.close()


def _serve(real: tuple[str, int], gone_port: int) -> Any:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                frame = await _read_frame(reader)
                key, version, correlation = HEADER.unpack_from(frame)
                if key == METADATA:
                    body = _metadata(version, gone_port).encode()
                    answer = SIZE.pack(correlation) + body
                else:
                    answer = await _ask_real_broker(real, frame)
                writer.write(SIZE.pack(len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up
        finally:
            writer.close()

    return serve


@asynccontextmanager
async def broker_gone(real_bootstrap: str) -> AsyncIterator[str]:
    """A bootstrap address whose cluster's broker does not answer any more."""
    host, _, port = real_bootstrap.split(",")[0].rpartition(":")
    server = await asyncio.start_server(_serve((host, int(port)), closed_port()), "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()
