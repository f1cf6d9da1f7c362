"""A real local OpenSearch node on 127.0.0.1, started and stopped by ``mochinushi opensearch``.

Each node lives in ``<home>/nodes/<http port>/`` (config, data, logs, pid file) so that several
nodes (or a test node beside a demo node) never share state. OpenSearch refuses to run as
root; as root we run it as the unprivileged system user ``mochinushi``, created on first use.

``LocalCluster`` runs several such nodes as one cluster (``mochinushi opensearch up --nodes 3``)
so that replicas, node loss and re-election can be tried on one machine. Its members are
``LocalNode`` objects that differ only in their folder, cluster name and discovery settings;
starting, stopping, configuring and waiting are the single node's code.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mochinushi.localdev.distribution import ensure_distribution

CLUSTER_NAME = "mochinushi-local"
NODE_USER = "mochinushi"
TRANSPORT_PORT_OFFSET = 100
START_TIMEOUT_SECONDS = 180.0
# The single node's transport port is 9300; a cluster based at 9300 would collide with it.
CLUSTER_BASE_PORT = 9210
# Three 1g heaps plus the single node would crowd a small machine; 512m holds test indices.
CLUSTER_HEAP = "512m"


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


@dataclass(frozen=True)
class ClusterStatus:
    """Every member of a ``LocalCluster``, with the cluster-wide view of the first answering one."""

    name: str
    nodes: tuple[tuple[str, NodeStatus], ...]
    health: str | None = None
    cluster_manager: str | None = None

    @property
    def running(self) -> bool:
        """True only when every member answers: a cluster short of a node is degraded."""
        return all(status.running for _, status in self.nodes)


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


def _wait_for_health(
    started: Sequence[tuple[LocalNode, int]],
    health_query: str,
    ready: Callable[[dict[str, Any]], bool],
    goal: str,
) -> None:
    """Poll ``_cluster/health`` on the started nodes until ``ready``; fail fast if one dies.

    Any answering node can report the cluster's health, so the nodes are asked in turn (a node
    just restarted after a crash answers only once it has rejoined).
    """
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for node, pid in started:
            if not _pid_alive(pid):
                node.paths.pid_file.unlink(missing_ok=True)
                raise LocalNodeError(
                    f"{node.title} exited during start-up. Last lines of its log:\n"
                    f"{node._log_tail()}"
                )
        for node, _ in started:
            try:
                health = _http_json(f"{node.url}/_cluster/health?{health_query}", timeout=5)
            except (OSError, ValueError):
                continue
            if ready(health):
                return
            break
        time.sleep(0.5)
    raise LocalNodeError(
        f"OpenSearch did not become {goal} within {START_TIMEOUT_SECONDS:.0f}s. "
        f"Last lines of its log:\n{started[0][0]._log_tail()}"
    )


class LocalNode:
    """One single-node cluster on ``127.0.0.1:<port>``."""

    def __init__(self, home: Path, version: str, port: int = 9200, heap: str = "1g") -> None:
        self.home = home
        self.version = version
        self.port = port
        self.heap = heap
        self.paths = NodePaths(home / "nodes" / str(port))
        self.name = f"node-{port}"
        self.cluster_name = CLUSTER_NAME
        self.transport_port = port + TRANSPORT_PORT_OFFSET

    @property
    def title(self) -> str:
        """How errors name this node."""
        return "OpenSearch"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def snapshots(self) -> Path:
        """The node's ``path.repo``: filesystem snapshot repositories live under it
        (``mochinushi snapshot``; a relative repository location is resolved against it)."""
        return self.paths.root / "snapshots"

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
        return bool(info.get("cluster_name") == self.cluster_name)

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
        pid = self._live_pid(progress)
        if pid is None:
            self._check_ports_free()
            pid = self._launch(progress)
        return self._wait_healthy(pid)

    def down(self, timeout: float = 60.0) -> bool:
        """Stop the node; returns False when nothing was running."""
        pid = self._terminate()
        if pid is None:
            return False
        self._reap(pid, time.monotonic() + timeout)
        return True

    # -- steps of up and down (a LocalCluster runs each step over all its members) -----------

    def _live_pid(self, progress: Callable[[str], None]) -> int | None:
        """The pid of this node's running JVM; a pid file left by a dead one is removed."""
        pid = self.read_pid()
        if pid is not None and _is_opensearch_process(pid):
            return pid
        if pid is not None:
            progress(f"removing stale pid file (process {pid} is gone)")
            self.paths.pid_file.unlink(missing_ok=True)
        return None

    def _check_ports_free(self) -> None:
        if _port_in_use(self.port) or _port_in_use(self.transport_port):
            raise LocalNodeError(
                f"port {self.port} (or transport port {self.transport_port}) is "
                "used by another process. Stop it, choose another port with --port, or point "
                "MOCHINUSHI_OPENSEARCH_URL at that cluster if it is one."
            )

    def _launch(self, progress: Callable[[str], None]) -> int:
        """Write the configuration and start the JVM; returns its pid without waiting."""
        java_home = find_java_home()
        dist = ensure_distribution(self.home, self.version, progress)
        self._write_config()
        progress(f"starting OpenSearch {self.version} on {self.url} (heap {self.heap})")
        return self._spawn(dist, java_home)

    def _terminate(self) -> int | None:
        """SIGTERM the node's JVM; None (and no pid file left) when nothing was running."""
        pid = self.read_pid()
        if pid is None or not _is_opensearch_process(pid):
            self.paths.pid_file.unlink(missing_ok=True)
            return None
        os.kill(pid, signal.SIGTERM)
        return pid

    def _reap(self, pid: int, deadline: float) -> None:
        """Wait for a terminated JVM to exit, SIGKILL it past ``deadline``, drop the pid file."""
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.2)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.paths.pid_file.unlink(missing_ok=True)

    # -- internals ---------------------------------------------------------------------------

    def _write_config(self) -> None:
        for folder in (
            self.paths.config,
            self.paths.data,
            self.paths.logs,
            self.paths.tmp,
            self.snapshots,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        dist = ensure_distribution(self.home, self.version)
        shutil.copy(dist / "config" / "log4j2.properties", self.paths.config)
        (self.paths.config / "jvm.options").write_text(self._jvm_options())
        (self.paths.config / "opensearch.yml").write_text(self._opensearch_yml())

    def _opensearch_yml(self) -> str:
        settings = {
            "cluster.name": self.cluster_name,
            "node.name": self.name,
            "network.host": "127.0.0.1",
            "http.port": self.port,
            "transport.port": self.transport_port,
            **self._discovery_settings(),
            "path.data": str(self.paths.data),
            "path.logs": str(self.paths.logs),
            "path.repo": [str(self.snapshots)],
            # Developer machines often have little free disk; a watermark would silently make
            # indices read-only and every test fail far from the cause.
            "cluster.routing.allocation.disk.threshold_enabled": False,
            "action.destructive_requires_name": True,
        }
        return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())

    def _discovery_settings(self) -> dict[str, Any]:
        """A lone node elects itself: it neither looks for peers nor waits for votes."""
        return {"discovery.type": "single-node"}

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
            for path in [self.paths.root, *self.paths.root.rglob("*"), self.snapshots]:
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
        candidates = [self.paths.logs / f"{self.cluster_name}.log", self.paths.console_log]
        for log in candidates:
            if log.exists() and log.stat().st_size:
                return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log written)"

    def _wait_healthy(self, pid: int) -> NodeStatus:
        _wait_for_health(
            [(self, pid)],
            "wait_for_status=yellow&timeout=2s",
            lambda health: health.get("status") in ("yellow", "green"),
            "healthy",
        )
        return self.status()


