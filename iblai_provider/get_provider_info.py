"""Provider metadata for Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Airflow 3.2+ reads ``connection-types`` (with ``conn-fields`` and ``ui-field-behaviour``) from
here without importing the hook; older versions call the hook's classmethods instead.
"""

from __future__ import annotations

from typing import Any

from iblai_provider import __version__

INTEGRATION = "ibl.ai"
MODULES = {
    "hooks": ["iblai_provider.hooks.iblai"],
    "operators": [
        "iblai_provider.operators.reports",
        "iblai_provider.operators.periodic_agents",
        "iblai_provider.operators.analytics",
    ],
    "sensors": ["iblai_provider.sensors.reports", "iblai_provider.sensors.periodic_agents"],
    "triggers": ["iblai_provider.triggers.reports", "iblai_provider.triggers.periodic_agents"],
}
TRANSFERS = ["iblai_provider.transfers.report_to_object_storage"]


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-iblai",
        "name": "ibl.ai",
        "description": "Apache Airflow provider for the ibl.ai platform: data reports, periodic agents, analytics.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://ibl.ai",
                "tags": ["service"],
            }
        ],
        **{
            kind: [{"integration-name": INTEGRATION, "python-modules": mods}]
            for kind, mods in MODULES.items()
        },
        "transfers": [
            {"source-integration-name": INTEGRATION, "target-integration-name": "Common IO", "python-module": module}
            for module in TRANSFERS
        ],
        "connection-types": [
            {
                "hook-class-name": "iblai_provider.hooks.iblai.IblaiHook",
                "connection-type": "iblai",
                "hook-name": "ibl.ai",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "Data Manager URL", "login": "Username", "password": "API key"},
                    "placeholders": {
                        "host": "https://api.iblai.app/dm",
                        "login": "the username your key belongs to",
                        "password": "64-character Platform API key",
                        "extra": '{"org": "your-platform-key"}',
                    },
                },
                "conn-fields": {
                    "org": {
                        "label": "Org (platform key)",
                        "schema": {"type": ["string", "null"]},
                        "description": "The ibl.ai platform key, e.g. acme.",
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                        "description": "Retries after the first attempt on 429/5xx/network errors (default 5).",
                    },
                    "backoff_initial": {
                        "label": "First backoff (s)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "First retry wait; doubles with jitter up to backoff_max (default 1).",
                    },
                    "backoff_max": {
                        "label": "Max backoff (s)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Longest wait between retries (default 30).",
                    },
                    "retry_after_max": {
                        "label": "Max Retry-After (s)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Longest server-requested Retry-After honoured (default 120).",
                    },
                    "connect_timeout": {
                        "label": "Connect timeout (s)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Seconds to wait for a connection (default 10).",
                    },
                    "read_timeout": {
                        "label": "Read timeout (s)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Seconds to wait for an answer (default 60).",
                    },
                },
            }
        ],
    }
