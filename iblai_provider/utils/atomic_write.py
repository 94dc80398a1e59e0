"""All-or-nothing writes to any ``ObjectStoragePath`` (local files, S3, GCS, ...).

Usage::

    from iblai_provider.utils.atomic_write import atomic_write, object_path

    dest = object_path("s3://bucket/exports/2026-06-01.csv", conn_id="aws_default")
    with atomic_write(dest, overwrite=False) as out:
        for chunk in source:
            out.write(chunk)
        verify_or_raise()          # still inside: a failure here leaves nothing behind

How: the bytes go to a temporary sibling, ``<dest>.<random>.partial``, in the same directory or
bucket. Only when the ``with`` body finishes without an exception is the sibling closed
(on S3: the multipart upload completed) and moved onto ``dest`` -- ``os.rename`` locally, a
server-side copy on object stores, so readers see either the old object or the whole new one.
On any exception the upload is aborted, the sibling deleted, and ``dest`` (with any previous
object there) is left exactly as it was. A sibling rather than ``/tmp`` keeps the final move on
the same filesystem/bucket, where it is a rename or a server-side copy, never a re-upload.

Limits: a process killed mid-write leaves an incomplete S3 multipart upload (invisible; an
``AbortIncompleteMultipartUpload`` lifecycle rule reclaims it) or a local ``*.partial`` file, and
one killed between "close" and "move" a ``*.partial`` object (sweep that suffix). With ``overwrite=False`` the check runs
before writing and again just before the move; a writer racing in between those two instants
is not detected, since object stores offer no portable "rename unless exists".
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import urlsplit

from iblai_provider._compat import AirflowException, ObjectStoragePath
from iblai_provider.exceptions import IblaiConfigError

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"


class DestinationExistsError(AirflowException, FileExistsError):
    """The destination already holds an object and overwriting was not allowed."""


def check_object_url(dest: str, param: str = "dest") -> None:
    """Raise one clear :class:`IblaiConfigError` (a ``ValueError``) unless ``dest`` is an absolute URL (or path) naming an object.

    Accepts ``scheme://bucket/key`` URLs (``file:///abs/path.csv`` for local files) and absolute
    local paths. Relative paths are refused: a task's working directory is not a stable place.
    """
    example = "an object URL like s3://bucket/key.csv or file:///abs/path.csv"
    if not isinstance(dest, str) or not dest.strip():
        raise IblaiConfigError(f"{param} must be {example}; got {dest!r}")
    parts = urlsplit(dest)
    if not parts.scheme and not dest.startswith("/"):
        raise IblaiConfigError(f"{param} must be {example}; got the relative path {dest!r}")
    if dest.endswith("/") or not parts.path.strip("/"):
        raise IblaiConfigError(f"{param} must name an object (a file), not a folder or bucket; got {dest!r}")


def object_path(dest: str | ObjectStoragePath, conn_id: str | None = None, *, param: str = "dest") -> ObjectStoragePath:
    """``dest`` as an ``ObjectStoragePath`` (validated by :func:`check_object_url` when a string).

    :param conn_id: the storage connection; overrides one embedded in ``dest``.
    :param param: the parameter name to put in error messages.
    """
    if isinstance(dest, ObjectStoragePath):
        return ObjectStoragePath(dest, conn_id=conn_id) if conn_id else dest
    check_object_url(dest, param)
    return ObjectStoragePath(dest, conn_id=conn_id)


def object_uri(path: ObjectStoragePath) -> str:
    """The plain URL of ``path`` (``s3://bucket/key``, ``file:///abs``): no connection id in it."""
    protocol = path.protocol or "file"
    if protocol in ("file", "local"):
        return "file://" + path.path
    return f"{protocol}://{path.path}"


def ensure_absent(dest: ObjectStoragePath) -> None:
    """Raise :class:`DestinationExistsError` if ``dest`` exists (a directory there always raises)."""
    fs = dest.fs
    fs.invalidate_cache(fs._parent(dest.path))  # a cached listing must not hide a fresh object
    if fs.exists(dest.path):
        kind = "a folder" if fs.isdir(dest.path) else "an object"
        raise DestinationExistsError(
            f"{object_uri(dest)} already exists ({kind}); nothing was written. Pass overwrite=True to replace it."
        )


def _is_local(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def _abandon(fs: Any, handle: Any, temp: str) -> None:
    """Throw the half-written sibling away without letting cleanup errors hide the real one."""
    from fsspec.spec import AbstractBufferedFile

    try:
        if isinstance(handle, AbstractBufferedFile):
            handle.discard()  # s3fs: abort the multipart upload; nothing becomes visible
            handle.closed = True  # closing would flush (= publish) the discarded buffer
        elif not handle.closed:
            handle.close()
    except Exception:
        log.warning("could not abort the upload of %s", temp, exc_info=True)
    try:
        if fs.exists(temp):
            fs.rm_file(temp)
    except Exception:
        log.warning("could not delete the temporary object %s; delete it by hand", temp, exc_info=True)


@contextmanager
def atomic_write(
    dest: ObjectStoragePath, *, overwrite: bool = False, block_size: int | None = None
) -> Iterator[IO[bytes]]:
    """Yield a binary file whose bytes land at ``dest`` only if the ``with`` body succeeds.

    :param dest: the object to write (see :func:`object_path`).
    :param overwrite: replace an existing object; if False an existing one raises
        :class:`DestinationExistsError` before anything is written, and is never touched.
    :param block_size: the backend's write buffer (S3 multipart part size); its default if None.
    """
    fs = dest.fs
    final = dest.path
    if fs.isdir(final):
        raise DestinationExistsError(f"{object_uri(dest)} is a folder; dest must name an object")
    if not overwrite:
        ensure_absent(dest)
    if _is_local(fs):  # object stores have no folders to create; local files do
        fs.makedirs(fs._parent(final), exist_ok=True)
    temp = f"{final}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}"
    options = {"block_size": block_size} if block_size else {}
    handle = fs.open(temp, "wb", **options)
    try:
        yield handle
        handle.close()  # publishes the sibling (completes the upload)
        if not overwrite:
            ensure_absent(dest)
        fs.mv(temp, final)
    except BaseException:
        _abandon(fs, handle, temp)
        raise
    log.debug("wrote %s atomically", object_uri(dest))
