"""Periodic agents as code: create-or-update, update (pause/resume) and delete (API reference §3).

Every argument is checked before the first request; a bad one raises a single
:class:`~iblai_provider.exceptions.IblaiConfigError` naming it. The operators return a small
summary (``id``, ``title``, ``mentor``, ``schedule``, ``enabled``, ``action``) and never the
callback secret.

**Callback secret.** Do not write it into the DAG file. Template it from a Connection or a
Variable, e.g. ``callback_secret="{{ conn.iblai_callback.password }}"`` or
``callback_secret="{{ var.value.iblai_callback_secret }}"``. Airflow masks connection passwords
and variables with "secret" in their name; the operator also registers the rendered value with
``mask_secret`` before anything runs, and the field name ``callback_secret`` makes Airflow redact
it in the rendered-template view.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from iblai_provider._compat import AirflowException, BaseOperator, Context, mask_secret
from iblai_provider.exceptions import IblaiConfigError
from iblai_provider.hooks._agents import mentor_unique_id
from iblai_provider.hooks.iblai import IblaiHook
from iblai_provider.utils.agent_validation import (
    IF_EXISTS,
    build_task,
    check_agent_id,
    check_bool,
    check_callback_url,
    check_choice,
    check_mentor,
    check_optional_int,
    check_previous_agent_status,
    check_start_time,
    check_text,
    cron_from_crontab,
    crontab_from_schedule,
)

FIELD_TEMPLATES = ("mentor", "title", "prompt", "description", "schedule", "start_time", "callback_url",
                   "callback_secret", "pathway", "previous_agent")
TOP_LEVEL = ("mentor", "title", "prompt", "description", "pathway", "callback_url", "callback_secret",
             "previous_agent", "previous_agent_status")


def agent_summary(agent: dict[str, Any], action: str) -> dict[str, Any]:
    """The operators' return value: small, JSON-safe, without the callback secret."""
    task = agent.get("task") if isinstance(agent.get("task"), dict) else {}
    enabled = task.get("enabled", agent.get("enabled"))
    return {
        "id": agent.get("id"),
        "title": agent.get("title"),
        "mentor": mentor_unique_id(agent),
        "schedule": cron_from_crontab(task.get("crontab")),
        "enabled": enabled,
        "action": action,
    }


class _PeriodicAgentFieldsOperator(BaseOperator):
    """Argument handling shared by the create and update operators (``None`` = not sent)."""

    template_fields: Sequence[str] = FIELD_TEMPLATES
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        mentor: str | None = None,
        title: str | None = None,
        prompt: str | None = None,
        description: str | None = None,
        schedule: str | dict[str, Any] | None = None,
        one_off: bool | None = None,
        start_time: str | datetime | None = None,
        enabled: bool | None = None,
        callback_url: str | None = None,
        callback_secret: str | None = None,
        previous_agent: int | str | None = None,
        previous_agent_status: str | None = None,
        pathway: str | None = None,
        iblai_conn_id: str = IblaiHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mentor = mentor
        self.title = title
        self.prompt = prompt
        self.description = description
        self.schedule = schedule
        self.one_off = one_off
        self.start_time = start_time
        self.enabled = enabled
        self.callback_url = callback_url
        self.callback_secret = callback_secret
        self.previous_agent = previous_agent
        self.previous_agent_status = previous_agent_status
        self.pathway = pathway
        self.iblai_conn_id = iblai_conn_id

    def _fields(self, *, creating: bool) -> dict[str, Any]:
        """The request body from the (rendered) arguments; raises before any request if one is bad."""
        if isinstance(self.callback_secret, str) and self.callback_secret:
            mask_secret(self.callback_secret)
        body: dict[str, Any] = {
            "mentor": check_mentor(self.mentor) if self.mentor is not None or creating else None,
            "title": check_text(self.title, "title", required=creating or self.title is not None),
            "prompt": check_text(self.prompt, "prompt"),
            "description": check_text(self.description, "description"),
            "pathway": check_text(self.pathway, "pathway"),
            # An empty rendered template (an unset Variable) means "no callback", not a blank value.
            "callback_url": check_callback_url(self.callback_url or None),
            "callback_secret": check_text(self.callback_secret or None, "callback_secret"),
            "previous_agent": check_optional_int(self.previous_agent, "previous_agent"),
            "previous_agent_status": check_previous_agent_status(self.previous_agent_status),
        }
        one_off = check_bool(self.one_off, "one_off")
        schedule = self.schedule
        if schedule is None and creating:
            if not one_off:
                raise IblaiConfigError(
                    "schedule is required for a recurring agent; schedule accepts a 5-field cron string such as "
                    "'0 8 * * 1-5' or a crontab dict (a one_off agent may omit it: it then runs once at start_time)."
                )
            schedule = "* * * * *"  # a one-off runs at the first minute from start_time
        task = build_task(
            crontab_from_schedule(schedule) if schedule is not None else None,
            one_off=one_off,
            start_time=check_start_time(self.start_time),
            enabled=check_bool(self.enabled, "enabled"),
        )
        body = {k: v for k, v in body.items() if v is not None}
        if task:
            body["task"] = task
        return body


