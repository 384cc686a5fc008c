"""The [[endpoint]] tables of config.toml: serving endpoints, validated on load.

Endpoints are configuration, like the registries they are bound to: they live in
the same config.toml (ConfigFile keeps the tables it does not own when it saves),
survive a cache that was moved aside and rebuilt, and can be reviewed and edited by
hand. What Gavel observes of them (health, samples, drift) goes in the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.domain.endpoints import DEFAULT_INTERVAL_S, MIN_INTERVAL_S, EndpointConfig, EndpointKind
from app.domain.errors import ConfigError, GavelError, UsageError
from app.stores.toml_file import read_toml, typed_table, update_toml

# Keys an [[endpoint]] table may hold, with their type and meaning; anything else is
# refused on load so a typo does not silently fall back to a default.
ENDPOINT_KEYS: dict[str, tuple[type, str]] = {
    "name": (str, "short name used in the console and on the command line"),
    "kind": (str, "oip (KServe, MLServer, Triton) or mlflow (mlflow models serve)"),
    "url": (str, "base URL of the model server"),
    "metrics_url": (str, "URL of its Prometheus metrics"),
    "registry": (str, "registry of the model it serves"),
    "model": (str, "registered model it serves"),
    "alias": (str, "alias naming the version it must serve"),
    "served_name": (str, "the model's name on the server, when not the registry's"),
    "served_model": (str, "model URI, run id or model id it was deployed from"),
    "version_map": (dict, "reported label or deployed identifier -> registry version"),
    "interval_s": (float, "seconds between two polls (else the global interval)"),
    "timeout_s": (float, "seconds to wait for each request of a probe"),
    "infer_request": (str, "OIP infer request body sent by each probe (JSON)"),
    "token_env": (str, "environment variable holding a bearer token"),
}
POLLING_TABLE = "endpoint_polling"


class EndpointConfigFile:
    """Reads and writes the endpoints of one config.toml; re-reads only when it changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cached: tuple[tuple[int, int], list[EndpointConfig], float] | None = None

    def endpoints(self) -> list[EndpointConfig]:
        return list(self._read()[0])

    def endpoint(self, name: str) -> EndpointConfig:
        for cfg in self.endpoints():
            if cfg.name == name:
                return cfg
        raise UsageError(f"There is no endpoint named '{name}'. See 'gavel endpoint list'.")

    def poll_interval_s(self) -> float:
        """The global polling interval, used by endpoints that set none."""
        return self._read()[1]

    def set_poll_interval_s(self, seconds: float) -> None:
        if seconds < MIN_INTERVAL_S:
            raise UsageError(f"The polling interval must be at least {MIN_INTERVAL_S:g} s.")
        self._update(lambda data: data.__setitem__(POLLING_TABLE, {"interval_s": float(seconds)}))

    def add_endpoint(self, cfg: EndpointConfig) -> None:
        def change(current: list[EndpointConfig]) -> list[EndpointConfig]:
            if any(e.name == cfg.name for e in current):
                raise UsageError(f"An endpoint named '{cfg.name}' already exists.")
            return [*current, cfg]

        self._change_endpoints(change)

    def update_endpoint(self, old_name: str, cfg: EndpointConfig) -> None:
        def change(current: list[EndpointConfig]) -> list[EndpointConfig]:
            if not any(e.name == old_name for e in current):
                raise UsageError(f"There is no endpoint named '{old_name}'.")
            if cfg.name != old_name and any(e.name == cfg.name for e in current):
                raise UsageError(f"An endpoint named '{cfg.name}' already exists.")
            return [cfg if e.name == old_name else e for e in current]

        self._change_endpoints(change)

    def remove_endpoint(self, name: str) -> EndpointConfig:
        gone: list[EndpointConfig] = []

        def change(current: list[EndpointConfig]) -> list[EndpointConfig]:
            gone.extend(e for e in current if e.name == name)
            if not gone:
                raise UsageError(f"There is no endpoint named '{name}'.")
            return [e for e in current if e.name != name]

        self._change_endpoints(change)
        return gone[0]

    def _change_endpoints(
        self, change: Callable[[list[EndpointConfig]], list[EndpointConfig]]
    ) -> None:
        """Read, change and write the endpoints in one locked step (see update_toml)."""

        def edit(data: dict[str, Any]) -> None:
            data["endpoint"] = [endpoint_to_toml(e) for e in change(self._parse(data)[0])]

        self._update(edit)

    # -- file ----------------------------------------------------------------------------

    def _read(self) -> tuple[list[EndpointConfig], float]:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            return [], DEFAULT_INTERVAL_S
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        endpoints, interval = self._parse(self._load())
        self._cached = (stamp, endpoints, interval)
        return endpoints, interval

    def _parse(self, data: dict[str, Any]) -> tuple[list[EndpointConfig], float]:
        raw = data.get("endpoint", [])
        if not isinstance(raw, list):
            raise ConfigError(f"{self.path}: 'endpoint' must be a list of tables.")
        out: list[EndpointConfig] = []
        for i, entry in enumerate(raw, start=1):
            cfg = endpoint_from_toml(entry, where=f"{self.path}, endpoint #{i}")
            if any(e.name == cfg.name for e in out):
                raise ConfigError(f"{self.path}: endpoint '{cfg.name}' is defined twice.")
            out.append(cfg)
        polling = data.get(POLLING_TABLE, {})
        interval = polling.get("interval_s", DEFAULT_INTERVAL_S) if isinstance(polling, dict) else 0
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise ConfigError(f"{self.path}: [{POLLING_TABLE}] interval_s must be a number.")
        if interval < MIN_INTERVAL_S:
            raise ConfigError(
                f"{self.path}: [{POLLING_TABLE}] interval_s must be at least {MIN_INTERVAL_S:g}."
            )
        return out, float(interval)

    def _load(self) -> dict[str, Any]:
        return read_toml(self.path)

    def _update(self, change: Callable[[dict[str, Any]], None]) -> None:
        update_toml(self.path, change)
        self._cached = None


def endpoint_from_toml(entry: Any, where: str) -> EndpointConfig:
    kwargs = typed_table(entry, ENDPOINT_KEYS, where)
    for required in ("name", "kind", "url", "registry", "model", "alias"):
        if required not in kwargs:
            raise ConfigError(f"{where}: '{required}' is required.")
    try:
        kwargs["kind"] = EndpointKind(kwargs["kind"])
    except ValueError:
        raise ConfigError(f"{where}: 'kind' must be oip or mlflow.") from None
    try:
        return EndpointConfig(**kwargs)
    except GavelError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def endpoint_to_toml(cfg: EndpointConfig) -> dict[str, Any]:
    defaults = EndpointConfig.__dataclass_fields__
    out: dict[str, Any] = {}
    for key, value in asdict(cfg).items():
        default = defaults[key].default
        if key in ("name", "kind", "url", "registry", "model", "alias"):
            out[key] = str(value)
        elif key == "version_map":
            if value:
                out[key] = dict(value)
        elif value is not None and value != default:
            out[key] = value
    return out
