"""Liveness per registry: one quick request says online, offline or auth failed,
against a real MLflow (plain and with basic auth) and a port where nothing listens."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.bootstrap import build_context
from app.domain.registry import AuthKind, LinkState
from app.stores.paths import AppPaths
from tests.fixtures.mlflow import AuthMlflowRegistry, MlflowRegistry
from tests.ui_helpers import dead_url

pytestmark = pytest.mark.integration


def test_each_registry_is_checked_on_its_own(
    gavel_home: AppPaths,
    seeded_registry: MlflowRegistry,
    mlflow_auth_server: AuthMlflowRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOD_PW", mlflow_auth_server.admin.password)
    monkeypatch.setenv("BAD_PW", "not-the-password")
    ctx = build_context(gavel_home)
    try:
        ctx.registries.add(seeded_registry.config("demo"))
        ctx.registries.add(replace(seeded_registry.config("gone"), url=dead_url()))
        auth = mlflow_auth_server.basic_config(mlflow_auth_server.admin, name="team")
        ctx.registries.add(replace(auth, secret_env="GOOD_PW"))
        ctx.registries.add(replace(auth, name="wrongpw", secret_env="BAD_PW"))
        ctx.registries.add(
            replace(seeded_registry.config("nosecret"), auth=AuthKind.BEARER, secret_env="UNSET_X")
        )
        links = {
            n: ctx.registries.check_link(n) for n in ("demo", "gone", "team", "wrongpw", "nosecret")
        }
    finally:
        ctx.close()
    assert links["demo"].state is LinkState.ONLINE and links["demo"].checked_at is not None
    assert links["team"].state is LinkState.ONLINE
    assert links["gone"].state is LinkState.OFFLINE and "127.0.0.1" in links["gone"].message
    assert links["wrongpw"].state is LinkState.AUTH_FAILED
    assert "not-the-password" not in links["wrongpw"].message
    assert links["nosecret"].state is LinkState.AUTH_FAILED
    assert "UNSET_X" in links["nosecret"].message
