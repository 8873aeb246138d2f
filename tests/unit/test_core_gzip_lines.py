"""gzip_lines gives exactly the lines (and the faults) of iterating a GzipFile, with bounded read-ahead."""

from __future__ import annotations

import gzip
import io
import random
import threading
import time
import zlib

import pytest

from analytics.core.gzip_lines import gzip_lines


def _compressed(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _lines_and_fault(lines: object) -> tuple[list[bytes], type[BaseException] | None]:
    read: list[bytes] = []
    try:
        for line in lines:  # type: ignore[attr-defined]
            read.append(line)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as error:
        return read, type(error)
    return read, None


def _reference(compressed: bytes) -> tuple[list[bytes], type[BaseException] | None]:
    return _lines_and_fault(gzip.GzipFile(fileobj=io.BytesIO(compressed), mode="rb"))


def _ours(compressed: bytes, block_bytes: int) -> tuple[list[bytes], type[BaseException] | None]:
    return _lines_and_fault(gzip_lines(io.BytesIO(compressed), block_bytes))


SAMPLES = {
    "empty": b"",
    "one line, no newline": b'{"a": 1}',
    "newline only": b"\n",
    "blank lines and CRLF": b"\n\n{}\r\n\r\n{}\n",
    "no final newline": b"first\nsecond\nthird",
    "long lines": b"".join(b"x" * n + b"\n" for n in (0, 1, 100, 5000, 3, 70_000, 2)),
}


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 4096, 1 << 20])
@pytest.mark.parametrize("name", list(SAMPLES))
def test_same_lines_as_gzipfile(name: str, block_bytes: int) -> None:
    compressed = _compressed(SAMPLES[name])
    assert _ours(compressed, block_bytes) == _reference(compressed)
    assert b"".join(_ours(compressed, block_bytes)[0]) == SAMPLES[name]


def test_members_of_a_multi_member_file_are_read_on() -> None:
    compressed = _compressed(b"one\ntwo") + _compressed(b" still two\nthree\n")
    lines, fault = _ours(compressed, 5)
    assert (lines, fault) == ([b"one\n", b"two still two\n", b"three\n"], None)


def _generated(lines: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(
        b'{"n": %d, "text": "%s"}\n' % (number, rng.randbytes(rng.randint(0, 300)).hex().encode())
        for number in range(lines)
    )


def test_a_truncated_stream_yields_what_gzipfile_yields_then_the_same_fault() -> None:
    compressed = _compressed(_generated(3000, seed=1))
    cuts = [10, 11, 100, len(compressed) // 3, len(compressed) // 2, len(compressed) - 9, len(compressed) - 1]
    for cut in cuts:
        reference = _reference(compressed[:cut])
        assert reference[1] is not None, cut  # the cut really breaks the stream
        for block_bytes in (97, 1 << 20):
            assert _ours(compressed[:cut], block_bytes) == reference, (cut, block_bytes)


def test_corrupt_bytes_raise_where_gzipfile_raises() -> None:
    compressed = bytearray(_compressed(_generated(2000, seed=2)))
    compressed[len(compressed) // 2] ^= 0xFF
    reference = _reference(bytes(compressed))
    assert reference[1] is not None
    assert _ours(bytes(compressed), 1024) == reference


class _CountingReader(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self.data.readinto(buffer)
        self.read_bytes += count
        return count


def _reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "gzip-read-ahead"]


def test_read_ahead_is_bounded_and_closing_early_stops_the_thread() -> None:
    compressed = _compressed(_generated(60_000, seed=3))  # ~20 MB of lines, ~9 MB compressed
    source = _CountingReader(compressed)
    lines = gzip_lines(io.BufferedReader(source, 1 << 16), block_bytes=1 << 14)
    assert next(lines).startswith(b'{"n": 0,')
    time.sleep(0.5)  # time enough for an unbounded reader to race through the whole file
    assert source.read_bytes < len(compressed) // 10
    assert _reader_threads()
    lines.close()
    assert not _reader_threads()
