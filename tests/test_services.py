"""The test services are real: PostgreSQL on a Unix socket, Dask clusters of separate processes."""
import os
import signal
import time
from pathlib import Path

import pytest
from services import VENV_BIN, DaskCluster, PostgresServer, alive, make_tls_files

pytestmark = pytest.mark.slow

# Dask pickles the functions defined here by reference (cloudpickle.register_pickle_by_value has no
# effect on a task), so the workers that run them get this folder on their PYTHONPATH.
TESTS = Path(__file__).resolve().parent


def where_am_i():
    """(PID, working directory, the folder coursetools is imported from) of the worker running it."""
    import coursetools

    return os.getpid(), os.getcwd(), str(Path(coursetools.__file__).parent.parent)


def sleep_then_pid(seconds):
    time.sleep(seconds)
    return os.getpid()


def test_postgres_url_is_an_empty_database_on_a_unix_socket(postgres_url, postgres_server):
    from sqlalchemy import create_engine, inspect, text

    assert postgres_url.startswith("postgresql+psycopg://postgres@/")
    engine = create_engine(postgres_url)
    try:
        assert inspect(engine).get_table_names() == []
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE grade (student text PRIMARY KEY, score real)"))
            connection.execute(text("INSERT INTO grade VALUES ('alice', 3.5), ('bob', 2)"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT * FROM grade ORDER BY student")).all() == [
                ("alice", 3.5), ("bob", 2.0)]
            assert connection.execute(text("SHOW listen_addresses")).scalar() == ""  # no TCP at all
            assert connection.execute(text("SELECT inet_server_addr()")).scalar() is None  # a Unix socket
    finally:
        engine.dispose()
    assert postgres_server.create_database() != postgres_url  # each database is new


def test_nbgrader_gradebook_on_postgres(postgres_url, monkeypatch):
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")  # Gradebook runs `alembic`
    with Gradebook(postgres_url) as gradebook:
        gradebook.add_student("alice", first_name="Alice")
    with Gradebook(postgres_url) as gradebook:
        assert [s.id for s in gradebook.students] == ["alice"]


@pytest.mark.slow
def test_two_tcp_workers_are_separate_processes(dask_cluster):
    cluster = dask_cluster(n_workers=2, pythonpath=[TESTS])
    assert cluster.address.startswith("tcp://127.0.0.1:")
    with cluster.client() as client:
        addresses = sorted(client.scheduler_info(n_workers=-1)["workers"])
        assert len(addresses) == 2
        results = client.gather([client.submit(where_am_i, pure=False, workers=[a]) for a in addresses])
    pids = [pid for pid, _, _ in results]
    assert len(set(pids)) == 2
    assert sorted(pids) == sorted(w.pid for w in cluster.workers)
    for _, cwd, imported_from in results:
        assert Path(imported_from) == TESTS.parent  # PYTHONPATH: the repository
        assert Path(cwd) != Path(imported_from) and not Path(cwd).is_relative_to(imported_from)


@pytest.mark.slow
def test_a_worker_killed_with_sigkill_has_its_task_run_again_elsewhere(dask_cluster):
    cluster = dask_cluster(n_workers=2, pythonpath=[TESTS])
    with cluster.client() as client:
        pid_of = cluster.worker_pids(client)
        future = client.submit(sleep_then_pid, 4, pure=False)
        deadline = time.monotonic() + 30
        while not (busy := [a for a, keys in client.processing().items() if future.key in keys]):
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        victim = next(w for w in cluster.workers if w.pid == pid_of[busy[0]])
        time.sleep(0.5)  # it is sleeping inside the task now
        victim.kill(signal.SIGKILL)
        survivor_pid = future.result(timeout=60)
        assert survivor_pid != victim.pid and survivor_pid in pid_of.values()
        assert victim.process.wait(timeout=10) == -signal.SIGKILL  # no nanny: it stays dead
        cluster.add_worker()
        cluster.wait_for_workers(2)


@pytest.mark.slow
def test_tls_cluster_needs_the_security_object(dask_cluster, tmp_path):
    from distributed import Client
    from distributed.security import Security

    cluster = dask_cluster(n_workers=1, tls=True)
    assert cluster.address.startswith("tls://127.0.0.1:")
    with cluster.client() as client:
        assert client.submit(os.getpid, pure=False).result(timeout=30) == cluster.workers[0].pid
    _, stranger_cert, stranger_key = make_tls_files(tmp_path)  # signed by another CA
    stranger = Security(tls_ca_file=cluster.security.tls_ca_file, tls_client_cert=str(stranger_cert),
                        tls_client_key=str(stranger_key), require_encryption=True)
    for address, security in [(cluster.address, None),  # no Security at all
                              (cluster.address.replace("tls://", "tcp://"), None),  # plain TCP to TLS
                              (cluster.address, stranger)]:  # a certificate the cluster's CA did not sign
        started = time.monotonic()
        with pytest.raises((OSError, TypeError)):
            Client(address, security=security, timeout=5, set_as_default=False).close()
        assert time.monotonic() - started < 30


@pytest.mark.slow
def test_stopped_services_leave_no_process():
    with PostgresServer() as server:
        postgres_pids = server.pids()
        folder = server.dir
        assert len(postgres_pids) >= 2 and all(map(alive, postgres_pids))
    assert not any(map(alive, postgres_pids)) and not folder.exists()

    with DaskCluster(n_workers=2, nanny=True) as cluster:
        dask_pids = cluster.pids()
        folder = cluster.dir
        with cluster.client() as client:
            worker_pids = set(cluster.worker_pids(client).values())
        # a nanny, its worker and multiprocessing's resource tracker each
        assert len(dask_pids) >= 5 and worker_pids < set(dask_pids)
        assert not worker_pids & {w.pid for w in cluster.workers}  # the Popen PIDs are the nannies
    assert not any(map(alive, dask_pids)) and not folder.exists()