class ClusterMember(LocalNode):
    """Node ``index`` of a ``LocalCluster``: its own folder, the cluster's name and peers."""

    def __init__(self, cluster: LocalCluster, index: int) -> None:
        super().__init__(cluster.home, cluster.version, cluster.base_port + index, cluster.heap)
        self.cluster = cluster
        self.name = f"node-{index}"
        self.cluster_name = cluster.name
        self.paths = NodePaths(cluster.root / self.name)

    @property
    def title(self) -> str:
        return f"OpenSearch {self.name} of {self.cluster_name}"

    @property
    def snapshots(self) -> Path:
        """One directory for every member: a filesystem repository must be shared."""
        return self.cluster.root / "snapshots"

    def _discovery_settings(self) -> dict[str, Any]:
        """Peers by transport address; the first election's voters only for a fresh cluster.

        ``cluster.initial_cluster_manager_nodes`` must not be set once the cluster has formed:
        a member whose data was wiped would otherwise be able to bootstrap a second cluster
        of the same name instead of rejoining.
        """
        settings: dict[str, Any] = {"discovery.seed_hosts": self.cluster.seed_hosts()}
        if self.cluster.bootstrapping:
            settings["cluster.initial_cluster_manager_nodes"] = [
                member.name for member in self.cluster.members
            ]
        return settings


