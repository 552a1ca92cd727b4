"""Reading one /proc or /sys file the cheap way."""

from __future__ import annotations

import os


def read_file(path: str) -> bytes:
    """One open+read+close (at most 64 KiB): /proc files are generated whole on the
    first read, and skipping Python's buffered file objects halves the cost of the
    thousands of reads a process scan makes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def read_all(path: str) -> bytes:
    """The whole file, however long (``/proc/self/mountinfo`` on a host with
    thousands of mounts), through os.read as ``read_file``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = [os.read(fd, 65536)]
        while chunks[-1]:
            chunks.append(os.read(fd, 65536))
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_text(path: str) -> str:
    """The whole file as text, undecodable bytes replaced: a text-mode ``open``
    builds a buffered reader and a decoder for each file, about 20 us each time, and
    a cycle reads some 15 such files."""
    return read_all(path).decode("utf-8", "replace")
