"""MlflowRegistryClient against real MLflow servers, and through a fault-injecting proxy."""

from __future__ import annotations

import contextlib
import math
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.cancel import CancelToken
from app.domain.entities import DatasetInput, MetricPoint
from app.domain.errors import (
    AlreadyExists,
    AuthFailed,
    BadResponse,
    Cancelled,
    NotFound,
    PermissionDenied,
    RegistryError,
    RegistryUnavailable,
    ServerError,
)
from app.domain.registry import AuthKind, RegistryConfig
from app.services.demo_portfolio import DEMO_MODELS
from app.services.mlflow_process import MlflowServerProcess, MlflowServerStartError, free_port
from tests.fixtures.fault_proxy import Fault, FaultProxy
from tests.fixtures.mlflow import AuthMlflowRegistry, MlflowRegistry

pytestmark = pytest.mark.integration

DEMO_NAMES = [m.name for m in DEMO_MODELS]
DEMO_VERSION_COUNT = sum(m.versions for m in DEMO_MODELS)


def client_for(
    url: str,
    *,
    auth: AuthKind = AuthKind.NONE,
    username: str = "",
    secret: str | None = None,
    timeout_s: float = 15.0,
    retries: int = 3,
) -> MlflowRegistryClient:
    cfg = RegistryConfig(
        name="under-test", url=url, auth=auth, username=username, timeout_s=timeout_s
    )
    return MlflowRegistryClient(cfg, secret, retries=retries, backoff_s=0.01)