class IblaiCreatePeriodicAgentOperator(_PeriodicAgentFieldsOperator):
    """Create a periodic agent, or bring the existing one (same ``mentor`` and ``title``) up to date.

    Running the same DAG twice leaves exactly one agent; a changed schedule, prompt or other
    field is PATCHed, and nothing is written when nothing changed.

    :param mentor: the mentor's unique_id (wire ``mentor``).
    :param title: the agent's title, at most 255 characters; with ``mentor`` it identifies the agent.
    :param prompt: the input of each run (wire ``prompt``).
    :param description: wire ``description``.
    :param schedule: a 5-field cron string such as ``"0 8 * * 1-5"`` (UTC), or a crontab dict
        with keys ``minute``, ``hour``, ``day_of_month``, ``month_of_year``, ``day_of_week``
        (wire ``task.crontab``). Optional for one-off agents.
    :param one_off: run once, then disable (wire ``task.one_off``).
    :param start_time: first run not before this (datetime, ISO-8601 text, or ``"now"``;
        wire ``task.start_time``).
    :param enabled: wire ``task.enabled``; ``None`` leaves an existing agent's state alone.
    :param callback_url: https URL the platform POSTs each run's result to (http only for loopback).
    :param callback_secret: key of the ``X-Hub-Signature-256`` HMAC; template it from a
        Connection or Variable (see the module docstring).
    :param previous_agent: id of the agent that must run first (wire ``previous_agent``).
    :param previous_agent_status: ``success``, ``error``, ``running`` or ``pending``.
    :param pathway: wire ``pathway``.
    :param if_exists: ``"update"`` (default), ``"skip"`` (leave it) or ``"fail"``.
    :param iblai_conn_id: the ``iblai`` connection.
    """

    def __init__(self, *, mentor: str, title: str, if_exists: str = "update", one_off: bool = False,
                 enabled: bool | None = True, **kwargs: Any) -> None:
        super().__init__(mentor=mentor, title=title, one_off=one_off, enabled=enabled, **kwargs)
        self.if_exists = if_exists

    def execute(self, context: Context) -> dict[str, Any]:
        body = self._fields(creating=True)
        if_exists = check_choice(self.if_exists, "if_exists", IF_EXISTS)
        hook = IblaiHook(iblai_conn_id=self.iblai_conn_id)
        existing = hook.find_periodic_agents(body["mentor"], body["title"])
        if not existing:
            agent = hook.create_periodic_agent(body)
            self.log.info("Created periodic agent %s (%r).", agent.get("id"), body["title"])
            return agent_summary(agent, "created")
        ids = [agent["id"] for agent in existing]
        if if_exists == "fail":
            raise AirflowException(f"Periodic agent {body['title']!r} of mentor {body['mentor']} exists (ids {ids}) "
                                   "and if_exists='fail'.")
        if if_exists == "skip":
            self.log.info("Periodic agent %s exists; if_exists='skip' leaves it unchanged.", ids[0])
            return agent_summary(existing[0], "skipped")
        if len(existing) > 1:
            raise AirflowException(
                f"{len(existing)} periodic agents are titled {body['title']!r} for mentor {body['mentor']} "
                f"(ids {ids}); delete the extras, or update one by agent_id with IblaiUpdatePeriodicAgentOperator."
            )
        changes = changed_fields(existing[0], body)
        if not changes:
            self.log.info("Periodic agent %s is up to date.", ids[0])
            return agent_summary(existing[0], "unchanged")
        self.log.info("Updating periodic agent %s: %s.", ids[0], ", ".join(sorted(changes)))
        return agent_summary(hook.update_periodic_agent(ids[0], changes), "updated")


