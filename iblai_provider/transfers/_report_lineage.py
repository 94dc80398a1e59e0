"""OpenLineage facets of the report transfer, built only when the openlineage provider is installed.

Input: the ibl.ai report, namespace ``iblai://<api host>``, name ``<org>/reports/<report_name>``
(plus ``/<mentor_unique_id>`` for mentor reports). Output: the storage object, named as the
OpenLineage naming spec says (``s3://bucket`` + key; ``file`` + absolute path), with its row count
and size once the copy has finished.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from iblai_provider.utils.atomic_write import object_path

if TYPE_CHECKING:
    from iblai_provider.transfers.report_to_object_storage import IblaiReportToObjectStorageOperator

log = logging.getLogger(__name__)


def _input_names(operator: IblaiReportToObjectStorageOperator) -> tuple[str, str]:
    try:
        settings = operator.hook.settings
        namespace, org = f"iblai://{urlsplit(settings.base_url).netloc}", settings.org
    except Exception:  # lineage must never fail the task; the connection error surfaces in execute
        namespace, org = f"iblai://{operator.iblai_conn_id}", "unknown-org"
    name = f"{org}/reports/{operator.report_name}"
    return namespace, f"{name}/{operator.mentor_unique_id}" if operator.mentor_unique_id else name


def _output_names(operator: IblaiReportToObjectStorageOperator) -> tuple[str, str] | None:
    try:
        dest = object_path(operator.dest, operator.dest_conn_id or None)
    except ValueError:  # not rendered yet, or invalid: execute reports it
        return None
    protocol = dest.protocol or "file"
    if protocol in ("file", "local"):
        return "file", dest.path
    return f"{protocol}://{dest.bucket}", dest.key


def operator_lineage(operator: IblaiReportToObjectStorageOperator, result: dict[str, Any] | None) -> Any:
    """``OperatorLineage`` for the operator; None when the openlineage provider is absent."""
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    outputs = []
    names = _output_names(operator)
    if names is not None:
        if result is None:
            outputs.append(Dataset(namespace=names[0], name=names[1]))
        else:
            stats = OutputStatisticsOutputDatasetFacet(rowCount=result["rows"], size=result["bytes"])
            outputs.append(OutputDataset(namespace=names[0], name=names[1], outputFacets={"outputStatistics": stats}))
    namespace, name = _input_names(operator)
    return OperatorLineage(inputs=[Dataset(namespace=namespace, name=name)], outputs=outputs)
