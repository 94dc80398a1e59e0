"""State of the fake periodic agents (API doc §3): mentors, agents, run logs, simulated runs, callbacks.

Simulated runs
    * An enabled **one-off** agent runs when its ``task.start_time`` is reached, or at once when it
      is created or updated with no ``start_time`` or one in the past. Like django-celery-beat, it
      is disabled (``task.enabled = false``) when the run is dispatched, so it runs only once.
    * Recurring (crontab) agents do not fire on their own: start a run with
      ``server.run_agent_now(agent_id)`` or ``POST /_fake/periodic-agents/{id}/run`` (no auth).
    * A run creates a log with status ``running``; after ``server.agent_run_seconds`` it ends
      ``success``, or ``error`` when the agent's **prompt contains** ``[fail]`` (the deterministic
      error trigger). Agents whose ``previous_agent`` is the finished one (and whose
      ``previous_agent_status`` is unset or matches) then run, receiving its output.
    * When a run ends and the agent has a ``callback_url``, the documented JSON payload
      (``timestamp, status, prompt, agent_output, log, log_id``) is POSTed there, signed
      ``X-Hub-Signature-256: sha256=<HMAC-SHA256 hex of the raw body keyed by callback_secret>``
      (no header when the secret is empty). The POST runs in a worker thread, never on the
      server loop; each attempt is appended to ``store.callbacks``.

Everything that changes state runs on the server loop (handlers, timers); other threads only read
under ``store.lock`` or schedule work with ``server.call_later``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

from iblai_provider.testing.agent_fields import CRON_FIELDS, iso

FAIL_MARKER = "[fail]"
CALLBACK_TIMEOUT = 10.0
MENTOR_SEED = (
    ("d17dc729-60fd-4363-81a0-f67d9318b03e", "Campus Guide", "campus-guide"),
    ("5b0c1f7e-2a44-4d8e-9a61-3c2f7e8d9b10", "Course Assistant", "course-assistant"),
    ("9e3a7c52-81b4-4f0a-b7d2-6a1e5c4f3d28", "Career Coach", "career-coach"),
)
DEFAULT_MENTOR = MENTOR_SEED[0][0]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class AgentStore:
    """Agents and logs by integer id; mentors by ``unique_id``."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.lock = threading.RLock()
        self.mentors: dict[str, dict[str, Any]] = {
            uid: {"id": pk, "name": name, "unique_id": uid, "slug": slug, "platform": server.org,
                  "description": f"{name} (fake)", "metadata": {}}
            for pk, (uid, name, slug) in enumerate(MENTOR_SEED, start=1)
        }
        self.agents: dict[int, dict[str, Any]] = {}
        self.logs: dict[int, dict[str, Any]] = {}
        self.callbacks: list[dict[str, Any]] = []
        self._agent_ids = itertools.count(41)
        self._task_ids = itertools.count(977)
        self._log_ids = itertools.count(9001)
        self._seed()

    def _seed(self) -> None:
        """One recurring agent with one finished run, so lists and logs are never empty."""
        agent = self.create({
            "mentor": MENTOR_SEED[1][0], "title": "Weekly onboarding check",
            "prompt": "List learners who have not started their first course.",
            "task": {"crontab": {"minute": "30", "hour": "9", "day_of_week": "1"}, "enabled": True},
        }, schedule=False)
        log = self._new_log(agent)
        self._finish(log["id"])

    # -- agents ------------------------------------------------------------------------------

    def create(self, clean: dict[str, Any], *, schedule: bool = True) -> dict[str, Any]:
        now = _now()
        task_in = clean.get("task", {})
        agent_id = next(self._agent_ids)
        crontab = {name: "*" for name in CRON_FIELDS}
        crontab.update(task_in.get("crontab", {}))
        agent = {
            "id": agent_id, "mentor": clean["mentor"], "title": clean["title"], "username": self.server.username,
            "description": clean.get("description") or "", "prompt": clean.get("prompt") or "",
            "task": {"id": next(self._task_ids), "name": f"periodic-agent-{agent_id}", "crontab": crontab,
                     "one_off": task_in.get("one_off", False), "start_time": task_in.get("start_time"),
                     "enabled": task_in.get("enabled", True)},
            "created_at": now, "modified_at": now, "platform_key": self.server.org,
            "pathway": clean.get("pathway"), "callback_url": clean.get("callback_url"),
            "callback_secret": clean.get("callback_secret"), "parent_session_id": clean.get("parent_session_id"),
            "parent_mentor_id": clean.get("parent_mentor_id"), "previous_agent": clean.get("previous_agent"),
            "previous_agent_status": clean.get("previous_agent_status"), "previous_agent_output": "",
            "_generation": 0,
        }
        with self.lock:
            self.agents[agent_id] = agent
        if schedule:
            self._schedule(agent)
        return agent

    def update(self, agent: dict[str, Any], clean: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        with self.lock:
            task_in = clean.pop("task", None)
            if not partial:  # PUT: writable fields not sent fall back to their defaults
                for key in ("description", "prompt"):
                    agent[key] = ""
                for key in ("pathway", "callback_url", "callback_secret", "parent_session_id",
                            "parent_mentor_id", "previous_agent", "previous_agent_status"):
                    agent[key] = None
            agent.update(clean)
            if task_in is not None:
                task = agent["task"]
                if "crontab" in task_in:
                    base = dict(task["crontab"]) if partial else {name: "*" for name in CRON_FIELDS}
                    base.update(task_in["crontab"])
                    task["crontab"] = base
                for key in ("one_off", "start_time", "enabled"):
                    if key in task_in:
                        task[key] = task_in[key]
            agent["modified_at"] = _now()
        self._schedule(agent)
        return agent

    def delete(self, agent_id: int) -> None:
        with self.lock:
            self.agents.pop(agent_id, None)
            for log_id in [i for i, log in self.logs.items() if log["periodic_agent"] == agent_id]:
                del self.logs[log_id]  # logs cascade with their agent

    def latest_log(self, agent_id: int) -> dict[str, Any] | None:
        mine = [log for log in self.logs.values() if log["periodic_agent"] == agent_id]
        return max(mine, key=lambda log: (log["created_at"], log["id"])) if mine else None

    def run_status(self, agent_id: int) -> str:
        """``pending`` until the first log, then the latest log's status (used by filters and statistics)."""
        latest = self.latest_log(agent_id)
        return latest["status"] if latest else "pending"

    def create_repr(self, agent: dict[str, Any]) -> dict[str, Any]:
        """PeriodicAgentCreate: ``mentor`` is the unique_id; ``enabled``/``one_off`` mirror ``task``."""
        task = dict(agent["task"], crontab=dict(agent["task"]["crontab"]), start_time=iso(agent["task"]["start_time"]))
        data = {k: v for k, v in agent.items() if not k.startswith("_")}
        data.update(task=task, created_at=iso(agent["created_at"]), modified_at=iso(agent["modified_at"]),
                    enabled=task["enabled"], one_off=task["one_off"])
        return data

    def read_repr(self, agent: dict[str, Any]) -> dict[str, Any]:
        """PeriodicAgent (get/list): the same, with ``mentor`` as a nested Mentor object."""
        return dict(self.create_repr(agent), mentor=dict(self.mentors[agent["mentor"]]))

    # -- runs --------------------------------------------------------------------------------

    def _schedule(self, agent: dict[str, Any]) -> None:
        """(Re)arm the one-off timer; any change to the agent invalidates an earlier timer."""
        agent["_generation"] += 1
        task = agent["task"]
        if not (task["enabled"] and task["one_off"]):
            return
        start = task["start_time"]
        delay = max(0.0, (start - _now()).total_seconds()) if start else 0.0
        generation = agent["_generation"]
        self.server.call_later(delay, lambda: self._fire(agent["id"], generation))

    def _fire(self, agent_id: int, generation: int) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent["_generation"] != generation or not agent["task"]["enabled"]:
            return
        self.start_run(agent_id)

    def start_run(self, agent_id: int) -> dict[str, Any]:
        """Dispatch a run now: a ``running`` log, finished after ``server.agent_run_seconds``."""
        with self.lock:
            agent = self.agents[agent_id]
            if agent["task"]["one_off"]:
                agent["task"]["enabled"] = False
                agent["_generation"] += 1
            log = self._new_log(agent)
        self.server.call_later(max(0.0, float(self.server.agent_run_seconds)), lambda: self._finish(log["id"]))
        return log

    def _new_log(self, agent: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        log = {"id": next(self._log_ids), "content": "", "status": "running", "start_time": now, "end_time": None,
               "created_at": now, "modified_at": now, "periodic_agent": agent["id"]}
        with self.lock:
            self.logs[log["id"]] = log
        return log

    def _finish(self, log_id: int) -> None:
        with self.lock:
            log = self.logs.get(log_id)
            agent = self.agents.get(log["periodic_agent"]) if log else None
            if log is None or agent is None:
                return  # the agent was deleted mid-run
            failed = FAIL_MARKER in (agent["prompt"] or "")
            now = _now()
            log.update(status="error" if failed else "success", end_time=now, modified_at=now,
                       content=_run_output(agent, log_id, failed))
            followers = [a for a in self.agents.values()
                         if a["previous_agent"] == agent["id"] and a["task"]["enabled"]
                         and a["previous_agent_status"] in (None, log["status"])]
            for follower in followers:
                follower["previous_agent_output"] = log["content"]
        for follower in followers:
            self.start_run(follower["id"])
        if agent["callback_url"]:
            self._send_callback(agent, log)

    # -- callbacks ---------------------------------------------------------------------------

    def _send_callback(self, agent: dict[str, Any], log: dict[str, Any]) -> None:
        payload = {
            "timestamp": iso(log["end_time"]), "status": log["status"], "prompt": agent["prompt"],
            "agent_output": log["content"],
            "log": f"{iso(log['start_time'])} run {log['id']} started\n{log['content']}\n"
                   f"{iso(log['end_time'])} run {log['id']} finished: {log['status']}",
            "log_id": log["id"],
        }
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "fake-iblai-periodic-agents"}
        if agent["callback_secret"]:
            digest = hmac.new(agent["callback_secret"].encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = "sha256=" + digest
        record: dict[str, Any] = {"agent_id": agent["id"], "log_id": log["id"], "url": agent["callback_url"]}
        self.callbacks.append(record)
        future = asyncio.get_running_loop().run_in_executor(None, _post, agent["callback_url"], body, headers)
        future.add_done_callback(lambda done: record.update(done.result()))


def _post(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """Blocking POST for the executor; outcome as a dict, never an exception."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT) as response:  # noqa: S310 (tests' URL)
            return {"status_code": response.status}
    except urllib.error.HTTPError as exc:
        return {"status_code": exc.code}
    except (OSError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _run_output(agent: dict[str, Any], log_id: int, failed: bool) -> str:
    if failed:
        return (f"Run {log_id} of agent {agent['id']} failed: the prompt contains {FAIL_MARKER}, "
                "the fake server's error trigger.")
    earlier = agent["previous_agent_output"]
    previous = f"\nPrevious agent output: {earlier[:80]}" if earlier else ""
    return (f"Run {log_id} of agent {agent['id']} ({agent['title']}).\nPrompt: {agent['prompt']}{previous}\n"
            "Result: " + "All monitored activity is within the expected range. " * 6).strip()
