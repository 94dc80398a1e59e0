"""Contract: the endpoint catalogue and the fake server against the real API's OpenAPI snapshot.

The snapshot (DM 4.294.1, ``/api/analytics/*`` and ``/api/reports/*``) lives in ``shared/``
beside the repository (or at ``$IBLAI_OPENAPI_SNAPSHOT``). Part one checks the catalogue the
operators validate against; part two sends real HTTP to the fake server and checks that it
accepts exactly what the snapshot allows: valid -> 200; unknown param, bad enum, missing required
param, value beyond a maximum or below a minimum -> 400.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests

from iblai_provider.endpoints import ANALYTICS_READS, ENDPOINTS
from iblai_provider.testing.analytics_data import dataset
from iblai_provider.testing.server import FakeIblaiServer

SNAPSHOT_NAME = "iblai-openapi-analytics-reports-4.294.1.json"
# The one analytics operation that is not a read: the browser's time-tracking beacon.
NOT_A_READ = ("POST", "/api/analytics/orgs/{org}/time/update/")


def _snapshot_path() -> Path:
    if os.environ.get("IBLAI_OPENAPI_SNAPSHOT"):
        return Path(os.environ["IBLAI_OPENAPI_SNAPSHOT"])
    return Path(__file__).resolve().parents[2] / "shared" / SNAPSHOT_NAME


@pytest.fixture(scope="module")
def snapshot() -> dict[str, Any]:
    path = _snapshot_path()
    if not path.is_file():
        pytest.skip(f"OpenAPI snapshot not found at {path} (set IBLAI_OPENAPI_SNAPSHOT or put shared/ beside the repo)")
    return json.loads(path.read_text())


def _operations(snapshot: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in snapshot["paths"].items()
        for method, op in item.items()
        if method.lower() in ("get", "post", "put", "patch", "delete")
    }


def _snapshot_type(schema: dict[str, Any]) -> str:
    if schema.get("type") == "array":
        return f"{schema['items']['type']}[]"
    if schema.get("type") == "string" and schema.get("format") == "date":
        return "date"
    return schema.get("type", "string")


def _catalogued() -> list:
    return [e for e in ENDPOINTS.values() if e.path.startswith(("/api/analytics/", "/api/reports/"))]


# -- part one: the catalogue ---------------------------------------------------------------------


def test_every_catalogue_endpoint_exists_in_the_snapshot(snapshot):
    ops = _operations(snapshot)
    missing = [(e.method, e.path) for e in _catalogued() if (e.method, e.path) not in ops]
    assert missing == []


@pytest.mark.parametrize("key", sorted(e.key for e in _catalogued()))
def test_catalogue_params_match_the_snapshot(snapshot, key):
    endpoint = ENDPOINTS[key]
    op = _operations(snapshot)[(endpoint.method, endpoint.path)]
    query = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    path_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
    assert set(endpoint.by_name) == set(query), "query parameter names differ"
    assert set(endpoint.path_params) == path_params
    for name, spec in query.items():
        ours, schema = endpoint.by_name[name], spec.get("schema", {})
        assert ours.required == bool(spec.get("required")), f"{name}: required flag"
        assert (tuple(ours.enum) if ours.enum else None) == (tuple(schema["enum"]) if "enum" in schema else None), name
        assert ours.maximum == schema.get("maximum"), f"{name}: maximum"
        assert ours.minimum == schema.get("minimum"), f"{name}: minimum"
        assert ours.type == _snapshot_type(schema), f"{name}: type"
        assert ours.default == schema.get("default"), f"{name}: default"


def test_limit_maxima_are_those_of_the_snapshot(snapshot):
    """The one number operators must never exceed: spelled out so a drift is obvious."""
    limits = {e.key: e.by_name["limit"].maximum for e in ANALYTICS_READS.values() if "limit" in e.by_name}
    ops = _operations(snapshot)
    expected = {
        e.key: next(p["schema"]["maximum"] for p in ops[("GET", e.path)]["parameters"] if p["name"] == "limit")
        for e in ANALYTICS_READS.values()
        if "limit" in e.by_name
    }
    assert limits == expected
    assert limits["content/details/{content_id}/"] == 30 and limits["messages/"] == 100


def test_every_analytics_operation_is_reachable(snapshot):
    """Every analytics read in the snapshot is in the catalogue, and an operator accepts it."""
    from iblai_provider.operators.analytics import IblaiAnalyticsOperator

    reads = {
        path
        for (method, path) in _operations(snapshot)
        if path.startswith("/api/analytics/") and (method, path) != NOT_A_READ
    }
    assert reads == {e.path for e in ANALYTICS_READS.values()}
    for key, endpoint in ANALYTICS_READS.items():
        required = {name: _valid_value(key, name) for name in endpoint.required}
        op = IblaiAnalyticsOperator(
            task_id=f"t_{len(required)}",
            endpoint=key,
            query_params=required,
            content_id=dataset().content[0].content_id if endpoint.path_params else None,
        )
        assert op.endpoint == key


# -- part two: the fake server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with FakeIblaiServer(report_polls=0) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server):
    session = requests.Session()
    session.headers["Authorization"] = f"Api-Token {server.api_key}"
    return session


def _valid_value(key: str, name: str) -> str:
    data = dataset()
    endpoint = ENDPOINTS[key]
    param = endpoint.by_name[name]
    if param.enum:
        return param.enum[0]
    return {
        "session_id": data.conversations[0].session,
        "username": data.users[0].username,
        "platform_key": "acme",
        "group_by": "username",
    }[name]


def _url(server: FakeIblaiServer, http: requests.Session, key: str) -> str:
    endpoint = ENDPOINTS[key]
    values = {"content_id": dataset().content[0].content_id, "key": server.org, "report_name": "user-report"}
    if "task_id" in endpoint.path_params:
        created = http.post(
            f"{server.base_url}/api/reports/platforms/{server.org}/new", json={"report_name": "user-report"}
        )
        values["task_id"] = created.json()["data"]["report_id"]
    return server.base_url + endpoint.path.format(**values)


CHECKED_GETS = sorted(
    k for k, e in ENDPOINTS.items() if e.method == "GET" and e.path.startswith(("/api/analytics/", "/api/reports/"))
)


def _required(key: str) -> dict[str, str]:
    return {name: _valid_value(key, name) for name in ENDPOINTS[key].required}


@pytest.mark.parametrize("key", CHECKED_GETS)
def test_fake_answers_a_valid_request(server, http, key):
    response = http.get(_url(server, http, key), params=_required(key))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("key", CHECKED_GETS)
def test_fake_refuses_an_unknown_param(server, http, key):
    response = http.get(_url(server, http, key), params={**_required(key), "colour": "blue"})
    assert response.status_code == 400
    assert "colour" in response.json()


def _each(kind: str) -> list[tuple[str, str]]:
    cases = []
    for key in CHECKED_GETS:
        for param in ENDPOINTS[key].params:
            if (
                (kind == "enum" and param.enum)
                or (kind == "required" and param.required)
                or (kind == "maximum" and param.maximum is not None)
                or (kind == "minimum" and param.minimum is not None)
            ):
                cases.append((key, param.name))
    return cases


@pytest.mark.parametrize(("key", "name"), _each("enum"))
def test_fake_refuses_a_bad_enum_value(server, http, key, name):
    response = http.get(_url(server, http, key), params={**_required(key), name: "not-a-choice"})
    assert response.status_code == 400, response.text
    assert name in response.json()


@pytest.mark.parametrize(("key", "name"), _each("required"))
def test_fake_refuses_a_missing_required_param(server, http, key, name):
    params = _required(key)
    del params[name]
    response = http.get(_url(server, http, key), params=params)
    assert response.status_code == 400
    assert response.json()[name] == ["This field is required."]


@pytest.mark.parametrize(("key", "name"), _each("maximum"))
def test_fake_refuses_values_over_the_maximum(server, http, key, name):
    maximum = ENDPOINTS[key].by_name[name].maximum
    ok = http.get(_url(server, http, key), params={**_required(key), name: maximum})
    over = http.get(_url(server, http, key), params={**_required(key), name: maximum + 1})
    assert ok.status_code == 200, ok.text
    assert over.status_code == 400 and name in over.json()


@pytest.mark.parametrize(("key", "name"), _each("minimum"))
def test_fake_refuses_values_under_the_minimum(server, http, key, name):
    minimum = ENDPOINTS[key].by_name[name].minimum
    response = http.get(_url(server, http, key), params={**_required(key), name: minimum - 1})
    assert response.status_code == 400 and name in response.json()


def test_every_snapshot_read_is_served_by_the_fake(server, http, snapshot):
    """Straight from the snapshot, not the catalogue: each analytics GET answers 200."""
    for (method, path), op in _operations(snapshot).items():
        if method != "GET" or not path.startswith("/api/analytics/"):
            continue
        key = next(k for k, e in ANALYTICS_READS.items() if e.path == path)
        params = {
            p["name"]: _valid_value(key, p["name"])
            for p in op.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        }
        response = http.get(_url(server, http, key), params=params)
        assert response.status_code == 200, (path, response.text)
