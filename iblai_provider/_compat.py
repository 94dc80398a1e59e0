"""The one place for imports that differ between Airflow 2 and Airflow 3.

Everything else in the provider imports these names from here, so supporting Airflow 2.11
later means adding ``else`` branches in this file only.
"""

from __future__ import annotations

from typing import Any

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V_3 = int(AIRFLOW_VERSION.split(".", 1)[0]) >= 3

if AIRFLOW_V_3:
    from airflow.sdk import (
        Asset,
        BaseHook,
        BaseOperator,
        BaseSensorOperator,
        Context,
        ObjectStoragePath,
        PokeReturnValue,
        conf,
    )
    from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, AirflowTaskTimeout, TaskDeferred
    from airflow.sdk.log import amask_secret, mask_secret
else:  # pragma: no cover - Airflow 2.11 support is a later step; these are its spellings
    from airflow.configuration import conf  # type: ignore[no-redef]
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef]
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowSensorTimeout,
        AirflowTaskTimeout,
        TaskDeferred,
    )
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef]
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue  # type: ignore[no-redef]
    from airflow.utils.context import Context  # type: ignore[no-redef]
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]

    async def amask_secret(secret, name=None):  # type: ignore[no-redef]
        mask_secret(secret, name)


def __getattr__(name: str) -> Any:
    # Airflow's trigger base builds pydantic models on import (~11 ms): loaded only by the trigger
    # modules, so parsing a DAG that uses the operators and sensors does not pay for it.
    if name in ("BaseTrigger", "TriggerEvent"):
        from airflow.triggers import base  # same module in Airflow 2 and 3

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def aget_connection(conn_id: str):  # noqa: ANN201 - the Connection class differs by version
    """Look a connection up without blocking the event loop (Airflow 3's async access)."""
    if AIRFLOW_V_3:
        return await BaseHook.aget_connection(conn_id)
    from asgiref.sync import sync_to_async  # pragma: no cover - Airflow 2 path

    return await sync_to_async(BaseHook.get_connection)(conn_id)  # pragma: no cover


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: what ``deferrable`` defaults to, as in official providers."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


__all__ = [
    "AIRFLOW_V_3",
    "AirflowException",
    "AirflowSensorTimeout",
    "AirflowTaskTimeout",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "Context",
    "ObjectStoragePath",
    "PokeReturnValue",
    "TaskDeferred",
    "aget_connection",
    "amask_secret",
    "conf",
    "default_deferrable",
    "mask_secret",
]
