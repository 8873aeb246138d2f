"""Files that readers never see half-written: write beside the final name, fsync, rename over it.

A file is written to a hidden partial name in the same directory (``.<name>.<random>.partial``),
flushed and fsynced, then renamed over the final name (atomic on one file system) and the
directory fsynced. Whatever fails on the way (a full disk, a killed writer's error, a bad chunk),
the partial file is removed and the final name keeps what it held before: the old file whole, or
nothing. An OS error that does not name a file (``ENOSPC`` from a write does not) is raised again
naming the final path, so the message says which file could not be written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def write_atomically(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> int:
    """Write ``chunks`` under ``path`` atomically; the number of bytes written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        descriptor, partial = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX
        )
    except OSError as error:
        raise naming_path(error, path) from error
    try:
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
                size += len(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException as error:
        Path(partial).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise naming_path(error, path) from error
        raise
    fsync_directory(path.parent)
    return size


def write_text_atomically(path: str | os.PathLike[str], text: str) -> int:
    """:func:`write_atomically` of ``text`` in UTF-8."""
    return write_atomically(path, [text.encode("utf-8")])


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def naming_path(
    error: OSError, path: str | os.PathLike[str], note: str = "nothing was written under this name"
) -> OSError:
    """``error`` itself when it names a file; else the same errno and reason with ``note``, naming ``path``."""
    if error.filename is not None or error.errno is None:
        return error
    return type(error)(error.errno, f"{error.strerror}; {note}", str(path))
