"""A local MLflow tracking server in a child process: the demo registry and test fixture.

MLflow runs from its own virtualenv (it is never imported by Gavel); this module
starts `mlflow server` on loopback with a SQLite store, waits until it answers and
stops it together with the worker processes it spawns.

A pid file in the data directory names the running server. A console that was
killed (or crashed) cannot stop its demo server; the next start finds the pid
file, checks that the process is still an MLflow server over the same store, and
stops it before starting a new one, so servers never pile up on one store.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import requests

from app.domain.errors import ConfigError, GavelError

LOOPBACK = "127.0.0.1"
_LOG_TAIL_LINES = 30
_PORT_ATTEMPTS = 3


@dataclass(frozen=True)
class BasicAuthAdmin:
    """The admin account MLflow's basic-auth app creates on its first start."""

    username: str
    password: str


class MlflowServerStartError(GavelError):
    """The MLflow server process exited or did not answer in time."""


def find_mlflow_bin(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The mlflow executable: explicit, else $GAVEL_MLFLOW_BIN, else <repo>/.venv-mlflow."""
    env = os.environ if environ is None else environ
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif env.get("GAVEL_MLFLOW_BIN"):
        candidates.append(Path(env["GAVEL_MLFLOW_BIN"]))
    else:
        repo_root = Path(__file__).resolve().parents[2]
        bin_dir = "Scripts" if sys.platform == "win32" else "bin"
        exe = "mlflow.exe" if sys.platform == "win32" else "mlflow"
        candidates.append(repo_root / ".venv-mlflow" / bin_dir / exe)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise ConfigError(
        f"The MLflow server program was not found at {candidates[0]}; run `make mlflow-venv` "
        "to install it, or set GAVEL_MLFLOW_BIN to an mlflow executable."
    )


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class MlflowServerProcess:
    """`mlflow server` on loopback with a SQLite backend and artifacts under data_dir.

    port: fixed port, or None for a free one (retried if another process takes it).
    auth: run MLflow's basic-auth app with this admin (password passed by environment,
        never written to disk).
    extra_args: more `mlflow server` options, e.g. ("--allowed-hosts", "example.com").
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        mlflow_bin: str | os.PathLike[str] | None = None,
        auth: BasicAuthAdmin | None = None,
        workers: int = 1,
        startup_timeout_s: float = 90.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self._fixed_port = port
        self._bin = find_mlflow_bin(mlflow_bin)
        self._auth = auth
        self._workers = workers
        self._startup_timeout_s = startup_timeout_s
        self._extra_args = tuple(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._port = 0

    @property
    def url(self) -> str:
        if not self._port:
            raise GavelError("The MLflow server has not been started.")
        return f"http://{LOOPBACK}:{self._port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "mlflow-server.log"

    @property
    def pid_path(self) -> Path:
        return self.data_dir / "mlflow-server.pid"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "mlflow.db"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> MlflowServerProcess:
        """Start the server and return once /health answers."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "artifacts").mkdir(exist_ok=True)
        self._stop_stale_server()
        attempts = 1 if self._fixed_port else _PORT_ATTEMPTS
        for attempt in range(attempts):
            self._port = self._fixed_port or free_port()
            self._spawn()
            try:
                self._wait_ready()
                return self
            except MlflowServerStartError:
                port_taken = "address already in use" in self.log_tail().lower()
                self.stop()
                if not port_taken or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the server and its workers; kill whatever lingers past timeout_s."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._signal_group(proc, terminate=True)
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout_s)
        # uvicorn workers share the group and may outlive the parent by a moment.
        while self._group_alive(proc) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._signal_group(proc, terminate=False)
        if proc.poll() is None:
            proc.wait(timeout=timeout_s)
        self._forget_pid(proc.pid)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> MlflowServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------

    def _stop_stale_server(self) -> None:
        """Stop the server a previous, killed process left running on this store."""
        try:
            pid = int(self.pid_path.read_text(encoding="ascii").split()[0])
        except (OSError, ValueError, IndexError):
            return
        if sys.platform != "win32" and _serves_store(pid, self.store_path):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10.0
            while _group_exists(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            self.pid_path.unlink()

    def _forget_pid(self, pid: int) -> None:
        try:
            if self.pid_path.read_text(encoding="ascii").split()[0] == str(pid):
                self.pid_path.unlink()
        except (OSError, IndexError):
            pass

    def _command(self) -> list[str]:
        db = self.store_path.as_posix()
        cmd = [
            str(self._bin),
            "server",
            "--backend-store-uri",
            f"sqlite:///{db}",
            # With --artifacts-destination (and serving on, the default) new experiments
            # get mlflow-artifacts:/ roots served by this server: what MLflow 3 wants for
            # a self-contained local server.
            "--artifacts-destination",
            str(self.data_dir / "artifacts"),
            "--workers",
            str(self._workers),
            "--host",
            LOOPBACK,
            "--port",
            str(self._port),
        ]
        if self._auth is not None:
            cmd += ["--app-name", "basic-auth"]
        # MLflow's default --allowed-hosts already admits localhost and 127.0.0.1 on any
        # port, so loopback clients pass its DNS-rebinding check without extra flags.
        return cmd + list(self._extra_args)

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "DO_NOT_TRACK": "true",
                # The job runner spawns a fleet of huey consumers Gavel never uses.
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self._auth is not None:
            ini = self.data_dir / "basic_auth.ini"
            auth_db = (self.data_dir / "basic_auth.db").as_posix()
            ini.write_text(
                "[mlflow]\n"
                "default_permission = READ\n"
                f"database_uri = sqlite:///{auth_db}\n"
                f"admin_username = {self._auth.username}\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
                encoding="utf-8",
            )
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
            env["MLFLOW_AUTH_ADMIN_USERNAME"] = self._auth.username
            env["MLFLOW_AUTH_ADMIN_PASSWORD"] = self._auth.password
            env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(16))
        return env

    def _spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"--- starting mlflow server on port {self._port}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self._command(),
                cwd=self.data_dir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so stop() reaches the uvicorn workers too.
                start_new_session=sys.platform != "win32",
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            )
        self.pid_path.write_text(f"{self._proc.pid} {self._port}\n", encoding="ascii")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout_s
        health = f"{self.url}/health"
        with requests.Session() as session:
            while True:
                proc = self._proc
                if proc is None or proc.poll() is not None:
                    code = None if proc is None else proc.returncode
                    raise MlflowServerStartError(
                        f"The MLflow server exited during start-up (code {code}); its log "
                        f"({self.log_path}) ends with:\n{self.log_tail()}"
                    )
                try:
                    if session.get(health, timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass  # Not listening yet.
                if time.monotonic() > deadline:
                    raise MlflowServerStartError(
                        f"The MLflow server did not answer {health} within "
                        f"{self._startup_timeout_s:g} s; its log ({self.log_path}) ends "
                        f"with:\n{self.log_tail()}"
                    )
                time.sleep(0.1)

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], *, terminate: bool) -> None:
        if sys.platform == "win32":
            if proc.poll() is None:
                if terminate:
                    proc.terminate()
                else:
                    proc.kill()
            return
        # ProcessLookupError: the whole group is gone already.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM if terminate else signal.SIGKILL)

    @staticmethod
    def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
        if sys.platform == "win32":
            return proc.poll() is None
        proc.poll()  # reap the parent so it does not count as alive
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _serves_store(pid: int, store: Path) -> bool:
    """Whether pid is still an `mlflow server` over this store (not a reused pid).

    Read from /proc; where there is none (macOS), nothing is stopped: a wrong guess
    would kill someone else's process.
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = raw.decode("utf-8", errors="replace").split("\0")
    return "server" in args and f"sqlite:///{store.as_posix()}" in args
