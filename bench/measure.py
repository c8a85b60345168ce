"""What the runner measures with: CPU time from /proc, the database backends serving the bench
database, and a bounded HTTP load generator on loopback."""

import http.client
import os
import threading
import time
from dataclasses import dataclass, field

import psycopg

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process (all its threads) and of the children it has waited for
    (cutime + cstime: a report preview's child process), in clock ticks; None once it is
    gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: fields follow the last ')'.
    fields = text[text.rindex(b")") + 2 :].split()
    return sum(int(value) for value in fields[11:15])


def backend_seconds(connection):
    """A function giving the CPU seconds spent so far by `connection`'s PostgreSQL backend
    (a Django connection of this process)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    return lambda: cpu_ticks(backend) / CLOCK_TICKS


def children(ppid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue
        if int(text[text.rindex(b")") + 2 :].split()[1]) == ppid:
            found.append(int(entry))
    return sorted(found)


class Monitor:
    """Snapshots the CPU of the gunicorn workers and of the PostgreSQL backends serving the
    bench database (client backends whose application_name does not start with `bench-`: the
    runner's own connections and the report command's are named so)."""

    def __init__(self, *, master: int, database: str, conninfo: str):
        self.master = master
        self.database = database
        self.conn = psycopg.connect(conninfo, dbname="postgres", autocommit=True)
        self.conn.execute("SET application_name = 'bench-monitor'")

    def close(self) -> None:
        self.conn.close()

    def workers(self) -> list[int]:
        return children(self.master)

    def backends(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = "
            "'client backend' AND application_name NOT LIKE 'bench-%%'",
            [self.database],
        ).fetchall()
        return sorted(row[0] for row in rows)

    def backend_named(self, name: str) -> int | None:
        row = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [self.database, name],
        ).fetchone()
        return row[0] if row else None

    def snapshot(self) -> dict:
        return {
            "workers": {pid: cpu_ticks(pid) for pid in self.workers()},
            "backends": {pid: cpu_ticks(pid) for pid in self.backends()},
        }

    @staticmethod
    def delta(before: dict, after: dict) -> dict:
        """CPU seconds spent between two snapshots by workers and backends. A process born in
        between counts from zero; one that died in between is reported as lost."""
        out = {}
        for kind in ("workers", "backends"):
            spent, lost, born = 0, [], []
            for pid, ticks in after[kind].items():
                if ticks is None:
                    continue
                start = before[kind].get(pid)
                if start is None:
                    born.append(pid)
                    start = 0
                spent += ticks - start
            lost = [pid for pid in before[kind] if pid not in after[kind]]
            out[kind] = {"seconds": spent / CLOCK_TICKS, "born": born, "lost": lost}
        return out


@dataclass
class Call:
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class Result:
    status: int
    seconds: float
    body: bytes
    headers: dict


def send(host: str, port: int, call: Call, timeout: float) -> Result:
    began = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(call.method, call.path, body=call.body, headers=call.headers)
        response = connection.getresponse()
        body = response.read()
        status, headers = response.status, dict(response.getheaders())
    except (OSError, http.client.HTTPException) as error:
        # The server closed the connection without answering (a killed worker, say).
        status, body, headers = 0, repr(error).encode(), {}
    finally:
        connection.close()
    return Result(status, time.perf_counter() - began, body, headers)


def run_calls(
    host: str,
    port: int,
    calls: list[Call],
    *,
    concurrency: int,
    timeout: float,
    deadline: float,
) -> list[Result | None]:
    """Send every call, `concurrency` at a time; calls not started by `deadline` (a
    time.monotonic() value) are skipped and left None."""
    results: list[Result | None] = [None] * len(calls)
    lock = threading.Lock()
    position = iter(range(len(calls)))

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                index = next(position, None)
            if index is None:
                return
            results[index] = send(host, port, calls[index], timeout)

    threads = [threading.Thread(target=worker) for _ in range(max(1, concurrency))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
