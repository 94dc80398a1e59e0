"""Query-string validation for the fake server's analytics and report routes (400 on anything else)."""

from __future__ import annotations

from iblai_provider.endpoints import ENDPOINTS, query_errors
from iblai_provider.testing.server import HttpError


def check_query(key: str, query: dict[str, list[str]]) -> None:
    """Answer 400 with DRF-style field errors unless ``query`` fits endpoint ``key`` exactly."""
    errors = query_errors(ENDPOINTS[key], query)
    if errors:
        raise HttpError(400, errors)
