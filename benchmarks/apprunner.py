"""Run the real app (scripts/entrypoint.sh) on a free port: for the UI benchmark and the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from cloudtrack_app.settings import PROJECT_ROOT

ENTRYPOINT = PROJECT_ROOT / "scripts" / "entrypoint.sh"
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningApp:
    def __init__(
        self, process: subprocess.Popen[bytes], base_url: str, log_path: Path, database_url: str
    ) -> None:
        self.process, self.base_url, self.log_path = process, base_url, log_path
        self.database_url = database_url

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a container runtime sends it; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise
        return self.process.returncode


@contextmanager
def running_app(
    database_url: str, work_dir: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[RunningApp]:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "CLOUDTRACK_DATA_DIR": str(work_dir / "data"),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "NO_PROXY": "127.0.0.1,localhost",
        **(extra_env or {}),
    }
    log_path = work_dir / "app.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(ENTRYPOINT)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    app = RunningApp(process, f"http://127.0.0.1:{port}", log_path, database_url)
    try:
        wait_healthy(app)
        yield app
    finally:
        if process.poll() is None:
            with suppress(subprocess.TimeoutExpired):
                app.stop()


def wait_healthy(app: RunningApp) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"the app exited with {app.process.returncode}:\n{app.log()[-4000:]}")
        try:
            if httpx.get(f"{app.base_url}/_health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the app did not become healthy in {START_TIMEOUT_S}s:\n{app.log()[-4000:]}")