class LocalCluster:
    """``size`` nodes on 127.0.0.1 forming one cluster, for replicas and node-loss tests.

    HTTP ports are ``base_port`` … ``base_port + size - 1`` (transport ports 100 higher) and the
    members live in ``<home>/clusters/<base_port>/node-<i>/``. The cluster name carries the base
    port, so a member can join neither the single node nor another local cluster.
    """

    def __init__(
        self,
        home: Path,
        version: str,
        size: int = 3,
        base_port: int = CLUSTER_BASE_PORT,
        heap: str = CLUSTER_HEAP,
    ) -> None:
        if size < 2:
            raise ValueError("a local cluster has at least 2 nodes; use LocalNode for one")
        self.home = home
        self.version = version
        self.base_port = base_port
        self.heap = heap
        self.name = f"mochinushi-cluster-{base_port}"
        self.root = home / "clusters" / str(base_port)
        self.bootstrapping = False
        self.members = tuple(ClusterMember(self, i) for i in range(size))

    @property
    def url(self) -> str:
        """The first member's URL (clients may use any member)."""
        return self.members[0].url

    def seed_hosts(self) -> list[str]:
        return [f"127.0.0.1:{member.transport_port}" for member in self.members]

    @property
    def formed_marker(self) -> Path:
        return self.root / "formed"

    def is_fresh(self) -> bool:
        """True until the cluster has once been green, or when every member's data is gone.

        Nodes write their own state (``data/nodes``) before they find their peers, so that alone
        cannot tell a cluster that formed from a first start that failed half-way.
        """
        never_formed = not self.formed_marker.exists()
        no_data = not any((member.paths.data / "nodes").exists() for member in self.members)
        return never_formed or no_data

    def member(self, name: str) -> ClusterMember:
        return next(m for m in self.members if m.name == name)

    def status(self) -> ClusterStatus:
        nodes = tuple((m.name, self._member_status(m)) for m in self.members)
        answering = [status for _, status in nodes if status.running]
        manager = None
        if answering:
            try:
                found = _http_json(f"{answering[0].url}/_cat/cluster_manager?format=json")
                manager = str(found[0]["node"])
            except (OSError, ValueError, LookupError):
                manager = None
        return ClusterStatus(
            name=self.name,
            nodes=nodes,
            health=answering[0].health if answering else None,
            cluster_manager=manager,
        )

    def up(self, progress: Callable[[str], None] = lambda _: None) -> ClusterStatus:
        """Ensure every member runs and the cluster is green with all of them; idempotent.

        Members that are down (stopped, or killed by a fault test) are started again. The
        ports of all of them are checked before any starts, so a clash leaves nothing running.
        """
        pids = [(member, member._live_pid(progress)) for member in self.members]
        stopped = [member for member, pid in pids if pid is None]
        for member in stopped:
            member._check_ports_free()
        self.bootstrapping = self.is_fresh()
        if self.bootstrapping:
            progress(f"bootstrapping a new cluster {self.name} of {len(self.members)} nodes")
        started = [
            (member, pid if pid is not None else member._launch(progress)) for member, pid in pids
        ]
        size = len(self.members)
        _wait_for_health(
            started,
            f"wait_for_status=green&wait_for_nodes={size}&timeout=2s",
            # A node joins the cluster before its HTTP port is bound: green with all nodes is
            # not yet "every node answers", which is what callers (and `status`) expect.
            lambda health: (
                health.get("status") == "green"
                and health.get("number_of_nodes") == size
                and all(member._ours_answering() for member, _ in started)
            ),
            f"green with {size} nodes",
        )
        self.formed_marker.touch()
        return self.status()

    def down(self, timeout: float = 60.0) -> list[str]:
        """Stop every member; returns the names of those that were running.

        All are signalled before any is waited for: stopped one by one, the survivors would
        spend the shutdown re-electing and reallocating shards in vain.
        """
        deadline = time.monotonic() + timeout
        terminated = [(m, pid) for m in self.members if (pid := m._terminate()) is not None]
        for member, pid in terminated:
            member._reap(pid, deadline)
        return [member.name for member, _ in terminated]

    @staticmethod
    def _member_status(member: ClusterMember, attempts: int = 2) -> NodeStatus:
        """A member's status; a live JVM that does not answer in time reports its pid only.

        A node just started (or in a cluster that lost its quorum) can take longer than the
        status calls' timeout, so it is asked once more before it is called unresponsive. The
        pid of a killed member (its pid file survives a SIGKILL) is not reported.
        """
        for attempt in range(attempts):
            try:
                status = member.status()
            except (OSError, ValueError, LookupError):
                if attempt + 1 < attempts:
                    time.sleep(1.0)
                continue
            if status.running:
                return status
            break
        pid = member.read_pid()
        alive = pid if pid is not None and _is_opensearch_process(pid) else None
        return NodeStatus(running=False, url=member.url, pid=alive)
