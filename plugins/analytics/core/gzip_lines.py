"""The lines of a gzip stream, decompressed one block ahead in a second thread.

zlib lets go of Python's lock while it inflates, so a reader thread can decompress the next
block while the caller parses the lines of this one: on a machine with a free core the two
overlap, which takes most of the gunzip out of a parse's wall time. The lines are exactly those
of iterating a :class:`gzip.GzipFile` (split on ``\\n``, which each keeps; the last one without
it when the stream does not end in one), across members of a multi-member file. A stream that
breaks (truncated, corrupt, a read error) raises the same exception, at the same place: after
every complete line decompressed before the fault. Memory is bounded by :data:`BLOCKS_AHEAD`
blocks of :data:`BLOCK_BYTES`.
"""

from __future__ import annotations

import gzip
import io
import queue
import threading
from collections.abc import Iterator
from typing import IO

BLOCK_BYTES = 1 << 20
BLOCKS_AHEAD = 4
_END = object()


def gzip_lines(compressed: IO[bytes], block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The lines of the gzip data read from ``compressed``; stops the reader thread when closed early."""
    return _lines_of_blocks(_blocks_read_ahead(gzip.GzipFile(fileobj=compressed, mode="rb"), block_bytes))


def _lines_of_blocks(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines of a byte stream given in blocks: a line cut by a block's end is joined to its rest."""
    carry = b""
    for block in blocks:
        end = block.rfind(b"\n") + 1
        if not end:
            carry += block
            continue
        start = 0
        if carry:
            start = block.find(b"\n") + 1
            yield carry + block[:start]
        yield from io.BytesIO(block[start:end])
        carry = block[end:]
    if carry:
        yield carry


def _blocks_read_ahead(stream: gzip.GzipFile, block_bytes: int) -> Iterator[bytes]:
    """``stream``'s decompressed blocks, read by a daemon thread at most BLOCKS_AHEAD ahead."""
    blocks: queue.Queue[object] = queue.Queue(BLOCKS_AHEAD)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                blocks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            while block := stream.read1(block_bytes):
                if not hand_over(block):
                    return
        except BaseException as error:  # handed to the caller, raised where the stream broke
            hand_over(error)
            return
        hand_over(_END)

    reader = threading.Thread(target=read, name="gzip-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := blocks.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()
