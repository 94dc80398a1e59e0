"""Records to XCom or to object storage: exact JSON, size-capped XCom, atomic streaming writes.

Numbers parsed as :class:`~decimal.Decimal` are written back with their exact digits (never via
float). :func:`write_records` streams through the provider's all-or-nothing writer
(:mod:`iblai_provider.utils.atomic_write`): a failure leaves nothing at the destination and an
earlier object there untouched.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import IO, Any

from iblai_provider._compat import AirflowException, ObjectStoragePath
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.utils.atomic_write import atomic_write, object_path, object_uri

log = logging.getLogger(__name__)
FORMATS = ("jsonl", "csv")
DEFAULT_MAX_XCOM_BYTES = 1024 * 1024


def to_json(value: Any) -> str:
    """Compact JSON; Decimals keep their exact digits as JSON numbers."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write non-finite number {value} as JSON")
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def plain(value: Any) -> Any:
    """``value`` with every Decimal as its exact string: Airflow's XCom serialiser would turn
    Decimals into floats, so decimals reach XCom as strings (files keep exact JSON numbers)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return to_json(value)
    return str(value)


def collect_for_xcom(records: Iterable[Any], max_bytes: int, *, single: bool = False) -> Any:
    """All records as one XCom value (a list, or the one body when ``single``), failing past ``max_bytes``."""
    out: list[Any] = []
    size = 2
    for record in records:
        size += len(to_json(record).encode()) + 1
        if size > max_bytes:
            raise AirflowException(
                f"result exceeds max_xcom_bytes={max_bytes} (more than {len(out)} records); XCom is for small "
                "results: set dest (and dest_conn_id) to stream the records into object storage instead"
            )
        out.append(plain(record))
    if single:
        return out[0] if out else None
    return out


def dest_path(dest: Any, conn_id: str | None) -> ObjectStoragePath:
    """``dest`` as an :class:`ObjectStoragePath` (a URI such as ``file:///...`` or ``s3://bucket/key``)."""
    return object_path(dest, conn_id)


class _CsvWriter:
    """CSV with the first record's keys as header; later records may omit keys but not add any."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.buffer = io.StringIO()
        self.writer: csv.DictWriter | None = None

    def write(self, record: Any, number: int) -> None:
        row = record if isinstance(record, dict) else {"value": record}
        if self.writer is None:
            self.writer = csv.DictWriter(self.buffer, fieldnames=list(row), lineterminator="\n")
            self.writer.writeheader()
        extra = [k for k in row if k not in self.writer.fieldnames]
        if extra:
            raise AirflowException(
                f"record {number} has fields {extra} that the CSV header (from record 1) lacks; "
                "use output_format='jsonl'"
            )
        self.writer.writerow({k: _cell(v) for k, v in row.items()})
        self.out.write(self.buffer.getvalue().encode())
        self.buffer.seek(0)
        self.buffer.truncate()


def write_records(
    records: Iterable[Any], dest: ObjectStoragePath, output_format: str = "jsonl", *, overwrite: bool = True
) -> dict[str, Any]:
    """Stream ``records`` into ``dest`` all-or-nothing (:func:`~.atomic_write.atomic_write`);
    return ``{"uri", "records"}``. Nothing is buffered here beyond one record.
    """
    if output_format not in FORMATS:
        raise IblaiConfigError(f"output_format must be one of {', '.join(FORMATS)}; got {output_format!r}")
    count = 0
    with atomic_write(dest, overwrite=overwrite) as out:
        csv_writer = _CsvWriter(out) if output_format == "csv" else None
        for record in records:
            count += 1
            if csv_writer is not None:
                csv_writer.write(record, count)
            else:
                out.write(to_json(record).encode() + b"\n")
    uri = object_uri(dest)
    log.info("wrote %d records to %s", count, uri)
    return {"uri": uri, "records": count}
