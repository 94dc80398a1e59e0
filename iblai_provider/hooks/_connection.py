"""Reading the ``iblai`` Airflow connection into validated settings."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlsplit

from iblai_provider.exceptions import IblaiConfigError

DEFAULT_HOST = "https://api.iblai.app/dm"
# Connection extras that tune the client; anything else in extra is ignored.
NUMERIC_EXTRAS: dict[str, tuple[type, float]] = {
    "connect_timeout": (float, 10.0),
    "read_timeout": (float, 60.0),
    "max_retries": (int, 5),
    "backoff_initial": (float, 1.0),
    "backoff_max": (float, 30.0),
    "retry_after_max": (float, 120.0),
}


class ConnSettings(NamedTuple):
    """Everything the hooks need from the connection. ``repr`` never shows the key."""

    conn_id: str
    base_url: str
    api_key: str
    org: str
    username: str | None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    verify: bool | str = True

    def __repr__(self) -> str:  # never the key
        shown = ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self) if k != "api_key")
        return f"ConnSettings({shown})"

    def url(self, path: str) -> str:
        """``path`` is the API path (``/api/...``), appended to the configured base URL."""
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path


def normalize_base_url(host: str | None, port: int | None = None) -> str:
    """Connection host → base URL: ``https://`` when no scheme is given, no trailing slash."""
    host = (host or "").strip() or DEFAULT_HOST
    if "://" not in host:
        host = "https://" + host
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IblaiConfigError(
            f"iblai connection field `host` must be a URL such as {DEFAULT_HOST}; got {host!r}"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _extra_number(extra: dict[str, Any], name: str, conn_id: str) -> float | int:
    kind, default = NUMERIC_EXTRAS[name]
    value = extra.get(name, default)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise IblaiConfigError(
            f"iblai connection {conn_id!r}: extra `{name}` must be a number; got {value!r}"
        ) from None
    if number < 0:
        raise IblaiConfigError(f"iblai connection {conn_id!r}: extra `{name}` must be >= 0; got {value!r}")
    return number


def settings_from_connection(conn: Any, extra: dict[str, Any]) -> ConnSettings:
    """Validate an Airflow ``Connection`` (and its parsed extra) into :class:`ConnSettings`.

    Raises one :class:`IblaiConfigError` naming the field when the key or the org is missing.
    """
    conn_id = conn.conn_id
    # Older connection forms stored custom fields as ``extra__iblai__<name>``.
    prefix = "extra__iblai__"
    extra = {**{k[len(prefix):]: v for k, v in extra.items() if k.startswith(prefix) and v not in (None, "")}, **{
        k: v for k, v in extra.items() if not k.startswith(prefix)
    }}
    api_key = (conn.password or "").strip()
    if not api_key:
        raise IblaiConfigError(
            f"iblai connection {conn_id!r} has no API key: set the connection field `password` "
            "to your ibl.ai Platform API key (sent as 'Authorization: Api-Token <key>')."
        )
    org = str(extra.get("org") or extra.get("platform_key") or "").strip()
    if not org:
        raise IblaiConfigError(
            f"iblai connection {conn_id!r} has no org: set extra `org` to your ibl.ai platform key, "
            'e.g. {"org": "acme"}.'
        )
    numbers = {name: _extra_number(extra, name, conn_id) for name in NUMERIC_EXTRAS}
    verify = extra.get("verify", True)
    if isinstance(verify, str) and verify.lower() in ("true", "false"):
        verify = verify.lower() == "true"
    return ConnSettings(
        conn_id=conn_id,
        base_url=normalize_base_url(conn.host, conn.port),
        api_key=api_key,
        org=org,
        username=(conn.login or "").strip() or None,
        verify=verify,
        **numbers,  # type: ignore[arg-type]
    )


def encode_params(params: dict[str, Any] | None) -> list[tuple[str, str]] | None:
    """Query params as wire pairs, the same for both hooks: lists become repeated keys,
    booleans ``true``/``false``, None values are left out."""
    if not params:
        return None
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is None:
                continue
            pairs.append((name, ("true" if item else "false") if isinstance(item, bool) else str(item)))
    return pairs
