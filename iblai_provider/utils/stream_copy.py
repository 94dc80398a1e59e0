"""Chunked copy of a byte stream into a writable file, with integrity data computed on the fly.

One chunk is in memory at a time, so the memory a copy needs does not grow with the size of what
is copied. While the bytes pass through, :func:`copy_stream` counts them, hashes them (SHA-256),
counts CSV records and logs progress every few seconds; it checks the count against the size the
sender announced (``Content-Length``) before the caller commits anything.

The loop is deliberately single-threaded: a reader thread handing chunks to a writer/hasher
thread was measured (see ``bench/README.md``) and was no faster on a 2-vCPU machine, where the
server, the copy and the hash compete for the same cores; it only added failure modes.

Usable for any stream: the report transfer feeds it a download, the analytics export can feed it
its own serialised pages.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from typing import IO, Any, NamedTuple

from iblai_provider._compat import AirflowException

DEFAULT_CHUNK_SIZE = 1024 * 1024
PROGRESS_INTERVAL = 5.0  # seconds between progress lines in the task log


class IncompleteCopyError(AirflowException):
    """The stream ended with a different number of bytes than announced (a truncated body)."""

    def __init__(self, received: int, expected: int) -> None:
        self.received = received
        self.expected = expected
        super().__init__(f"stream ended after {received} bytes, but {expected} were announced (truncated body)")


class CopyResult(NamedTuple):
    """What was copied: ``size`` bytes with digest ``sha256``; ``rows`` CSV data records (header excluded)."""

    size: int
    sha256: str
    rows: int


class CsvRecordCounter:
    """Count CSV records in a stream fed chunk by chunk, at C speed.

    A newline ends a record only outside double quotes (RFC 4180), so a chat message with line
    breaks in a quoted field stays one record. Splitting a chunk on ``"`` gives pieces that are
    alternately outside and inside quotes (an escaped ``""`` toggles twice, so it cancels out);
    newlines are counted in the outside pieces only, and the quote state carries to the next chunk.
    """

    def __init__(self) -> None:
        self._newlines = 0
        self._in_quotes = False
        self._last_byte = b""

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if b'"' not in chunk:
            if not self._in_quotes:
                self._newlines += chunk.count(b"\n")
        else:
            pieces = chunk.split(b'"')
            first_outside = 1 if self._in_quotes else 0
            self._newlines += sum(piece.count(b"\n") for piece in pieces[first_outside::2])
            if len(pieces) % 2 == 0:  # an odd number of quotes flips the state
                self._in_quotes = not self._in_quotes
        self._last_byte = chunk[-1:]

    @property
    def records(self) -> int:
        """Records seen, the header included; a last line without a newline still counts."""
        unterminated = self._last_byte not in (b"", b"\n")
        return self._newlines + (1 if unterminated else 0)

    @property
    def data_rows(self) -> int:
        return max(self.records - 1, 0)


def _mb(size: float) -> str:
    return f"{size / 1e6:,.1f} MB"


class ProgressLog:
    """Log ``bytes, %, MB/s`` at most every ``interval`` seconds, and once at the end.

    :param log: the logger to write to (the task log).
    :param label: what is being copied, e.g. ``"report ai-mentor-chat-history"``; never a URL.
    :param total: the announced size in bytes, if known (enables the percentage).
    """

    def __init__(self, log: logging.Logger | Any, label: str, total: int | None, interval: float = PROGRESS_INTERVAL):
        self.log = log
        self.label = label
        self.total = total
        self.interval = interval
        self.started = time.monotonic()
        self._next = self.started + interval

    def _line(self, done: int, now: float) -> str:
        rate = done / max(now - self.started, 1e-9) / 1e6
        if self.total:
            return f"{self.label}: {_mb(done)} of {_mb(self.total)} ({100 * done / self.total:.1f}%), {rate:,.1f} MB/s"
        return f"{self.label}: {_mb(done)}, {rate:,.1f} MB/s"

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval
            self.log.info("%s", self._line(done, now))

    def finish(self, done: int) -> float:
        """Log the final line; returns the elapsed seconds."""
        now = time.monotonic()
        self.log.info("%s in %.1f s", self._line(done, now), now - self.started)
        return now - self.started


def copy_stream(
    chunks: Iterable[bytes],
    out: IO[bytes],
    *,
    expected_size: int | None = None,
    progress: ProgressLog | None = None,
) -> CopyResult:
    """Write every chunk to ``out``; return its size, SHA-256 and CSV data-row count.

    :param chunks: the source, e.g. ``response.iter_content(chunk_size)``.
    :param out: a binary file opened for writing (an fsspec file, a local file, ...).
    :param expected_size: the announced size; a different byte count raises
        :class:`IncompleteCopyError` before the caller can commit what was written.
    :param progress: where to report progress, if anywhere.
    """
    digest = hashlib.sha256()
    counter = CsvRecordCounter()
    done = 0
    for chunk in chunks:
        if not chunk:
            continue
        out.write(chunk)
        digest.update(chunk)
        counter.feed(chunk)
        done += len(chunk)
        if progress is not None:
            progress.update(done)
    if expected_size is not None and done != expected_size:
        raise IncompleteCopyError(done, expected_size)
    if progress is not None:
        progress.finish(done)
    return CopyResult(size=done, sha256=digest.hexdigest(), rows=counter.data_rows)
