"""Fake ibl.ai analytics routes (API doc §4, §8): every GET of the endpoint catalogue.

Each route checks its query against the catalogue (exactly the OpenAPI snapshot's params, 400
otherwise), refuses another org's ``platform_key`` (403), and answers from the seeded data in
:mod:`iblai_provider.testing.analytics_data`. ``conversations`` is served with and without its
trailing slash, as the web UI calls it without.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from iblai_provider.endpoints import ANALYTICS_READS
from iblai_provider.testing import analytics_finance, analytics_learning, analytics_views
from iblai_provider.testing.analytics_scope import Ctx, context
from iblai_provider.testing.http import Request, Response

VIEWS: dict[str, Callable[[Ctx], Any]] = {
    "topics/": analytics_views.topics,
    "topics/details/": analytics_views.topic_details,
    "sessions/": analytics_views.sessions,
    "conversations/": lambda ctx: analytics_views.sessions(ctx, "conversations"),
    "ratings/": analytics_views.ratings,
    "users/": analytics_views.users,
    "users/details/": analytics_views.user_details,
    "time/": analytics_views.access_times,
    "time-spent/user/": analytics_views.time_spent_user,
    "messages/": analytics_views.messages,
    "messages/details/": analytics_views.message_details,
    "financial/": analytics_finance.financial,
    "financial/details/": analytics_finance.financial_details,
    "financial/invoice/": analytics_finance.invoice,
    "content/": analytics_learning.content,
    "content/details/{content_id}/": analytics_learning.content_details,
    "learners/": analytics_learning.learners,
    "learners/list/": analytics_learning.learner_list,
    "learner/details": analytics_learning.learner_details,
}
# Paths the API also answers without their trailing slash.
SLASH_OPTIONAL = frozenset({"conversations/"})


def _pattern(path: str, key: str) -> str:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    if key in SLASH_OPTIONAL:
        pattern = pattern.rstrip("/") + "/?"
    return pattern


def register(server: Any) -> None:
    """Register one GET route per catalogue analytics read."""
    missing = sorted(set(ANALYTICS_READS) - set(VIEWS))
    if missing:  # the catalogue grew: the fake must serve every read it lists
        raise RuntimeError(f"fake analytics server has no view for {missing}")
    for key, endpoint in ANALYTICS_READS.items():
        server.route("GET", _pattern(endpoint.path, key))(_handler(key, VIEWS[key], server))


def _handler(key: str, view: Callable[[Ctx], Any], server: Any) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        return Response.json(view(context(key, request, server)))

    handle.__name__ = "analytics_" + re.sub(r"\W+", "_", key).strip("_")
    return handle
