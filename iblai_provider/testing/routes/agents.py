"""Fake Periodic Agents (API doc §3) under ``/api/ai-mentor/orgs/{org}/users/{username}/``.

Routes: ``periodic-agents/`` (list, create 201), ``periodic-agents/{id}/`` (get, PUT, PATCH,
DELETE 204), ``periodic-agents/statistics/``, ``periodic-agent-logs/`` and
``periodic-agent-logs/{id}/``. Lists are DRF page-number pages (default page size 10, max 100).
Unknown query parameters are answered with 400, stricter than DRF, so client typos show up.

Seeded mentors (``unique_id``): ``d17dc729-60fd-4363-81a0-f67d9318b03e`` (Campus Guide),
``5b0c1f7e-2a44-4d8e-9a61-3c2f7e8d9b10`` (Course Assistant), ``9e3a7c52-81b4-4f0a-b7d2-6a1e5c4f3d28``
(Career Coach); one seeded agent, "Weekly onboarding check", with one successful run.

Runs are simulated as described in :mod:`iblai_provider.testing.agent_store`: a prompt containing
``[fail]`` makes a run end in ``error``. Test controls: ``server.run_agent_now(agent_id)`` (returns
the new ``running`` log), ``server.state["agents"]`` (the :class:`AgentStore`), and without auth
``POST /_fake/periodic-agents/{id}/run`` and ``GET /_fake/periodic-agents/callbacks``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from iblai_provider.testing.agent_fields import (
    AGENT_ORDERING,
    AGENT_QUERY,
    LOG_ORDERING,
    LOG_QUERY,
    check_list_query,
    clean_agent_body,
    iso,
    order_items,
    page_of,
    parse_datetime,
)
from iblai_provider.testing.agent_store import AgentStore
from iblai_provider.testing.http import Request, Response
from iblai_provider.testing.server import HttpError

NOT_FOUND = {"detail": "Not found."}


def _body(request: Request) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, {"detail": f"JSON parse error - {exc}"}) from None


def _search(text: str | None, *values: Any) -> bool:
    return not text or any(text.lower() in str(v or "").lower() for v in values)


def register(server: Any) -> None:
    store = AgentStore(server)
    server.state["agents"] = store
    base = r"/api/ai-mentor/orgs/(?P<org>[^/]+)/users/(?P<user>[^/]+)/"

    def check_scope(request: Request) -> None:
        if request.params["org"] != server.org or request.params["user"] != server.username:
            raise HttpError(403, {"detail": "You do not have permission to perform this action."})

    def get_agent(request: Request) -> dict[str, Any]:
        check_scope(request)
        agent = store.agents.get(int(request.params["id"]))
        if agent is None:
            raise HttpError(404, NOT_FOUND)
        return agent

    def self_url(request: Request) -> str:
        return server.root_url + request.path

    def agent_matches(agent: dict[str, Any], request: Request) -> bool:
        q = request.arg
        checks = (
            q("enabled") is None or agent["task"]["enabled"] == (q("enabled").lower() in ("true", "1")),
            q("mentor_id") is None or agent["mentor"] == q("mentor_id"),
            q("title") is None or agent["title"] == q("title"),
            q("username") is None or agent["username"] == q("username"),
            q("previous_agent") is None or agent["previous_agent"] == int(q("previous_agent")),
            q("previous_agent_status") is None or agent["previous_agent_status"] == q("previous_agent_status"),
            q("parent_mentor_id") is None or agent["parent_mentor_id"] == int(q("parent_mentor_id")),
            q("parent_session_id") is None or agent["parent_session_id"] == q("parent_session_id"),
            q("status") is None or store.run_status(agent["id"]) == q("status"),
            q("start_date") is None or agent["created_at"] >= parse_datetime(q("start_date")),
            q("end_date") is None or agent["created_at"] < _end_of(q("end_date")),
            _search(q("search"), agent["title"], agent["description"], agent["prompt"]),
        )
        return all(checks)

    def listing(request: Request, query: Any, ordering: Any, rows: Any, matches: Any, shown: Any) -> Response:
        """One DRF page of ``rows`` that match the request's filters, in its ordering."""
        check_scope(request)
        check_list_query(request.query, query, ordering)
        with store.lock:
            items = order_items([r for r in rows.values() if matches(r, request)], request.arg("ordering") or "-created_at")
            page = page_of(items, request.query, self_url(request))
            page["results"] = [shown(r) for r in page["results"]]
        return Response.json(page)

    @server.route("GET", base + r"periodic-agents/")
    def list_agents(request: Request) -> Response:
        return listing(request, AGENT_QUERY, AGENT_ORDERING, store.agents, agent_matches, store.read_repr)

    @server.route("POST", base + r"periodic-agents/")
    def create_agent(request: Request) -> Response:
        check_scope(request)
        clean = clean_agent_body(_body(request), partial=False, mentors=store.mentors, agents=store.agents)
        return Response.json(store.create_repr(store.create(clean)), status=201)

    @server.route("GET", base + r"periodic-agents/statistics/")
    def statistics(request: Request) -> Response:
        check_scope(request)
        check_list_query(request.query, {"mentor_id"}, set())
        mentor = request.arg("mentor_id")
        with store.lock:
            statuses = [store.run_status(a["id"]) for a in store.agents.values() if mentor in (None, a["mentor"])]
        return Response.json({
            "total_tasks": len(statuses),
            "succeeded_tasks": statuses.count("success"),
            "failed_tasks": statuses.count("error"),
            "running_tasks": statuses.count("running"),
            "pending_tasks": statuses.count("pending"),
        })

    @server.route("GET", base + r"periodic-agents/(?P<id>\d+)/")
    def get_one(request: Request) -> Response:
        return Response.json(store.read_repr(get_agent(request)))

    def update(request: Request, partial: bool) -> Response:
        agent = get_agent(request)
        clean = clean_agent_body(_body(request), partial=partial, mentors=store.mentors,
                                 agents={k: v for k, v in store.agents.items() if k != agent["id"]})
        return Response.json(store.create_repr(store.update(agent, clean, partial=partial)))

    @server.route("PUT", base + r"periodic-agents/(?P<id>\d+)/")
    def put_agent(request: Request) -> Response:
        return update(request, partial=False)

    @server.route("PATCH", base + r"periodic-agents/(?P<id>\d+)/")
    def patch_agent(request: Request) -> Response:
        return update(request, partial=True)

    @server.route("DELETE", base + r"periodic-agents/(?P<id>\d+)/")
    def delete_agent(request: Request) -> Response:
        store.delete(get_agent(request)["id"])
        return Response.empty(204)

    def log_matches(log: dict[str, Any], request: Request) -> bool:
        q = request.arg
        agent = store.agents.get(log["periodic_agent"], {})
        checks = (
            q("periodic_agent") is None or log["periodic_agent"] == int(q("periodic_agent")),
            q("status") is None or log["status"] == q("status"),
            q("mentor_id") is None or agent.get("mentor") == q("mentor_id"),
            q("parent_mentor_id") is None or agent.get("parent_mentor_id") == int(q("parent_mentor_id")),
            q("parent_session_id") is None or agent.get("parent_session_id") == q("parent_session_id"),
            q("username") is None or agent.get("username") == q("username"),
            _search(q("search"), log["content"], agent.get("title")),
        )
        return all(checks)

    def log_repr(log: dict[str, Any]) -> dict[str, Any]:
        return {k: iso(v) if k.endswith(("_time", "_at")) else v for k, v in log.items()}

    @server.route("GET", base + r"periodic-agent-logs/")
    def list_logs(request: Request) -> Response:
        return listing(request, LOG_QUERY, LOG_ORDERING, store.logs, log_matches, log_repr)

    @server.route("GET", base + r"periodic-agent-logs/(?P<id>\d+)/")
    def get_log(request: Request) -> Response:
        check_scope(request)
        log = store.logs.get(int(request.params["id"]))
        if log is None:
            raise HttpError(404, NOT_FOUND)
        return Response.json(log_repr(log))

    # -- test controls -------------------------------------------------------------------------

    def run_agent_now(agent_id: int) -> dict[str, Any]:
        """Start a run of any agent now; returns the new ``running`` log (KeyError if unknown)."""
        return log_repr(store.start_run(agent_id))

    server.run_agent_now = run_agent_now

    @server.route("POST", r"/_fake/periodic-agents/(?P<id>\d+)/run", auth=False)
    def control_run(request: Request) -> Response:
        if int(request.params["id"]) not in store.agents:
            raise HttpError(404, NOT_FOUND)
        return Response.json(run_agent_now(int(request.params["id"])), status=201)

    @server.route("GET", r"/_fake/periodic-agents/callbacks", auth=False)
    def control_callbacks(request: Request) -> Response:
        return Response.json(list(store.callbacks))


def _end_of(value: str | None) -> Any:
    """``end_date`` is inclusive: a bare date covers that whole day."""
    moment = parse_datetime(value)
    if value and len(value.strip()) == 10:
        return moment + timedelta(days=1)
    return moment