class IblaiUpdatePeriodicAgentOperator(_PeriodicAgentFieldsOperator):
    """PATCH a periodic agent: only the arguments given are sent. Pause with ``enabled=False``,
    resume with ``enabled=True``; ``enabled``, ``one_off`` and ``start_time`` go inside ``task``
    as the API requires.

    :param agent_id: the agent's integer id (templated; e.g. from the create operator's XCom).
    :param iblai_conn_id: the ``iblai`` connection.

    The other parameters are those of :class:`IblaiCreatePeriodicAgentOperator`.
    """

    template_fields: Sequence[str] = (*FIELD_TEMPLATES, "agent_id")

    def __init__(self, *, agent_id: int | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.agent_id = agent_id

    def execute(self, context: Context) -> dict[str, Any]:
        agent_id = check_agent_id(self.agent_id)
        changes = self._fields(creating=False)
        if not changes:
            raise IblaiConfigError(
                "IblaiUpdatePeriodicAgentOperator has nothing to change; pass at least one of "
                f"{', '.join(TOP_LEVEL)}, schedule, one_off, start_time, enabled."
            )
        agent = IblaiHook(iblai_conn_id=self.iblai_conn_id).update_periodic_agent(agent_id, changes)
        self.log.info("Updated periodic agent %s: %s.", agent_id, ", ".join(sorted(changes)))
        return agent_summary(agent, "updated")


class IblaiDeletePeriodicAgentOperator(BaseOperator):
    """Delete a periodic agent by ``agent_id``, or every agent of ``mentor`` titled ``title``.

    :param agent_id: the agent's integer id.
    :param mentor: with ``title``, instead of ``agent_id``: the mentor's unique_id.
    :param title: with ``mentor``: the agent's exact title.
    :param missing_ok: succeed when there is nothing to delete (default True, so it can be a teardown).
    :param iblai_conn_id: the ``iblai`` connection.
    :return: ``{"deleted": [ids]}``.
    """

    template_fields: Sequence[str] = ("agent_id", "mentor", "title")
    ui_color = "#fde8e8"

    def __init__(
        self,
        *,
        agent_id: int | str | None = None,
        mentor: str | None = None,
        title: str | None = None,
        missing_ok: bool = True,
        iblai_conn_id: str = IblaiHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.agent_id = agent_id
        self.mentor = mentor
        self.title = title
        self.missing_ok = missing_ok
        self.iblai_conn_id = iblai_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        by_id = self.agent_id not in (None, "")
        if by_id == (self.mentor is not None or self.title is not None):
            raise IblaiConfigError("IblaiDeletePeriodicAgentOperator needs either agent_id, or mentor and title "
                                   "(not both).")
        missing_ok = check_bool(self.missing_ok, "missing_ok")
        hook = IblaiHook(iblai_conn_id=self.iblai_conn_id)
        if by_id:
            ids = [check_agent_id(self.agent_id)]
        else:
            mentor, title = check_mentor(self.mentor), check_text(self.title, "title", required=True)
            ids = [agent["id"] for agent in hook.find_periodic_agents(mentor, title or "")]
            if not ids and not missing_ok:
                raise AirflowException(f"No periodic agent titled {title!r} for mentor {mentor} (missing_ok=False).")
        deleted = [agent_id for agent_id in ids if hook.delete_periodic_agent(agent_id, missing_ok=bool(missing_ok))]
        gone = sorted(set(ids) - set(deleted))
        self.log.info("Deleted periodic agents %s%s.", deleted, f"; already gone: {gone}" if gone else "")
        return {"deleted": deleted}


def changed_fields(existing: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The PATCH body that brings ``existing`` to ``desired``; the whole ``task`` when any part differs."""
    changes = {k: v for k, v in desired.items() if k not in ("task", "mentor") and existing.get(k) != v}
    if "callback_secret" in desired and "callback_secret" not in existing:
        changes["callback_secret"] = desired["callback_secret"]  # write-only on some servers: always send
    task_now = existing.get("task") if isinstance(existing.get("task"), dict) else {}
    task_want = desired.get("task", {})
    for key, value in task_want.items():
        current = task_now.get(key)
        if key == "crontab":
            current = {k: str(v) for k, v in (current or {}).items()}
        elif key == "start_time":
            current, value = _instant(current), _instant(value)
        if current != value:
            changes["task"] = task_want
            break
    return changes


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
