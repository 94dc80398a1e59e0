"""Deterministic report CSV content for the fake server, streamed from a template block.

Row ``i`` is a pure function of ``i``, so tests can rebuild the exact bytes a report holds, and a
multi-GiB body streams at memory speed: rows come in blocks of 10,000 whose only difference is
the block number, patched into a prebuilt template with one ``bytes.replace``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import lru_cache

COLUMNS = ("row_id", "session_id", "username", "email", "sentiment", "topic", "message", "response", "created_at")
HEADER = (",".join(COLUMNS) + "\n").encode()
BLOCK_ROWS = 10_000  # a power of ten, so a row id is "<block><offset>" in decimal
_MARK = b"@@@@@@"  # six-digit block number placeholder: up to 10**10 rows
_SENTIMENTS = ("positive", "neutral", "negative")
_TOPICS = ("algebra", "biology", "careers", "chemistry", "history", "physics", "writing")


def _row(block: bytes, j: int) -> bytes:
    topic = _TOPICS[j % len(_TOPICS)]
    seconds = j % 86400
    hh, mm, ss = seconds // 3600, seconds // 60 % 60, seconds % 60
    return b"".join(
        (
            block, b"%04d," % j,
            b"00000000-0000-4000-8000-00", block, b"%04d," % j,
            b"user%04d,user%04d@example.com," % (j % 1000, j % 1000),
            _SENTIMENTS[j % 3].encode(), b",", topic.encode(), b",",
            b"How do I get started with ", topic.encode(), b" lesson %d?," % (j % 50),
            b"Start with the overview of ", topic.encode(), b" and practise daily.,",
            b"2026-06-01T%02d:%02d:%02dZ\n" % (hh, mm, ss),
        )
    )


@lru_cache(maxsize=1)
def _template() -> tuple[bytes, tuple[int, ...]]:
    """The block template and the cumulative byte offset of each row start within it."""
    rows = [_row(_MARK, j) for j in range(BLOCK_ROWS)]
    offsets = [0]
    for row in rows:
        offsets.append(offsets[-1] + len(row))
    return b"".join(rows), tuple(offsets)


def csv_size(rows: int) -> int:
    """Exact byte size of a report with ``rows`` data lines (header included)."""
    template, offsets = _template()
    full, rest = divmod(rows, BLOCK_ROWS)
    return len(HEADER) + full * len(template) + offsets[rest]


def rows_for_bytes(size: int) -> int:
    """The number of rows whose CSV is closest to, but not over, ``size`` bytes."""
    template, offsets = _template()
    body = max(size - len(HEADER), 0)
    full, rest = divmod(body, len(template))
    partial = max(j for j in range(BLOCK_ROWS + 1) if offsets[j] <= rest)
    return full * BLOCK_ROWS + partial


def iter_csv(rows: int) -> Iterator[bytes]:
    """Yield the report CSV (header, then ``rows`` lines) in chunks of about 1 MiB."""
    template, offsets = _template()
    yield HEADER
    full, rest = divmod(rows, BLOCK_ROWS)
    for block in range(full):
        yield template.replace(_MARK, b"%06d" % block)
    if rest:
        yield template[: offsets[rest]].replace(_MARK, b"%06d" % full)


def csv_bytes(rows: int) -> bytes:
    """The whole CSV in memory: for tests with small reports."""
    return b"".join(iter_csv(rows))


def csv_sha256(rows: int) -> str:
    digest = hashlib.sha256()
    for chunk in iter_csv(rows):
        digest.update(chunk)
    return digest.hexdigest()


def row_values(line: bytes) -> list[str]:
    """Split one generated data line into its column values (no field contains a comma)."""
    return line.decode().rstrip("\n").split(",")
