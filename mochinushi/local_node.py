"""A real local OpenSearch node on 127.0.0.1, started and stopped by ``mochinushi opensearch``.

Each node lives in ``<home>/nodes/<http port>/`` (config, data, logs, pid file) so that several
nodes (or a test node beside a demo node) never share state. OpenSearch refuses to run as
root; as root we run it as the unprivileged system user ``mochinushi``, created on first use.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mochinushi.opensearch_dist import ensure_distribution

CLUSTER_NAME = "mochinushi-local"
NODE_USER = "mochinushi"
TRANSPORT_PORT_OFFSET = 100
START_TIMEOUT_SECONDS = 180.0


class LocalNodeError(RuntimeError):
    """The local node cannot be started, found or stopped; the message says what to do."""


@dataclass(frozen=True)
class NodePaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def pid_file(self) -> Path:
        return self.root / "opensearch.pid"

    @property
    def console_log(self) -> Path:
        return self.logs / "console.log"


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    url: str
    pid: int | None
    version: str | None = None
    plugins: tuple[str, ...] = ()
    heap_max: str | None = None
    data_path: str | None = None
    health: str | None = None


def find_java_home() -> Path:
    """The JDK to run OpenSearch with: ``JAVA_HOME``, else the ``java`` on ``PATH``."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    java = shutil.which("java")
    if java:
        candidates.append(Path(java).resolve().parent.parent)
    for home in candidates:
        if (home / "bin" / "java").exists():
            return home
    raise LocalNodeError(
        "Java 17+ was not found (no JAVA_HOME, no java on PATH). Install a JDK "
        "(e.g. apt-get install openjdk-17-jdk-headless), or use Docker (docker compose up), "
        "or point MOCHINUSHI_OPENSEARCH_URL at an existing cluster."
    )