@pytest.fixture(scope="module")
def module_proxy(seeded_registry: MlflowRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(seeded_registry.url) as proxy:
        yield proxy


@pytest.fixture
def proxy(module_proxy: FaultProxy) -> Iterator[FaultProxy]:
    module_proxy.set(Fault.PASS)
    yield module_proxy
    module_proxy.set(Fault.PASS)


# -- reading the seeded registry ---------------------------------------------------------


def test_probe_reports_version_and_model_count(seeded_registry: MlflowRegistry) -> None:
    with client_for(seeded_registry.url) as client:
        report = client.probe()
    assert (report.reachable, report.is_mlflow, report.auth_ok) == (True, True, True)
    assert re.match(r"^\d+\.\d+", report.server_version)
    assert report.model_count is not None and report.model_count >= len(DEMO_MODELS)
    assert report.server_version in report.message


def test_registered_models_paginate_in_name_order(
    seeded_registry: MlflowRegistry, proxy: FaultProxy
) -> None:
    with client_for(seeded_registry.url) as client:
        whole = client.list_registered_models()
    with client_for(proxy.url) as client:
        paged = client.list_registered_models(page_size=3)
    assert paged == whole
    names = [m.name for m in paged]
    assert names == sorted(names)
    assert set(DEMO_NAMES) <= set(names)
    assert proxy.count == math.ceil(len(names) / 3) > 1
    scorer = next(m for m in paged if m.name == "credit-default-scorer")
    assert scorer.aliases == {"production": 4, "champion": 4, "challenger": 5}
    assert scorer.tags["risk_tier"] == "high"
    assert scorer.tags["team"] == "credit-risk"
    assert scorer.description


def test_model_versions_paginate_in_a_stable_order(
    seeded_registry: MlflowRegistry, proxy: FaultProxy
) -> None:
    with client_for(proxy.url) as client:
        whole = client.list_model_versions(model_names=DEMO_NAMES)
        assert proxy.count == 1
        paged = client.list_model_versions(model_names=DEMO_NAMES, page_size=4)
        assert client.list_model_versions(model_names=DEMO_NAMES, page_size=4) == paged
    assert paged == whole
    assert len(paged) == DEMO_VERSION_COUNT
    keys = [(v.model_name, v.version) for v in paged]
    assert keys == sorted(keys)
    assert proxy.count == 1 + 2 * math.ceil(DEMO_VERSION_COUNT / 4)
    assert all(v.run_id and v.source == f"runs:/{v.run_id}/model" for v in paged)


def test_single_reads_and_not_found(seeded_registry: MlflowRegistry) -> None:
    with client_for(seeded_registry.url) as client:
        version = client.get_model_version("credit-default-scorer", 4)
        assert set(version.aliases) == {"production", "champion"}
        assert version.status == "READY"
        model = client.get_registered_model("card-fraud-detector")
        assert model.aliases["challenger"] == 4
        with pytest.raises(NotFound) as info:
            client.get_registered_model("no-such-model")
    assert "'under-test'" in info.value.message


def test_fetch_runs_batches_pages_datasets_and_history(
    seeded_registry: MlflowRegistry, proxy: FaultProxy
) -> None:
    with client_for(seeded_registry.url) as client:
        versions = client.list_model_versions(model_names=DEMO_NAMES)
    run_ids = [v.run_id for v in versions]
    unknown = uuid.uuid4().hex
    with client_for(proxy.url) as client:
        runs = client.fetch_runs([*run_ids, unknown])
        paths = proxy.paths()
        proxy.set(Fault.PASS)
        small = client.fetch_runs([*run_ids, unknown], batch_size=7, page_size=3)
        assert client.fetch_runs([]) == {}
    assert unknown not in runs
    assert set(runs) == set(run_ids)
    assert small == runs
    # One experiments page, one runs/search, one history request per curve-bearing metric.
    curve_keys = {k for r in runs.values() for k, m in r.metrics.items() if m.step > 0}
    assert paths.count("/api/2.0/mlflow/experiments/search") == 1
    assert paths.count("/api/2.0/mlflow/runs/search") == 1
    assert len(paths) == 2 + len(curve_keys)
    assert proxy.paths().count("/api/2.0/mlflow/runs/search") > math.ceil(len(run_ids) / 7)

    v = next(v for v in versions if v.model_name == "credit-default-scorer" and v.version == 4)
    run = runs[v.run_id]
    assert run.status == "FINISHED" and run.is_terminal
    assert run.user_id == "amelia.hart"
    assert run.tags["mlflow.user"] == "amelia.hart"
    assert re.fullmatch(r"[0-9a-f]{40}", run.tags["mlflow.source.git.commit"])
    assert run.params["algorithm"] == "xgboost"
    assert {d.context for d in run.datasets} == {"training", "evaluation"}
    assert all(isinstance(d, DatasetInput) and d.digest and d.source for d in run.datasets)
    history = run.metric_history["train_loss"]
    assert 10 <= len(history) <= 20
    assert [m.step for m in history] == list(range(len(history)))
    assert history[-1] == run.metrics["train_loss"]
    assert run.metrics["test_auc"].step == 0
    assert "test_auc" not in run.metric_history  # logged once: no history request


def test_log_batch_splits_and_long_histories_read_back(mlflow_server: MlflowServerProcess) -> None:
    with client_for(mlflow_server.url) as client:
        experiment_id = client.create_experiment(f"gavel-tests-{uuid.uuid4().hex[:8]}")
        run_id = client.create_run(experiment_id, "long", user_id="tester", start_time=1)
        metrics = [MetricPoint("loss", 1 / (i + 1), i, 1_000 + i) for i in range(2600)]
        calls = client.log_batch(
            run_id,
            params={f"p{i}": str(i) for i in range(150)},
            metrics=metrics,
            tags={f"t{i}": "x" for i in range(120)},
        )
        assert calls == 3
        client.update_run(run_id, "FINISHED", end_time=5_000)
        run = client.fetch_runs([run_id])[run_id]
    assert len(run.params) == 150
    assert run.tags["mlflow.user"] == "tester"
    assert run.user_id == "tester"
    assert [m.step for m in run.metric_history["loss"]] == list(range(2600))


def test_create_experiment_returns_the_existing_one(mlflow_server: MlflowServerProcess) -> None:
    name = f"gavel-tests-exp-{uuid.uuid4().hex[:8]}"
    with client_for(mlflow_server.url) as client:
        assert client.create_experiment(name) == client.create_experiment(name)


# -- names that need escaping ----------------------------------------------------------------

HOSTILE_NAMES = [
    "gavel it's quoted",
    'gavel "double" quoted',
    "gavel  two spaces",
    "gavel back\\slash",
    "gavel trailing\\",
    "gavel ünïcødé 模型 🚀",
    "gavel mix ' \" \\ end",
]


def test_hostile_model_names_round_trip(mlflow_server: MlflowServerProcess) -> None:
    suffix = uuid.uuid4().hex[:6]
    names = [f"{n} {suffix}" if not n.endswith("\\") else f"{suffix} {n}" for n in HOSTILE_NAMES]
    with client_for(mlflow_server.url) as client:
        experiment_id = client.create_experiment(f"gavel-tests-hostile-{suffix}")
        try:
            for name in names:
                client.create_registered_model(name, "hostile", {"team": "qa"})
                run_id = client.create_run(experiment_id, "r", user_id="qa")
                created = client.create_model_version(name, f"runs:/{run_id}/model", run_id)
                assert (created.model_name, created.version) == (name, 1)
                client.set_registered_model_alias(name, "champion", 1)
                client.set_model_version_tag(name, 1, "checked", "yes")
                client.set_registered_model_tag(name, "owner", "qa@example.com")
            with pytest.raises(AlreadyExists):
                client.create_registered_model(names[0])
            models = client.list_registered_models(names=names)
            assert sorted(m.name for m in models) == sorted(names)
            assert all(m.aliases == {"champion": 1} for m in models)
            assert all(m.tags["owner"] == "qa@example.com" for m in models)
            versions = client.list_model_versions(model_names=names)
            assert sorted(v.model_name for v in versions) == sorted(names)
            for name in names:
                assert client.get_registered_model(name).name == name
                version = client.get_model_version(name, 1)
                assert version.aliases == ("champion",)
                assert version.tags["checked"] == "yes"
            client.delete_registered_model_alias(names[0], "champion")
            assert client.get_registered_model(names[0]).aliases == {}
            client.delete_model_version(names[0], 1)
            assert client.list_model_versions(model_names=[names[0]]) == []
            with pytest.raises(RegistryError) as info:
                client.create_registered_model(f"has/slash {suffix}")
            assert "/" in info.value.message
        finally:
            for name in names:
                with contextlib.suppress(NotFound):  # deleted above, or never created
                    client.delete_registered_model(name)
        assert client.list_registered_models(names=names) == []


# -- authentication ------------------------------------------------------------------------------


def test_basic_auth_accepted(mlflow_auth_server: AuthMlflowRegistry) -> None:
    admin = mlflow_auth_server.admin
    with client_for(
        mlflow_auth_server.url, auth=AuthKind.BASIC, username=admin.username, secret=admin.password
    ) as client:
        report = client.probe()
        assert report.auth_ok and report.is_mlflow and report.server_version
        client.create_registered_model(f"auth-ok-{uuid.uuid4().hex[:6]}")
        assert client.count_registered_models() >= 1


def test_wrong_password_is_auth_failed_without_the_password(
    mlflow_auth_server: AuthMlflowRegistry,
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    with client_for(
        mlflow_auth_server.url, auth=AuthKind.BASIC, username="admin", secret=wrong
    ) as client:
        with pytest.raises(AuthFailed) as info:
            client.list_registered_models()
        report = client.probe()
    assert "401" in info.value.message and "'under-test'" in info.value.message
    assert mlflow_auth_server.url in info.value.message
    assert wrong not in info.value.message and wrong not in report.message
    assert (report.reachable, report.is_mlflow, report.auth_ok) == (True, True, False)


def test_non_admin_write_is_permission_denied(mlflow_auth_server: AuthMlflowRegistry) -> None:
    admin, user = mlflow_auth_server.admin, mlflow_auth_server.user
    name = f"auth-owned-{uuid.uuid4().hex[:6]}"
    with client_for(
        mlflow_auth_server.url, auth=AuthKind.BASIC, username=admin.username, secret=admin.password
    ) as client:
        client.create_registered_model(name)
    with client_for(
        mlflow_auth_server.url, auth=AuthKind.BASIC, username=user.username, secret=user.password
    ) as client:
        assert client.get_registered_model(name).name == name  # READ by default
        with pytest.raises(PermissionDenied) as info:
            client.set_registered_model_tag(name, "owner", "someone-else")
    assert "administrator" in info.value.message
    assert user.password not in info.value.message


def test_bearer_token_is_sent_and_never_shown(proxy: FaultProxy) -> None:
    token = "tok-" + uuid.uuid4().hex
    with client_for(proxy.url, auth=AuthKind.BEARER, secret=token) as client:
        client.list_registered_models()
        assert proxy.seen[0].headers["Authorization"] == f"Bearer {token}"
        proxy.set(Fault.ERROR_500)
        with pytest.raises(ServerError) as info:
            client.list_registered_models()
    assert token not in info.value.message


# -- faults ----------------------------------------------------------------------------------------


def _drop_first_model_name(payload: dict[str, Any]) -> dict[str, Any]:
    del payload["registered_models"][0]["name"]
    return payload


def _alias_version_not_a_number(payload: dict[str, Any]) -> dict[str, Any]:
    for model in payload["registered_models"]:
        for alias in model.get("aliases", []):
            alias["version"] = "latest-ish"
    return payload


def _models_not_a_list(payload: dict[str, Any]) -> dict[str, Any]:
    payload["registered_models"] = {"oops": True}
    return payload


@pytest.mark.parametrize(
    ("fault", "corrupt", "error", "fragment"),
    [
        (Fault.HTML, None, BadResponse, "HTML page instead of JSON"),
        (Fault.TRUNCATE, None, BadResponse, "truncated or malformed JSON"),
        (Fault.CORRUPT, _drop_first_model_name, BadResponse, "registered_model.name"),
        (Fault.CORRUPT, _alias_version_not_a_number, BadResponse, "expected an integer"),
        (Fault.CORRUPT, _models_not_a_list, BadResponse, "expected a list"),
        (Fault.ERROR_500, None, ServerError, "HTTP 500"),
        (Fault.DROP, None, RegistryUnavailable, "dropped the connection"),
        (Fault.HOST_403, None, PermissionDenied, "--allowed-hosts"),
    ],
)
def test_faults_become_domain_errors(
    proxy: FaultProxy,
    fault: Fault,
    corrupt: Callable[[Any], Any] | None,
    error: type[Exception],
    fragment: str,
) -> None:
    proxy.set(fault, corrupt=corrupt)
    with client_for(proxy.url, retries=2) as client, pytest.raises(error) as info:
        client.list_registered_models()
    message = str(info.value)
    assert fragment in message
    assert "'under-test'" in message and proxy.url in message
    if fault is Fault.ERROR_500:
        assert proxy.count == 3  # retried, then reported
        assert "after 3 attempts" in message
        assert "database is locked" in message
    if fault is Fault.HOST_403:
        assert proxy.url.removeprefix("http://") in message


def test_html_page_probe_says_not_mlflow(proxy: FaultProxy) -> None:
    proxy.set(Fault.HTML)
    with client_for(proxy.url) as client:
        report = client.probe()
    assert report.reachable and not report.is_mlflow and not report.auth_ok
    assert "HTML page" in report.message


def test_host_protection_probe_says_how_to_allow_the_host(proxy: FaultProxy) -> None:
    proxy.set(Fault.HOST_403)
    with client_for(proxy.url) as client:
        report = client.probe()
    assert report.reachable and not report.auth_ok
    assert "Host header" in report.message and "--allowed-hosts" in report.message


def test_cancelled_reads_stop_before_sending(proxy: FaultProxy) -> None:
    token = CancelToken()
    token.cancel()
    with client_for(proxy.url) as client:
        with pytest.raises(Cancelled):
            client.list_model_versions(token)
        with pytest.raises(Cancelled):
            client.fetch_runs([uuid.uuid4().hex], token)
    assert proxy.count == 0


def test_slow_server_times_out(proxy: FaultProxy) -> None:
    proxy.set(Fault.DELAY, delay_ms=1500)
    with (
        client_for(proxy.url, timeout_s=0.3, retries=1) as client,
        pytest.raises(RegistryUnavailable) as info,
    ):
        client.list_registered_models()
    assert "did not answer" in info.value.message and "0.3 s" in info.value.message


def test_unreachable_port() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with client_for(url, retries=1) as client:
        with pytest.raises(RegistryUnavailable) as info:
            client.list_registered_models()
        report = client.probe()
    assert "Cannot connect" in info.value.message and url in info.value.message
    assert not report.reachable and url in report.message


def test_transient_503s_are_retried_for_reads(proxy: FaultProxy) -> None:
    proxy.set(Fault.PASS, fail_first=2, fail_status=503)
    with client_for(proxy.url) as client:
        assert len(client.list_registered_models()) >= len(DEMO_MODELS)
    assert proxy.count == 3


def test_read_only_post_is_retried(proxy: FaultProxy, seeded_registry: MlflowRegistry) -> None:
    proxy.set(Fault.PASS, fail_first=1, fail_status=502)
    with client_for(proxy.url) as client:
        assert client.fetch_runs([uuid.uuid4().hex]) == {}
    assert proxy.paths()[:2] == ["/api/2.0/mlflow/experiments/search"] * 2


@pytest.fixture
def scratch_model(seeded_registry: MlflowRegistry) -> Iterator[str]:
    """A model of this test's own, so writes leave the seeded portfolio as it was."""
    name = f"gavel-scratch-{uuid.uuid4().hex[:8]}"
    with client_for(seeded_registry.url) as client:
        client.create_registered_model(name)
        yield name
        client.delete_registered_model(name)


def test_writes_are_not_retried_after_a_5xx(proxy: FaultProxy, scratch_model: str) -> None:
    proxy.set(Fault.PASS, fail_first=1, fail_status=503)
    with client_for(proxy.url) as client, pytest.raises(ServerError) as info:
        client.set_registered_model_tag(scratch_model, "gavel-test", "x")
    assert proxy.count == 1
    assert "HTTP 503" in info.value.message and "attempts" not in info.value.message


def test_writes_are_retried_after_429(proxy: FaultProxy, scratch_model: str) -> None:
    proxy.set(Fault.PASS, fail_first=1, fail_status=429)
    with client_for(proxy.url) as client:
        client.set_registered_model_tag(scratch_model, "gavel-test", "x")
    assert proxy.count == 2


# -- the server process ------------------------------------------------------------------------


def test_server_that_exits_reports_its_log(tmp_path: Any) -> None:
    server = MlflowServerProcess(tmp_path, extra_args=["--no-such-option"], startup_timeout_s=60)
    with pytest.raises(MlflowServerStartError) as info:
        server.start()
    assert "exited during start-up" in info.value.message
    assert "no-such-option" in info.value.message
    assert not server.running


def test_a_server_left_running_by_a_killed_console_is_stopped_at_the_next_start(
    tmp_path: Any,
) -> None:
    # The first process "dies" without stop(): its server outlives it, as after a
    # crash or kill -9 of the console. The next start over the same store stops it.
    orphan = MlflowServerProcess(tmp_path / "demo").start()
    successor = MlflowServerProcess(tmp_path / "demo")
    try:
        assert orphan.pid_path.read_text().split()[0].isdigit()
        successor.start()
        assert not orphan.running  # its whole process group was stopped
        with client_for(successor.url) as client:
            assert client.probe().is_mlflow
        assert successor.pid_path.read_text().split()[1] == successor.url.rsplit(":", 1)[1]
    finally:
        successor.stop()
        orphan.stop()
    assert not successor.pid_path.exists()


def test_a_pid_file_naming_another_program_stops_nothing(tmp_path: Any) -> None:
    # A pid reused by an unrelated program after a reboot must survive the start.
    other = subprocess.Popen(["sleep", "120"], start_new_session=True)
    server = MlflowServerProcess(tmp_path / "demo")
    try:
        server.pid_path.parent.mkdir(parents=True)
        server.pid_path.write_text(f"{other.pid} 5000\n")
        server.start()
        assert other.poll() is None
    finally:
        server.stop()
        other.kill()
        other.wait()
