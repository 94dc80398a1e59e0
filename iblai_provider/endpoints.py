"""The catalogue of ibl.ai analytics and report endpoints: paths, parameters, pagination.

Transcribed from the Data Manager OpenAPI 4.294.1 (analytics and reports paths); a contract test
checks it against that snapshot. Operators validate against it before any request, and the fake
server answers 400 to anything it does not allow, so both sides share one definition.
Keys are the path below ``/api/analytics/`` as the API reference spells it; report routes are
``reports/<operation>``. Pure Python: no Airflow import.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

DATE_FILTERS = ("today", "7d", "30d", "90d", "all_time", "custom")
GRANULARITIES = ("day", "hour", "week", "month")
CONTENT_METRICS = ("course", "courses", "program", "programs", "pathway", "pathways", "skill", "skills")
DATE_RX = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


class Param(NamedTuple):
    """One query parameter. ``type`` is ``string``, ``integer``, ``boolean``, ``date`` or ``integer[]``."""

    name: str
    type: str = "string"
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None


class Endpoint(NamedTuple):
    """One API operation.

    :param pagination: ``analytics`` (page/limit, ``pagination`` object), ``financial``
        (page/limit, flat ``total_pages``), ``limit_offset`` (DRF ``count``/``next``), or None
        (a single object).
    :param items_key: where the records of one page are.
    """

    key: str
    method: str
    path: str
    params: tuple[Param, ...] = ()
    path_params: tuple[str, ...] = ()
    pagination: str | None = None
    items_key: str | None = None

    @property
    def by_name(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)


P = Param
DATE_FILTER = P("date_filter", enum=DATE_FILTERS, default="today")
START, END = P("start_date", "date"), P("end_date", "date")
GRANULARITY = P("granularity", enum=GRANULARITIES, default="hour")
MENTOR = P("mentor_unique_id")
PLATFORM = P("platform_key")
GROUPS = P("usergroup_ids", "integer[]")
PAGE = P("page", "integer", minimum=1, default=1)
SEARCH = P("search")


def LIMIT(maximum: int = 100, default: int = 20) -> Param:  # noqa: N802 - reads like the constants
    return P("limit", "integer", minimum=1, maximum=maximum, default=default)


# The scope every chart endpoint shares: agent or platform, date window, user groups.
SCOPE = (DATE_FILTER, START, END, MENTOR, PLATFORM, GROUPS)
CHART = (*SCOPE, GRANULARITY)
A = "/api/analytics/"
R = "/api/reports/platforms/{key}/"

_ENDPOINTS = (
    # overview
    Endpoint("topics/", "GET", A + "topics/", (*CHART, P("metric", enum=("overview", "sessions", "ratings", "highlighted"), default="overview"))),
    Endpoint("topics/details/", "GET", A + "topics/details/", (*SCOPE, PAGE, LIMIT(), SEARCH), pagination="analytics", items_key="results"),
    Endpoint("sessions/", "GET", A + "sessions/", (*CHART, P("metric", enum=("sessions", "headline"), default="sessions"))),
    Endpoint("conversations/", "GET", A + "conversations/", (*CHART, P("metric", enum=("conversations", "headline"), default="conversations"))),
    Endpoint("ratings/", "GET", A + "ratings/", (*CHART, P("metric", enum=("ratings",), default="ratings"))),
    # users
    Endpoint("users/", "GET", A + "users/", (*CHART, P("metric", required=True, enum=("currently_active", "active_users", "registered_users", "active_users_last_30d")))),
    Endpoint("users/details/", "GET", A + "users/details/", (*SCOPE, PAGE, LIMIT(), SEARCH), pagination="analytics", items_key="results"),
    Endpoint("time/", "GET", A + "time/", CHART),
    Endpoint(
        "time-spent/user/", "GET", A + "time-spent/user/",
        (START, END, PLATFORM, P("username"), P("course_id"), P("mentor_uuid"), P("session_uuid"), P("url"),
         P("include_main_platform", "boolean", default=True)),
    ),
    # transcripts
    Endpoint(
        "messages/", "GET", A + "messages/",
        (START, END, MENTOR, PLATFORM, GROUPS, PAGE, LIMIT(), SEARCH, P("topic"),
         P("sentiment", enum=("positive", "negative", "neutral")),
         P("min_messages", "integer", minimum=0), P("max_messages", "integer", minimum=0)),
        pagination="analytics", items_key="results",
    ),
    Endpoint("messages/details/", "GET", A + "messages/details/", (START, END, MENTOR, PLATFORM, GROUPS, P("session_id", required=True))),
    # costs
    Endpoint(
        "financial/", "GET", A + "financial/",
        (*SCOPE, P("metric", required=True, enum=("total_costs", "weekly_costs", "monthly_costs")),
         P("granularity", enum=("day", "week", "month"), default="day"), P("comparison_days", "integer", minimum=1),
         P("fill_method", enum=("zero", "previous"), default="zero"), P("show_overtime", "boolean", default=True),
         P("provider", enum=("openai", "anthropic", "azure", "google", "meta", "other")), P("llm_model"), P("username")),
    ),
    Endpoint(
        "financial/details/", "GET", A + "financial/details/",
        (*SCOPE, P("group_by", required=True, enum=("provider", "llm_model", "username", "mentor", "platform", "action")),
         P("metrics", default="total_cost"), PAGE, LIMIT(), SEARCH, P("provider"), P("llm_model"), P("username")),
        pagination="financial", items_key="rows",
    ),
    Endpoint(
        "financial/invoice/", "GET", A + "financial/invoice/",
        (START, END, PLATFORM, GROUPS, P("username"), P("include_breakdown", "boolean", default=True)),
    ),
    # content
    Endpoint(
        "content/", "GET", A + "content/",
        (*CHART, P("metric", required=True, enum=CONTENT_METRICS), P("include_overtime", "boolean", default=False), PAGE, LIMIT()),
        pagination="analytics", items_key="results",
    ),
    Endpoint(
        "content/details/{content_id}/", "GET", A + "content/details/{content_id}/",
        (*SCOPE, P("metric", required=True, enum=CONTENT_METRICS), PAGE, LIMIT(30, 10), SEARCH, P("time_metric")),
        path_params=("content_id",), pagination="analytics", items_key="results",
    ),
    # learners
    Endpoint(
        "learners/", "GET", A + "learners/",
        (*CHART, P("username"), PAGE, LIMIT(), P("overtime", "boolean", default=False)),
        pagination="analytics", items_key="results",
    ),
    Endpoint(
        "learners/list/", "GET", A + "learners/list/",
        (DATE_FILTER, START, END, GRANULARITY, MENTOR, GROUPS, P("platform_key", required=True), PAGE, LIMIT(), SEARCH,
         P("sort_by", enum=("username", "name", "last_activity", "total_points", "total_time_spent_seconds",
                            "total_enrollments", "total_skills_count"), default="last_activity"),
         P("sort_order", enum=("asc", "desc"), default="desc")),
        pagination="analytics", items_key="learners",
    ),
    Endpoint(
        "learner/details", "GET", A + "learner/details",
        (*CHART, P("username", required=True), P("metrics"), P("course_id"), P("program_id"), P("pathway_id"),
         P("include_edx_progress", "boolean", default=True), P("overtime", "boolean", default=False)),
    ),
    # client-side time tracking: a write, listed for completeness, not an analytics read
    Endpoint("orgs/{org}/time/update/", "POST", A + "orgs/{org}/time/update/", path_params=("org",)),
    # mentor audit logs (API doc §5; not in the analytics/reports OpenAPI snapshot: SDK 4.205 docs)
    Endpoint(
        "mentors/audit-logs/", "GET", "/api/ai-mentor/orgs/{org}/users/{username}/mentors/audit-logs/",
        (P("mentor"), P("action", "integer", enum=("0", "1", "2")), P("actor_email"), P("actor_username"),
         P("from_date", "date"), P("to_date", "date"), P("limit", "integer", minimum=1, default=20),
         P("offset", "integer", minimum=0, default=0)),
        path_params=("org", "username"), pagination="limit_offset", items_key="results",
    ),
    # data reports
    Endpoint("reports/list", "GET", R, (P("mentor_id", "integer", minimum=1),), path_params=("key",)),
    Endpoint("reports/new", "POST", R + "new", path_params=("key",)),
    Endpoint("reports/detail", "GET", R + "{report_name}", (MENTOR,), path_params=("key", "report_name")),
    Endpoint(
        "reports/download", "GET", R + "{task_id}/download",
        (P("columns"), P("format", enum=("csv", "json"), default="csv")), path_params=("key", "task_id"),
    ),
)

ENDPOINTS: dict[str, Endpoint] = {e.key: e for e in _ENDPOINTS}
ANALYTICS_READS: dict[str, Endpoint] = {
    k: e for k, e in ENDPOINTS.items() if e.path.startswith(A) and e.method == "GET"
}


def check_value(param: Param, value: str) -> str | None:
    """Why ``value`` (as it travels in a query string) is not acceptable for ``param``, or None."""
    if param.enum is not None and value not in param.enum:
        return f"must be one of {', '.join(param.enum)}; got {value!r}"
    if param.type == "date" and not DATE_RX.match(value):
        return f"must be a date YYYY-MM-DD; got {value!r}"
    if param.type == "boolean" and value.lower() not in ("true", "false", "1", "0"):
        return f"must be true or false; got {value!r}"
    if param.type in ("integer", "integer[]"):
        try:
            number = int(value)
        except ValueError:
            return f"must be an integer; got {value!r}"
        if param.minimum is not None and number < param.minimum:
            return f"must be >= {param.minimum}; got {number}"
        if param.maximum is not None and number > param.maximum:
            return f"must be <= {param.maximum}; got {number}"
    return None


def query_errors(endpoint: Endpoint, query: dict[str, list[str]]) -> dict[str, list[str]]:
    """Every problem with a query string against the catalogue: unknown, missing, bad values."""
    errors: dict[str, list[str]] = {}
    for name, values in query.items():
        param = endpoint.by_name.get(name)
        if param is None:
            errors[name] = [f"Unknown parameter. Allowed: {', '.join(sorted(endpoint.by_name)) or 'none'}."]
            continue
        if len(values) > 1 and param.type != "integer[]":
            errors[name] = ["Expected a single value."]
            continue
        problems = [p for p in (check_value(param, v) for v in values) if p]
        if problems:
            errors[name] = problems
    for name in endpoint.required:
        if not query.get(name):
            errors[name] = ["This field is required."]
    return errors
