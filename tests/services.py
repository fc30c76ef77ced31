"""Real services for tests: a throw-away PostgreSQL server and Dask clusters of separate processes.

Fixtures (registered by `pytest_plugins = ["services"]` in conftest.py):

    postgres_server   session   a PostgresServer; .create_database() -> SQLAlchemy URL
    postgres_url      function  URL of a fresh empty database on that server
    dask_cluster      module    factory: dask_cluster(n_workers=2, tls=False, ...) -> DaskCluster,
                                started with its workers connected; all stopped at the module's end

Both classes are also context managers, for tests that want their own scope.
Nothing is skipped: a missing PostgreSQL fails with how to install it.
"""
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.prefix) / "bin"  # the running interpreter's environment (.venv under make)
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_SUPERUSER = "postgres"


# ---------------------------------------------------------------- processes

def alive(pid):
    """True if pid is a running process (a zombie nobody reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # [state, ppid, pgrp, session, ...]


def processes(where):
    """PIDs of live processes whose /proc stat fields satisfy where(fields)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = _stat_fields(entry)
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[0] not in ("Z", "X") and where(fields):
                found.append(int(entry))
    return found


def wait_gone(pids, timeout):
    """Wait until none of pids is alive; return those still alive after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text[-lines:])


# ---------------------------------------------------------------- PostgreSQL

def postgres_bin():
    """The newest PostgreSQL server's bin folder, or a failure that says how to get one."""
    found = sorted(glob.glob(PG_BIN_GLOB + "/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not found:
        pytest.fail(f"No PostgreSQL server: nothing matches {PG_BIN_GLOB}/initdb. `make test` run as root "
                    "installs Debian's package `postgresql` (or: apt-get install postgresql).", pytrace=False)
    return Path(found[-1]).parent


class PostgresServer:
    """A PostgreSQL server in a temporary folder, on a Unix socket only, trusting local connections.

    As root the server runs as the OS user 'postgres' (else 'nobody'), since postgres refuses root.
    """

    def __init__(self):
        self.bin = postgres_bin()
        self.dir = None
        self.postmaster_pid = None
        self._databases = 0
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                user = pwd.getpwnam("nobody")
            self.uid, self.gid = user.pw_uid, user.pw_gid
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()

    @property
    def data(self):
        return self.dir / "data"

    @property
    def socket_dir(self):
        return self.dir

    @property
    def log(self):
        return self.dir / "postgres.log"

    def _run(self, *args, timeout=60):
        command = [str(self.bin / args[0]), *map(str, args[1:])]
        if os.geteuid() == 0:
            command = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", *command]
        result = subprocess.run(command, cwd=self.dir, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, "LC_ALL": "C", "PGTZ": "UTC"})
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
                               f"\n--- {self.log}:\n{tail(self.log)}")
        return result

    def start(self):
        # A short path of its own under /tmp: the socket's path must stay under 108 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
        os.chown(self.dir, self.uid, self.gid)
        try:
            self._run("initdb", "-D", self.data, "-U", PG_SUPERUSER, "--auth=trust", "--no-locale",
                      "--encoding=UTF8", "--no-sync")
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(f"\nlisten_addresses = ''\nunix_socket_directories = '{self.socket_dir}'\n"
                           "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            self._run("pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-l", self.log, timeout=90)
            self.postmaster_pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except BaseException:
            self.stop()
            raise
        return self

    def pids(self):
        """The postmaster and its children (checkpointer, backends, ...)."""
        if self.postmaster_pid is None:
            return []
        pid = self.postmaster_pid
        return [p for p in [pid] if alive(p)] + processes(lambda f: f[1] == str(pid))

    def connect(self, dbname="postgres"):
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), user=PG_SUPERUSER, dbname=dbname, autocommit=True,
                               connect_timeout=10)

    def url(self, dbname):
        """SQLAlchemy URL of a database on this server, for psycopg 3 over the Unix socket."""
        return f"postgresql+psycopg://{PG_SUPERUSER}@/{dbname}?host={self.socket_dir}"

    def create_database(self, name=None):
        """Create an empty database and return its SQLAlchemy URL."""
        self._databases += 1
        name = name or f"test_{self._databases}"
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self):
        """Stop the server at once and remove its folder; kills it if pg_ctl cannot."""
        if self.dir is None:
            return
        pids = self.pids()
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-t", "30", "-D", self.data, timeout=45)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        for pid in wait_gone(pids, 10):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        left = wait_gone(pids, 10)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        if left:
            raise RuntimeError(f"PostgreSQL processes {left} survived SIGKILL")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the whole session; stopped and removed at its end, even on failure."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh empty database on the session's server: its SQLAlchemy URL."""
    return postgres_server.create_database()