def _http_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) still answers signal 0.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _is_opensearch_process(pid: int) -> bool:
    """A live pid that really is an OpenSearch JVM (pids are reused after a reboot)."""
    if not _pid_alive(pid):
        return False
    try:
        return b"opensearch" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _ensure_node_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(NODE_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise LocalNodeError(
            "OpenSearch refuses to run as root and useradd is missing to create the "
            f"'{NODE_USER}' user; run mochinushi as an ordinary user instead."
        )
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NODE_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(NODE_USER)


class LocalNode:
    """One single-node cluster on ``127.0.0.1:<port>``."""

    def __init__(self, home: Path, version: str, port: int = 9200, heap: str = "1g") -> None:
        self.home = home
        self.version = version
        self.port = port
        self.heap = heap
        self.paths = NodePaths(home / "nodes" / str(port))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- queries -----------------------------------------------------------------------------

    def read_pid(self) -> int | None:
        try:
            return int(self.paths.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _ours_answering(self) -> bool:
        try:
            info = _http_json(f"{self.url}/")
        except (OSError, ValueError):
            return False
        return bool(info.get("cluster_name") == CLUSTER_NAME)

    def status(self) -> NodeStatus:
        pid = self.read_pid()
        if pid is None or not _is_opensearch_process(pid) or not self._ours_answering():
            return NodeStatus(running=False, url=self.url, pid=pid if pid else None)
        info = _http_json(f"{self.url}/")
        nodes = _http_json(f"{self.url}/_nodes/_local/jvm,settings,plugins")
        node = next(iter(nodes["nodes"].values()))
        health = _http_json(f"{self.url}/_cluster/health")
        modules = sorted(p["name"] for p in [*node["plugins"], *node["modules"]])
        heap = node["jvm"]["mem"]["heap_max_in_bytes"]
        return NodeStatus(
            running=True,
            url=self.url,
            pid=pid,
            version=info["version"]["number"],
            plugins=tuple(modules),
            heap_max=f"{heap / 2**30:.2f} GiB",
            data_path=", ".join(_as_list(node["settings"]["path"]["data"])),
            health=health["status"],
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def up(self, progress: Callable[[str], None] = lambda _: None) -> NodeStatus:
        """Ensure the node runs and is healthy; idempotent."""
        pid = self.read_pid()
        if pid is not None and _is_opensearch_process(pid):
            return self._wait_healthy(pid)
        if pid is not None:
            progress(f"removing stale pid file (process {pid} is gone)")
            self.paths.pid_file.unlink(missing_ok=True)
        if _port_in_use(self.port) or _port_in_use(self.port + TRANSPORT_PORT_OFFSET):
            raise LocalNodeError(
                f"port {self.port} (or transport port {self.port + TRANSPORT_PORT_OFFSET}) is "
                "used by another process. Stop it, choose another port with --port, or point "
                "MOCHINUSHI_OPENSEARCH_URL at that cluster if it is one."
            )
        java_home = find_java_home()
        dist = ensure_distribution(self.home, self.version, progress)
        self._write_config()
        progress(f"starting OpenSearch {self.version} on {self.url} (heap {self.heap})")
        pid = self._spawn(dist, java_home)
        return self._wait_healthy(pid)

    def down(self, timeout: float = 60.0) -> bool:
        """Stop the node; returns False when nothing was running."""
        pid = self.read_pid()
        if pid is None or not _is_opensearch_process(pid):
            self.paths.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.2)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.paths.pid_file.unlink(missing_ok=True)
        return True

    # -- internals ---------------------------------------------------------------------------

    def _write_config(self) -> None:
        for folder in (self.paths.config, self.paths.data, self.paths.logs, self.paths.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        dist = ensure_distribution(self.home, self.version)
        shutil.copy(dist / "config" / "log4j2.properties", self.paths.config)
        (self.paths.config / "jvm.options").write_text(self._jvm_options())
        (self.paths.config / "opensearch.yml").write_text(self._opensearch_yml())

    def _opensearch_yml(self) -> str:
        settings = {
            "cluster.name": CLUSTER_NAME,
            "node.name": f"node-{self.port}",
            "network.host": "127.0.0.1",
            "http.port": self.port,
            "transport.port": self.port + TRANSPORT_PORT_OFFSET,
            "discovery.type": "single-node",
            "path.data": str(self.paths.data),
            "path.logs": str(self.paths.logs),
            # Developer machines often have little free disk; a watermark would silently make
            # indices read-only and every test fail far from the cause.
            "cluster.routing.allocation.disk.threshold_enabled": False,
            "action.destructive_requires_name": True,
        }
        return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())

    def _jvm_options(self) -> str:
        return "\n".join(
            [
                f"-Xms{self.heap}",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-XX:G1ReservePercent=25",
                "-XX:InitiatingHeapOccupancyPercent=30",
                f"-Djava.io.tmpdir={self.paths.tmp}",
                f"-XX:HeapDumpPath={self.paths.data}",
                f"-XX:ErrorFile={self.paths.logs}/hs_err_pid%p.log",
                "18-:-Djava.security.manager=allow",
                "-Djava.util.concurrent.ForkJoinPool.common.threadFactory="
                "org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory",
                "",
            ]
        )

    def _spawn(self, dist: Path, java_home: Path) -> int:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "OPENSEARCH_JAVA_HOME": str(java_home),
            "OPENSEARCH_PATH_CONF": str(self.paths.config),
            "OPENSEARCH_TMPDIR": str(self.paths.tmp),
            "LANG": "C.UTF-8",
        }
        user: int | None = None
        group: int | None = None
        if os.geteuid() == 0:
            account = _ensure_node_user()
            user, group = account.pw_uid, account.pw_gid
            for path in [self.paths.root, *self.paths.root.rglob("*")]:
                os.chown(path, user, group)
            env["HOME"] = str(self.paths.root)
        console = self.paths.console_log.open("ab")
        process = subprocess.Popen(
            [str(dist / "bin" / "opensearch")],
            cwd=self.paths.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=group,
        )
        console.close()
        self.paths.pid_file.write_text(f"{process.pid}\n")
        return process.pid

    def _log_tail(self, lines: int = 30) -> str:
        candidates = [self.paths.logs / f"{CLUSTER_NAME}.log", self.paths.console_log]
        for log in candidates:
            if log.exists() and log.stat().st_size:
                return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log written)"

    def _wait_healthy(self, pid: int) -> NodeStatus:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                self.paths.pid_file.unlink(missing_ok=True)
                raise LocalNodeError(
                    f"OpenSearch exited during start-up. Last lines of its log:\n{self._log_tail()}"
                )
            try:
                health = _http_json(
                    f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=2s", timeout=5
                )
                if health.get("status") in ("yellow", "green"):
                    return self.status()
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        raise LocalNodeError(
            f"OpenSearch did not become healthy within {START_TIMEOUT_SECONDS:.0f}s. "
            f"Last lines of its log:\n{self._log_tail()}"
        )
