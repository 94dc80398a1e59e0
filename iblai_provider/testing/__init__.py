"""A fake ibl.ai API server and pytest fixtures, for testing DAGs that use this provider offline."""

from iblai_provider.testing.server import FakeIblaiServer, HttpError, RecordedRequest

__all__ = ["FakeIblaiServer", "HttpError", "RecordedRequest"]