# ---------------------------------------------------------------- Dask

def make_tls_files(folder):
    """A throw-away CA, and one certificate (with its key) for 127.0.0.1/localhost signed by it.

    The one certificate serves the scheduler, the workers and clients alike (server and client auth).
    Returns (ca_file, cert_file, key_file).
    """
    folder = Path(folder)
    ca_key, ca, key, csr, cert, ext = (folder / n for n in
                                       ("ca-key.pem", "ca.pem", "key.pem", "cert.csr", "cert.pem", "cert.ext"))
    ext.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                   "basicConstraints = critical, CA:FALSE\n"
                   "keyUsage = critical, digitalSignature, keyEncipherment\n"
                   "extendedKeyUsage = serverAuth, clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=test CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext],
    ):
        result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{result.stderr}")
    return ca, cert, key


@dataclass
class DaskProcess:
    """A scheduler or worker: its own process group (PID = group id), its log file."""
    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self):
        return self.process.pid

    def pids(self):
        """Every live process of its group (a nanny's worker included)."""
        return processes(lambda f: f[2] == str(self.pid))

    def kill(self, sig=signal.SIGKILL):
        """Send sig to the whole group; e.g. a worker killed the hard way."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


@dataclass
class DaskCluster:
    """A `dask scheduler` and `dask worker`s, each a separate process started from the venv's `dask` CLI.

    Workers run in a temporary working directory (never the course folder) with PYTHONPATH = the
    repository root (so `coursetools` imports) plus `pythonpath`, PATH starting with the venv's bin,
    and `env` added.  Without a nanny (the default) a worker's PID is the worker itself: SIGKILL it
    and it stays dead.  With nanny=True its nanny restarts it.
    """
    n_workers: int = 2
    tls: bool = False
    nanny: bool = False
    env: dict = field(default_factory=dict)
    cwd: Path = None
    pythonpath: list = field(default_factory=list)
    timeout: float = 60
    wrap: list = field(default_factory=list)  # a command that runs each worker's command (e.g. unshare ...)

    def __post_init__(self):
        self.dir = None
        self.scheduler = None
        self.workers = []
        self.address = None
        self.security = None
        self._tls_files = None
        self._count = 0

    # -- starting
    def _environment(self):
        env = dict(os.environ)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        paths = [str(REPO), *map(str, self.pythonpath)]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        env["DASK_TEMPORARY_DIRECTORY"] = str(self.dir)  # not /tmp/dask-scratch-space, shared by all
        env.update(self.env)
        return env

    def _tls_args(self):
        if not self.tls:
            return []
        ca, cert, key = self._tls_files
        return ["--tls-ca-file", ca, "--tls-cert", cert, "--tls-key", key]

    def _spawn(self, name, args, wrap=()):
        log = self.dir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([*map(str, wrap), str(VENV_BIN / "dask"), *map(str, args)],
                                       stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd or self.dir,
                                       env=self._environment(), start_new_session=True)
        return DaskProcess(name, process, log)

    def start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="dask-"))
        try:
            if self.tls:
                self._tls_files = make_tls_files(self.dir)
                from distributed.security import Security

                ca, cert, key = map(str, self._tls_files)
                self.security = Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key,
                                         require_encryption=True)
            scheduler_file = self.dir / "scheduler.json"
            self.scheduler = self._spawn("scheduler", [
                "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--protocol", "tls" if self.tls else "tcp", "--scheduler-file", scheduler_file,
                *self._tls_args()])
            self.address = self._wait_scheduler_address(scheduler_file)
            for _ in range(self.n_workers):
                self.add_worker()
            self.wait_for_workers(self.n_workers)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_scheduler_address(self, scheduler_file):
        import json

        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.scheduler.process.poll() is not None:
                self._fail(f"the scheduler exited with {self.scheduler.process.returncode}")
            try:
                return json.loads(scheduler_file.read_text())["address"]
            except (FileNotFoundError, ValueError, KeyError):
                time.sleep(0.05)
        self._fail(f"the scheduler wrote no {scheduler_file} within {self.timeout} s")

    def add_worker(self, name=None):
        """Start one more worker process (1 thread); returns its DaskProcess. Does not wait for it."""
        self._count += 1
        name = name or f"worker-{self._count}"
        worker = self._spawn(name, [
            "worker", self.address, "--name", name, "--nthreads", "1", "--nworkers", "1",
            "--nanny" if self.nanny else "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
            "--local-directory", self.dir / name, "--death-timeout", str(self.timeout), *self._tls_args()],
            wrap=self.wrap)
        self.workers.append(worker)
        return worker

    def worker(self, name):
        return next(w for w in self.workers if w.name == name)

    # -- using
    def client(self, **kwargs):
        """A distributed.Client on this cluster (with its Security under TLS). Close it yourself."""
        from distributed import Client

        kwargs.setdefault("timeout", 30)
        return Client(self.address, security=self.security, set_as_default=False, **kwargs)

    def wait_for_workers(self, n, timeout=None):
        """Wait until n workers are connected to the scheduler; fails with every log if they are not."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self.client() as client:
            while True:
                if self.scheduler.process.poll() is not None:
                    self._fail(f"the scheduler exited with {self.scheduler.process.returncode}")
                try:
                    client.wait_for_workers(n, timeout=min(1.0, max(0.1, deadline - time.monotonic())))
                    return
                except TimeoutError:
                    if time.monotonic() > deadline:
                        self._fail(f"{n} workers were not connected within {timeout or self.timeout} s "
                                   f"(worker exit codes: {[w.process.poll() for w in self.workers]})")

    def worker_pids(self, client):
        """{worker address: PID of the process running its tasks}."""
        return client.run(os.getpid)

    def logs(self):
        return "\n".join(f"--- {p.name} (pid {p.pid}, exit {p.process.poll()}) {p.log}:\n{tail(p.log)}"
                         for p in [self.scheduler, *self.workers] if p)

    def _fail(self, message):
        raise RuntimeError(f"Dask cluster: {message}\n{self.logs()}")

    def pids(self):
        """Every live process this cluster started (each group, children included)."""
        return [pid for p in [self.scheduler, *self.workers] if p for pid in p.pids()]

    # -- stopping
    def stop(self):
        """Stop every process and remove the folder: SIGTERM to the workers' groups, then to the
        scheduler's (a worker sent SIGTERM while its scheduler closes may hang), 3 s each at most,
        then SIGKILL to whatever is left."""
        pids = self.pids()
        for group in (self.workers, [self.scheduler] if self.scheduler else []):
            for p in group:
                p.kill(signal.SIGTERM)
            deadline = time.monotonic() + 3
            for p in group:
                try:
                    p.process.wait(timeout=max(0.01, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for p in [*self.workers, self.scheduler]:
            if p:
                p.kill(signal.SIGKILL)
                p.process.wait(timeout=10)
        for pid in wait_gone(pids, 1):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        left = wait_gone(pids, 10)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if left:
            raise RuntimeError(f"Dask processes {left} survived SIGKILL")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="module")
def dask_cluster():
    """Factory: dask_cluster(n_workers=2, tls=False, nanny=False, env={}, cwd=None, pythonpath=[], wrap=[])
    starts a DaskCluster and waits for its workers; every cluster is stopped at the module's end."""
    clusters = []

    def start(**options):
        cluster = DaskCluster(**options)
        clusters.append(cluster)
        return cluster.start()

    yield start
    errors = []
    for cluster in reversed(clusters):
        try:
            cluster.stop()
        except Exception as error:  # stop the others all the same
            errors.append(error)
    if errors:
        raise errors[0]

