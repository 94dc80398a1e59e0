"""A fake ibl.ai API server and pytest fixtures, for testing DAGs that use this provider offline."""

from __future__ import annotations

from typing import Any

__all__ = ["FakeIblaiServer", "HttpError", "RecordedRequest"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m iblai_provider.testing.server` does not import the module twice.
    if name in __all__:
        from iblai_provider.testing import server

        return getattr(server, name)
    raise AttributeError(name)
