"""Load benchmark of the OCPP central system against a bare `ocpp`+`websockets` baseline
(OCPP 1.6; --ocpp201-share makes that share of the chargers OCPP 2.0.1 stations).

Everything runs on 127.0.0.1 with real sockets: the servers it starts itself, and load
generators in separate processes, each an asyncio loop holding its share of the chargers.
Every loop is bounded (by --duration, a sample count or a deadline) and stops by itself.

    .venv/bin/python bench/ocpp_bench.py --mode closed --targets bare,full --chargers 50 --duration 20
    .venv/bin/python bench/ocpp_bench.py --mode rate --targets full --chargers 2000 --interval 10 --duration 60
    .venv/bin/python bench/ocpp_bench.py --mode reconnect --chargers 1000
    .venv/bin/python bench/ocpp_bench.py --mode count --chargers 100 --samples 20000
    .venv/bin/python bench/ocpp_bench.py --mode closed --targets full-redis --chargers 50 --duration 20
    .venv/bin/python bench/ocpp_bench.py --mode closed --targets full --chargers 50 --ocpp201-share 0.5
    .venv/bin/python bench/ocpp_bench.py --mode p3 --chargers 20 --chargers-per-site 2 --duration 20

See bench/README.md for what each mode measures and the goals (P1-P4) of issue 7.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import atexit
import contextlib
import datetime as dt
import gc
import http.client
import json
import multiprocessing as mp
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
PYTHON = sys.executable
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
VALUES_PER_MESSAGE = 3
BOOT_PAYLOAD = '{"chargePointVendor":"GrayBench","chargePointModel":"Bench-1","firmwareVersion":"1.0"}'
BOOT_PAYLOAD_201 = (
    '{"reason":"PowerUp","chargingStation":{"vendorName":"GrayBench","model":"Bench-201","firmwareVersion":"1.0"}}'
)
OCPP16, OCPP201 = "ocpp1.6", "ocpp2.0.1"
# How many times a 2.0.1 charger boots again after Pending (the server reading its device model).
PENDING_BOOTS = 10
# P3: what the benchmark chargers report to GetConfiguration in --mode p3: smart charging, limits in
# amps (chargers/profiles.py), one connector; MeterValuesSampledData differs from what the
# product wants, so it also sends one ChangeConfiguration, as it would to a real charger.
SMART_CONFIGURATION = (
    ("SupportedFeatureProfiles", True, "Core,FirmwareManagement,RemoteTrigger,SmartCharging"),
    ("ChargingScheduleAllowedChargingRateUnit", True, "Current"),
    ("ChargeProfileMaxStackLevel", True, "8"),
    ("MaxChargingProfilesInstalled", True, "8"),
    ("NumberOfConnectors", True, "1"),
    ("MeterValueSampleInterval", False, "60"),
    ("MeterValuesSampledData", False, "Energy.Active.Import.Register"),
)
READINGS_PATH = "/api/v1/energy/readings"
PROTECTION_PURPOSE = "ChargePointMaxProfile"  # what energy control sends for fuses (energy/services.py)


# --- small helpers ---------------------------------------------------------------------------


def raise_open_files_limit() -> int:
    """Thousands of sockets need more than the usual 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(sorted_values, q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def charge_point_id(i: int) -> str:
    return f"BENCH{i:05d}"  # as bench/seed_db.py names them


def protocol_of(i: int, share_201: float) -> str:
    """--ocpp201-share: which chargers speak OCPP 2.0.1, spread evenly (0.5: every other one)."""
    return OCPP201 if int((i + 1) * share_201) > int(i * share_201) else OCPP16


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the server processes, measured through /proc --------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # [state, ppid, ..., utime (11), stime (12), ...]


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children[int(fields[1])].append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (every core, every process: the database and
    Redis too), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class CpuQuota:
    """A cgroup (v1 `cpu` controller) that caps one server process, its threads and children to
    `cores` cores. Gives each server the same budget a machine with a core per server would, so
    two servers can be compared with one (P4) on a machine with fewer cores than that needs."""

    ROOT = Path("/sys/fs/cgroup/cpu")
    PERIOD_US = 100_000
    created: list[CpuQuota] = []

    def __init__(self, name: str, cores: float):
        if not (self.ROOT / "cgroup.procs").exists():
            raise SystemExit(f"--server-cpus needs the cgroup v1 cpu controller at {self.ROOT} (and root)")
        self.path = self.ROOT / f"ocpp-bench-{os.getpid()}-{re.sub(r'[^a-zA-Z0-9-]', '-', name)}"
        self.path.mkdir(exist_ok=True)
        (self.path / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
        (self.path / "cpu.cfs_quota_us").write_text(str(round(cores * self.PERIOD_US)))
        CpuQuota.created.append(self)

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def throttled_s(self) -> float:
        """Seconds the kernel held the group back for having used up its quota, so far."""
        for line in (self.path / "cpu.stat").read_text().splitlines():
            key, value = line.split()
            if key == "throttled_time":
                return int(value) / 1e9
        return 0.0

    @classmethod
    def remove_all(cls) -> None:
        """Once their processes are gone (an empty group can be removed)."""
        for quota in cls.created:
            with contextlib.suppress(OSError):
                quota.path.rmdir()
        cls.created.clear()


class Server:
    """One process we started (in its own session), with its log in the temp dir: a server on
    a port, or (port None) a Celery worker or beat, ready when `ready_cmd` exits 0."""

    running: set[Server] = set()

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        port: int | None,
        log_path: Path,
        health: str | None,
        cpu_quota: CpuQuota | None = None,
        ready_cmd: list[str] | None = None,
    ):
        self.name, self.cmd, self.env, self.port, self.log_path, self.health = name, cmd, env, port, log_path, health
        self.cpu_quota, self.ready_cmd = cpu_quota, ready_cmd
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.port is not None:
            assert_port_free(self.port)
        log_file = self.log_path.open("ab")
        log_file.write(f"\n==== {time.strftime('%H:%M:%S')} start {' '.join(self.cmd)}\n".encode())
        log_file.flush()
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        log_file.close()
        if self.cpu_quota is not None:
            self.cpu_quota.add(self.proc.pid)
        Server.running.add(self)

    def wait_ready(self, timeout_s: float = 120) -> float:
        """Seconds until the server answers (HTTP health check, or a TCP connect) or `ready_cmd` succeeds."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.port is None:
                    ok = self.ready_cmd is None or (
                        subprocess.run(
                            self.ready_cmd, cwd=ROOT, env=self.env, capture_output=True, timeout=30, check=False
                        ).returncode
                        == 0
                    )
                elif self.health:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                    conn.request("GET", self.health)
                    ok = conn.getresponse().status == 200
                    conn.close()
                else:
                    socket.create_connection((HOST, self.port), timeout=2).close()
                    ok = True
                if ok:
                    return time.monotonic() - started
            except (OSError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout_s} s:\n{self.log_tail()}")

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self, timeout_s: float = 30) -> tuple[int | None, float, bool]:
        """SIGTERM, wait; SIGKILL the process group if it does not stop. (exit code, seconds, killed)"""
        if self.proc is None or self.proc.poll() is not None:
            Server.running.discard(self)
            return (self.proc.returncode if self.proc else None), 0.0, False
        started = time.monotonic()
        killed = False
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            killed = True
            self.dump_stacks(f"still running {timeout_s:g} s after SIGTERM")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError):  # anything it left behind in its group
            os.killpg(self.proc.pid, signal.SIGKILL)
        Server.running.discard(self)
        return self.proc.returncode, time.monotonic() - started, killed

    def dump_stacks(self, why: str) -> None:
        """Append every thread's Python stack (py-spy dump, when installed) to the server log."""
        py_spy = find_py_spy()
        if py_spy is None:
            return
        with contextlib.suppress(Exception), self.log_path.open("a") as out:
            out.write(f"\n==== {time.strftime('%H:%M:%S')} py-spy dump: {why}\n")
            out.flush()
            subprocess.run(
                [py_spy, "dump", "--pid", str(self.proc.pid)], stdout=out, stderr=out, timeout=30, check=False
            )
        log(f"{self.name}: {why}; py-spy dump of its threads appended to {self.log_path}")

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def assert_port_free(port: int) -> None:
    with socket.socket() as probe:
        if probe.connect_ex((HOST, port)) == 0:
            raise SystemExit(f"port {port} on {HOST} is already in use: pick another --port")


@atexit.register
def _stop_all_servers() -> None:
    for server in list(Server.running):
        server.stop(timeout_s=10)
    CpuQuota.remove_all()


# --- targets ----------------------------------------------------------------------------------


@dataclass
class Target:
    name: str  # bare | full | redis-1p | redis-2p | celery
    kind: str  # bare | full
    processes: int = 1
    redis: bool = False
    celery: bool = False  # a Celery worker and beat run the jobs, not the server
    servers: list[Server] = field(default_factory=list)
    jobs: list[Server] = field(default_factory=list)  # the Celery worker and beat
    database_url: str | None = None


def expand_targets(spec: str) -> list[Target]:
    targets = []
    for name in [t.strip() for t in spec.split(",") if t.strip()]:
        if name == "bare":
            targets.append(Target("bare", "bare"))
        elif name == "full":
            targets.append(Target("full", "full"))
        elif name == "full-redis":
            targets += [Target("redis-1p", "full", 1, True), Target("redis-2p", "full", 2, True)]
        elif name == "full-celery":
            targets.append(Target("celery", "full", 1, redis=True, celery=True))
        else:
            raise SystemExit(f"unknown target {name!r}: bare, full, full-redis, full-celery")
    return targets


def product_env(database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # Nothing from the caller's environment may point the product elsewhere (MQTT, Redis, a database).
        if k not in {"DATABASE_URL", "REDIS_URL", "MQTT_URL", "DEBUG", "LOG_LEVEL", "EMBEDDED_JOBS"}
        and k not in {"DJANGO_SETTINGS_MODULE", "TLS_CERT_FILE", "TLS_KEY_FILE"}
    }
    env.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="graylogic.settings",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class BenchDatabase:
    """The product's databases in a run: one template, migrated and seeded once, and a fresh copy
    of it per target. SQLite files (the embedded default) or, with --postgres-url, PostgreSQL
    databases on that server (the scaled-out deployment), created and dropped by the run."""

    def __init__(self, tmp: Path, postgres_url: str | None):
        self.tmp, self.postgres_url = tmp, postgres_url
        self.prefix = f"ocpp_bench_{os.getpid()}"
        self.template_url = ""
        self.created: list[str] = []

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as conn:
            conn.execute(sql)

    def _postgres(self, name: str, template: str | None = None) -> str:
        database = f"{self.prefix}_{re.sub(r'[^a-z0-9]', '_', name.lower())}"
        self._admin(f'CREATE DATABASE "{database}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.created.append(database)
        return urlparse(self.postgres_url)._replace(path=f"/{database}").geturl()

    def create_template(self) -> str:
        if self.postgres_url:
            self.template_url = self._postgres("template")
        else:
            self.template_url = f"sqlite:///{self.tmp / 'bench-template.sqlite3'}"
        return self.template_url

    def template_seeded(self) -> None:
        if not self.postgres_url:
            with contextlib.closing(sqlite3.connect(self.template_url.removeprefix("sqlite:///"))) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def fresh_copy(self, name: str) -> str:
        """A DATABASE_URL for a new copy of the template."""
        if self.postgres_url:
            return self._postgres(name, template=urlparse(self.template_url).path.lstrip("/"))
        dest = self.tmp / f"bench-{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{dest}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template_url.removeprefix("sqlite:///"), dest)
        return f"sqlite:///{dest}"

    def rows(self, database_url: str, sql: str) -> list[tuple] | None:
        """The rows of a read-only query, or None when it fails (a table missing, say)."""
        if database_url.startswith("sqlite:///"):
            path = database_url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
                try:
                    return conn.execute(sql).fetchall()
                except sqlite3.Error:
                    return None
        import psycopg

        with psycopg.connect(database_url) as conn:
            try:
                return conn.execute(sql).fetchall()
            except psycopg.Error:
                return None

    def drop_all(self) -> None:
        for database in reversed(self.created):
            with contextlib.suppress(Exception):
                self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self.created.clear()


def prepare_template_db(database: BenchDatabase, chargers: int, per_site: int, seed_args: list[str] | None) -> None:
    """Migrate and seed once; each target then gets a fresh copy."""
    env = product_env(database.create_template(), None)
    started = time.monotonic()
    for cmd in (
        [PYTHON, "manage.py", "migrate", "--noinput"],
        [
            PYTHON,
            str(BENCH_DIR / "seed_db.py"),
            "--chargers",
            str(chargers),
            "--chargers-per-site",
            str(per_site),
            *(seed_args or []),
        ],
    ):
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    database.template_seeded()
    log(f"template database: migrated and seeded {chargers} chargers in {time.monotonic() - started:.1f} s")


def redis_flush(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    client.flushdb()
    client.close()


def build_servers(target: Target, args, tmp: Path, database: BenchDatabase | None) -> None:
    def cpu_quota(name: str) -> CpuQuota | None:
        return CpuQuota(name, args.server_cpus) if args.server_cpus else None

    if target.kind == "bare":
        cmd = [PYTHON, str(BENCH_DIR / "bare_server.py"), "--host", HOST, "--port", str(args.port)]
        target.servers = [Server("bare", cmd, dict(os.environ), args.port, tmp / "bare.log", None, cpu_quota("bare"))]
        return
    target.database_url = database.fresh_copy(target.name)
    env = product_env(target.database_url, args.redis_url if target.redis else None)
    target.servers = []
    for p in range(target.processes):
        port = args.port + p
        cmd = [PYTHON, "manage.py", "serve", "--host", HOST, "--port", str(port)]
        log_path = tmp / f"{target.name}-{p}.log"
        name = f"{target.name}#{p}"
        target.servers.append(Server(name, cmd, env, port, log_path, "/healthz", cpu_quota(name)))
    if target.celery:
        # As README.md "Scaling out" runs them; the worker and beat log only warnings and errors.
        celery = [str(Path(PYTHON).with_name("celery")), "-A", "graylogic"]
        ping = [*celery, "inspect", "ping", "--timeout", "2"]
        worker = [*celery, "worker", "--loglevel=WARNING"]
        beat = [*celery, "beat", "--loglevel=WARNING", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]
        target.jobs = [
            Server("worker", worker, env, None, tmp / "worker.log", None, ready_cmd=ping),
            Server("beat", beat, env, None, tmp / "beat.log", None),
        ]


def stored_samples(database: BenchDatabase, database_url: str) -> int | None:
    rows = database.rows(database_url, "SELECT COUNT(*) FROM charging_sessions_metersample")
    return rows[0][0] if rows else None


def stored_samples_by_protocol(database: BenchDatabase, database_url: str, args) -> dict[str, int]:
    """MeterSample rows of the 1.6 and of the 2.0.1 chargers (--ocpp201-share)."""
    rows = database.rows(
        database_url,
        "SELECT c.charge_point_id, COUNT(*) FROM charging_sessions_metersample s "
        "JOIN chargers_charger c ON c.id = s.charger_id GROUP BY c.charge_point_id",
    )
    index_of = {charge_point_id(i): i for i in range(args.chargers)}
    stored = {OCPP16: 0, OCPP201: 0}
    for cp_id, count in rows or []:
        if cp_id in index_of:
            stored[protocol_of(index_of[cp_id], args.ocpp201_share)] += count
    return stored


# --- the load generator (runs in child processes) ---------------------------------------------


class Disconnected(Exception):
    pass


class BenchCharger:
    """One simulated charge point: a socket, a reader task and at most one CALL in flight."""

    def __init__(self, cp_id: str, url: str, quota: int, stats: ClientStats, cfg: dict, protocol: str = OCPP16):
        self.cp_id, self.url, self.quota, self.stats, self.cfg = cp_id, url, quota, stats, cfg
        self.protocol = protocol
        # OCPP 2.0.1: samples go in TransactionEvents of one transaction the charger allocates.
        self.transaction_id = f"{cp_id}-{secrets.token_hex(8)}"
        self.tx_seq_no = 0
        self.ws = None
        self.pending: dict[str, asyncio.Future] = {}
        self.seq = 0  # MeterValues sent: the timestamp offset (one second apart)
        self.uid = 0
        self.connected = False
        self.back_at: float | None = None  # reconnect mode: wall time accepted again
        self.reconnect_attempts = 0
        self.on_close = None
        self.configuration = {key: [readonly, value] for key, readonly, value in SMART_CONFIGURATION}
        self.profiles_received = 0

    async def open(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        self.ws = await connect(
            self.url,
            subprotocols=[Subprotocol(self.protocol)],
            compression=None,
            ping_interval=None,
            proxy=None,
            open_timeout=self.cfg["open_timeout"],
            close_timeout=2,
            max_queue=64,
        )
        if self.ws.subprotocol != self.protocol:
            self.stats.counters[f"handshake without {self.protocol} subprotocol"] += 1
        self.connected = True
        asyncio.get_running_loop().create_task(self._read(self.ws))

    async def _read(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in ws:
                arrived = time.time()
                msg = json.loads(raw)
                kind = msg[0]
                if kind == 2:  # a CALL from the server (GetConfiguration, SetChargingProfile...)
                    self.stats.server_calls[str(msg[2])] += 1
                    self.stats.server_call_at.append(arrived)
                    answer = self.smart_answer(str(msg[2]), msg[3], arrived) if self.cfg["smart"] else None
                    if answer is None:
                        await ws.send(json.dumps([4, msg[1], "NotSupported", "benchmark charger", {}]))
                    else:
                        await ws.send(json.dumps([3, msg[1], answer]))
                else:
                    future = self.pending.pop(msg[1], None)
                    if future is not None and not future.done():
                        future.set_result((time.perf_counter(), msg))
        except ConnectionClosed:
            pass
        except Exception as error:
            self.stats.counters[f"reader error {type(error).__name__}"] += 1
        finally:
            if ws is self.ws:
                self.connected = False
                for future in self.pending.values():
                    if not future.done():
                        future.set_exception(Disconnected())
                self.pending.clear()
                if self.on_close is not None:
                    self.on_close(self)

    def smart_answer(self, action: str, payload: dict, arrived: float) -> dict | None:
        """--mode p3 or --smart-chargers: answer like a smart charger (None: NotSupported). Every SetChargingProfile
        is recorded with its wall-clock arrival time and limit."""
        if action == "GetConfiguration":
            wanted = payload.get("key") or list(self.configuration)
            known = [k for k in wanted if k in self.configuration]
            answer: dict = {
                "configurationKey": [
                    {"key": k, "readonly": self.configuration[k][0], "value": self.configuration[k][1]} for k in known
                ]
            }
            unknown = [k for k in wanted if k not in self.configuration]
            if unknown:
                answer["unknownKey"] = unknown
            return answer
        if action == "ChangeConfiguration":
            entry = self.configuration.get(payload.get("key"))
            if entry is None:
                return {"status": "NotSupported"}
            if entry[0]:
                return {"status": "Rejected"}
            entry[1] = str(payload.get("value"))
            return {"status": "Accepted"}
        if action == "SetChargingProfile":
            profile = payload.get("csChargingProfiles") or payload.get("chargingProfile") or {}
            schedule = profile.get("chargingSchedule") or {}
            if isinstance(schedule, list):  # OCPP 2.0.1: a list of schedules
                schedule = schedule[0] if schedule else {}
            periods = schedule.get("chargingSchedulePeriod") or [{}]
            self.profiles_received += 1
            self.stats.profiles.append(
                (
                    arrived,
                    self.cp_id,
                    str(profile.get("chargingProfilePurpose")),
                    payload.get("connectorId", payload.get("evseId")),
                    str(schedule.get("chargingRateUnit")),
                    periods[0].get("limit"),
                )
            )
            return {"status": "Accepted"}
        if action == "ClearChargingProfile":
            return {"status": "Accepted"}
        return None

    async def start_charging(self) -> None:
        """--mode p3: a car plugged in and charging (StartTransaction, then StatusNotification
        Charging), so energy control counts the charger as active."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        _, msg = await self.call(
            "StartTransaction", f'{{"connectorId":1,"idTag":"BENCHTAG","meterStart":0,"timestamp":"{now}"}}'
        )
        status = msg[2].get("idTagInfo", {}).get("status") if msg[0] == 3 else f"CALLERROR {msg[2]}"
        self.stats.counters[f"StartTransaction answered {status}"] += 1
        payload = f'{{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"{now}"}}'
        _, msg = await self.call("StatusNotification", payload)
        if msg[0] != 3:
            self.stats.counters[f"StatusNotification answered CALLERROR {msg[2]}"] += 1

    async def start_transaction_201(self) -> None:
        """OCPP 2.0.1: the transaction its samples belong to starts before measuring (its start
        waits for energy control's run, as any car's does), so the window holds Updated events."""
        _, msg = await self.call("TransactionEvent", self.transaction_event(0))
        self.stats.counters[f"TransactionEvent Started answered {'' if msg[0] == 3 else 'CALLERROR '}{msg[2]}"] += 1

    async def call(self, action: str, payload: str) -> tuple[float, list]:
        """Send one CALL; return (round trip in seconds, the answer frame)."""
        if not self.connected:
            raise Disconnected()
        self.uid += 1
        uid = str(self.uid)
        future = asyncio.get_running_loop().create_future()
        self.pending[uid] = future
        started = time.perf_counter()
        try:
            # The send is inside the timeout too: a server that stops reading blocks it.
            async with asyncio.timeout(self.cfg["timeout"]):
                await self.ws.send(f'[2,"{uid}","{action}",{payload}]')
                answered, msg = await future
        except TimeoutError:
            self.pending.pop(uid, None)
            raise
        except Exception as error:  # the socket closed under us
            self.pending.pop(uid, None)
            raise Disconnected() from error
        return answered - started, msg

    def sample_message(self, values: int = VALUES_PER_MESSAGE) -> tuple[str, str]:
        """The charger's next sampled values: (action, payload) in its OCPP version."""
        if self.protocol == OCPP201:
            return "TransactionEvent", self.transaction_event(values)
        return "MeterValues", self.meter_values(values)

    def transaction_event(self, values: int = VALUES_PER_MESSAGE) -> str:
        """OCPP 2.0.1: the transaction's Started (its first), then Updated, each with one meterValue
        holding what meter_values holds, a unique timestamp and the next seqNo."""
        timestamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.cfg["base_epoch"] + self.seq))
        energy = 1000 + self.seq * 2
        self.seq += 1
        sampled = [
            f'{{"value":{energy},"context":"Sample.Periodic","measurand":"Energy.Active.Import.Register",'
            '"location":"Outlet","unitOfMeasure":{"unit":"Wh"}}',
            '{"value":7200,"context":"Sample.Periodic","measurand":"Power.Active.Import",'
            '"location":"Outlet","unitOfMeasure":{"unit":"W"}}',
            '{"value":31.3,"context":"Sample.Periodic","measurand":"Current.Import","location":"Outlet",'
            '"unitOfMeasure":{"unit":"A"}}',
        ][:values]
        sampled_values = ",".join(sampled)
        meter_value = ""
        if values:
            meter_value = f',"meterValue":[{{"timestamp":"{timestamp}","sampledValue":[{sampled_values}]}}]'
        first = self.tx_seq_no == 0
        event = (
            '"eventType":"Started","triggerReason":"CablePluggedIn","evse":{"id":1,"connectorId":1},'
            if first
            else '"eventType":"Updated","triggerReason":"MeterValuePeriodic",'
        )
        payload = (
            f'{{{event}"timestamp":"{timestamp}","seqNo":{self.tx_seq_no},'
            f'"transactionInfo":{{"transactionId":"{self.transaction_id}","chargingState":"Charging"}}{meter_value}}}'
        )
        self.tx_seq_no += 1
        return payload

    def meter_values(self, values: int = VALUES_PER_MESSAGE) -> str:
        """connectorId 1, one meterValue with a unique timestamp, `values` sampled values."""
        timestamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.cfg["base_epoch"] + self.seq))
        energy = 1000 + self.seq * 2
        self.seq += 1
        sampled = [
            f'{{"value":"{energy}","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register",'
            '"location":"Outlet","unit":"Wh"}',
            '{"value":"7200","context":"Sample.Periodic","measurand":"Power.Active.Import",'
            '"location":"Outlet","unit":"W"}',
            '{"value":"31.3","context":"Sample.Periodic","measurand":"Current.Import","location":"Outlet","unit":"A"}',
        ][:values]
        return f'{{"connectorId":1,"meterValue":[{{"timestamp":"{timestamp}","sampledValue":[{",".join(sampled)}]}}]}}'

    async def boot(self, gate: asyncio.Semaphore | None = None) -> bool:
        """BootNotification; a 2.0.1 charger told Pending (the server reading its device model,
        which it answers NotSupported) boots again after the interval it was given, waiting
        outside `gate` (the handshakes in flight): a station waiting is not a handshake."""
        payload = BOOT_PAYLOAD_201 if self.protocol == OCPP201 else BOOT_PAYLOAD
        for _ in range(PENDING_BOOTS):
            latency, msg = await self.call("BootNotification", payload)
            self.stats.boot_latencies.append(latency * 1000)
            status = msg[2].get("status") if msg[0] == 3 else None
            if status == "Accepted":
                return True
            self.stats.counters[f"boot answered {msg[2] if msg[0] == 4 else status}"] += 1
            if status != "Pending":
                return False
            if gate is not None:
                gate.release()
            try:
                await asyncio.sleep(min(float(msg[2].get("interval") or 1), 10.0))
            finally:
                if gate is not None:
                    await gate.acquire()
        return False


@dataclass
class ClientStats:
    latencies: array.array = field(default_factory=lambda: array.array("d"))  # ms, in the window
    answered_at: array.array = field(default_factory=lambda: array.array("d"))  # time.time() of each latency
    boot_latencies: array.array = field(default_factory=lambda: array.array("d"))
    counters: Counter = field(default_factory=Counter)
    server_calls: Counter = field(default_factory=Counter)
    server_call_at: array.array = field(default_factory=lambda: array.array("d"))  # time.time() of each
    back_after: array.array = field(default_factory=lambda: array.array("d"))
    # p3: (wall time, charge point id, purpose, connectorId, unit, limit) per SetChargingProfile
    profiles: list = field(default_factory=list)


class ClientRun:
    def __init__(self, index: int, cfg: dict, assignments: list[tuple[str, str, int, str]], ctrl: dict):
        self.index, self.cfg, self.ctrl = index, cfg, ctrl
        self.stats = ClientStats()
        self.chargers = [
            BenchCharger(cp, url, quota, self.stats, cfg, protocol) for cp, url, quota, protocol in assignments
        ]
        self.rng = random.Random(cfg["seed"] * 1000 + index)

    # connection phase
    async def connect_one(self, charger: BenchCharger, gate: asyncio.Semaphore) -> None:
        async with gate:
            for attempt in range(self.cfg["connect_attempts"]):
                try:
                    await charger.open()
                    if await charger.boot(gate):
                        self.stats.counters["connected and accepted"] += 1
                        if self.cfg["mode"] == "p3":
                            await charger.start_charging()
                        elif charger.protocol == OCPP201:
                            await charger.start_transaction_201()
                    return
                except Exception as error:
                    self.stats.counters[f"connect failed: {describe(error)}"] += 1
                    await asyncio.sleep(min(5.0, 0.5 * 2**attempt) * self.rng.uniform(0.5, 1.0))
            self.stats.counters["gave up connecting"] += 1

    async def wait_event(self, event, timeout: float | None = None) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, event.wait, timeout)

    async def main(self) -> None:
        gate = asyncio.Semaphore(self.cfg["connect_concurrency"])
        started = time.monotonic()
        await asyncio.gather(*(self.connect_one(c, gate) for c in self.chargers))
        connected_s = time.monotonic() - started
        if self.cfg["mode"] == "p3":
            await self.wait_first_profiles()
        quiet_wait_s = await self.wait_server_quiet()
        # The connected chargers live for the whole run: out of the collector's reach, this
        # process's full collections walk only what is newer, instead of stalling every
        # charger of the process (260-480 ms at 5,000 per process) and counting as latency.
        gc.collect()
        gc.freeze()
        self.ctrl["queue"].put(("ready", self.index, (connected_s, quiet_wait_s)))
        await self.wait_event(self.ctrl["go"])
        start_wall = self.ctrl["t_start"].value
        t_start = time.perf_counter() + (start_wall - time.time())
        await asyncio.sleep(max(0.0, t_start - time.perf_counter()))
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        mode = self.cfg["mode"]
        if mode == "reconnect":
            await self.reconnect_phase(start_wall)
        elif mode == "p3":
            # The harness posts the readings; the chargers only answer the server's CALLs, until
            # the last reading's deadline has passed.
            t_end = t_start + self.cfg["duration"] + self.cfg["p3_deadline"] + 1
            await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        else:
            if mode == "closed":
                t_end = t_start + self.cfg["duration"]
                loops = [self.closed_loop(c, t_end) for c in self.chargers]
            elif mode == "count":
                t_end = t_start + self.cfg["max_seconds"]
                loops = [self.count_loop(c, t_end) for c in self.chargers]
            else:
                t_end = t_start + self.cfg["duration"]
                loops = [self.rate_loop(c, t_start, t_end) for c in self.chargers]
            tasks = [asyncio.ensure_future(loop) for loop in loops]
            # A hard stop whatever the server does: the last CALL may take --timeout, no longer.
            _, late = await asyncio.wait(tasks, timeout=t_end - time.perf_counter() + self.cfg["timeout"] + 10)
            for task in late:
                task.cancel()
            if late:
                self.stats.counters["error: charger loop cut off at the hard deadline"] += len(late)
                await asyncio.wait(late, timeout=5)
        elapsed = time.perf_counter() - t_start
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        self.ctrl["queue"].put(
            (
                "result",
                self.index,
                {
                    "latencies": self.stats.latencies.tobytes(),
                    "answered_at": self.stats.answered_at.tobytes(),
                    "boot_latencies": self.stats.boot_latencies.tobytes(),
                    "back_after": self.stats.back_after.tobytes(),
                    "counters": dict(self.stats.counters),
                    "server_calls": dict(self.stats.server_calls),
                    "server_call_at": self.stats.server_call_at.tobytes(),
                    "profiles": self.stats.profiles,
                    "cpu_s": cpu,
                    "elapsed_s": elapsed,
                    "still_connected": sum(c.connected for c in self.chargers),
                },
            )
        )
        await self.wait_event(self.ctrl["release"], self.cfg["release_timeout"])
        for c in self.chargers:
            c.on_close = None
        closers = [c.ws.close() for c in self.chargers if c.connected and c.ws is not None]
        if closers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(15):
                    await asyncio.gather(*closers, return_exceptions=True)

    async def wait_server_quiet(self) -> float:
        """Measuring begins once the server's boot work for these chargers is over (its probe,
        limits, clears and checks): no server CALL for --settle-quiet s, at most 120 s, so no
        window counts a boot's calls. The seconds waited."""
        quiet_s = self.cfg["settle_quiet"]
        started = time.monotonic()
        if quiet_s <= 0:
            return 0.0
        while time.monotonic() - started < 120:
            last = max(self.stats.server_call_at, default=0.0)
            if time.time() - last >= quiet_s:
                break
            await asyncio.sleep(0.2)
        return time.monotonic() - started

    async def wait_first_profiles(self) -> None:
        """p3: measuring starts once energy control has sent every charging charger its first
        limit (the runs after boot and StartTransaction), or after --p3-deadline x 4 s."""
        deadline = time.monotonic() + 4 * self.cfg["p3_deadline"]
        chargers = [c for c in self.chargers if c.connected]
        while time.monotonic() < deadline and any(c.profiles_received == 0 for c in chargers):
            await asyncio.sleep(0.1)
        self.stats.counters["p3: no profile before measuring"] = sum(c.profiles_received == 0 for c in chargers)
        self.stats.counters["p3: profiles before measuring"] = len(self.stats.profiles)

    async def _send_meter_values(self, charger: BenchCharger, t_end: float, values: int = VALUES_PER_MESSAGE) -> bool:
        """One MeterValues (2.0.1: TransactionEvent) round trip, counted. False when the charger's
        socket is gone."""
        c = self.stats.counters
        action, payload = charger.sample_message(values)
        c[f"{action} sent"] += 1
        c["samples sent"] += values
        try:
            latency, msg = await charger.call(action, payload)
        except TimeoutError:
            c["error: timeout"] += 1
            return True
        except Disconnected:
            c["error: disconnected"] += 1
            return False
        self._record(latency, msg, t_end, samples=values, protocol=charger.protocol)
        return True

    def _record(self, latency: float, msg: list, t_end: float, samples: int = 0, protocol: str = "") -> None:
        c = self.stats.counters
        if msg[0] == 3:
            c["answered"] += 1
            c["samples acknowledged"] += samples
            if protocol:
                c[f"samples acknowledged {protocol}"] += samples
            if time.perf_counter() <= t_end:
                c["answered in window"] += 1
                if protocol:
                    c[f"sample messages answered in window {protocol}"] += 1
        else:
            c[f"error: CALLERROR {msg[2]}"] += 1
        self.stats.latencies.append(latency * 1000)
        self.stats.answered_at.append(time.time())

    async def closed_loop(self, charger: BenchCharger, t_end: float) -> None:
        if not charger.connected:
            return
        while time.perf_counter() < t_end:
            if not await self._send_meter_values(charger, t_end):
                return

    async def count_loop(self, charger: BenchCharger, t_end: float) -> None:
        remaining = charger.quota
        while remaining > 0 and charger.connected and time.perf_counter() < t_end:
            values = min(VALUES_PER_MESSAGE, remaining)
            if not await self._send_meter_values(charger, float("inf"), values):
                break
            remaining -= values
        if remaining:
            self.stats.counters["samples never sent"] += remaining

    async def rate_loop(self, charger: BenchCharger, t_start: float, t_end: float) -> None:
        """MeterValues every --interval s and Heartbeat every --heartbeat-interval s, at a
        random phase per charger; one CALL in flight at a time, as OCPP requires."""
        if not charger.connected:
            return
        interval, hb_interval = self.cfg["interval"], self.cfg["heartbeat_interval"]
        next_mv = t_start + self.rng.uniform(0, interval)
        next_hb = t_start + self.rng.uniform(0, hb_interval)
        c = self.stats.counters
        while True:
            due = min(next_mv, next_hb)
            if due >= t_end:
                return
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 1.0:
                c["sent over 1 s late"] += 1
            if next_hb <= next_mv:
                next_hb += hb_interval
                c["Heartbeat sent"] += 1
                try:
                    latency, msg = await charger.call("Heartbeat", "{}")
                except TimeoutError:
                    c["error: timeout"] += 1
                    continue
                except Disconnected:
                    c["error: disconnected"] += 1
                    return
                self._record(latency, msg, t_end)
            else:
                next_mv += interval
                if not await self._send_meter_values(charger, t_end):
                    return

    async def reconnect_phase(self, start_wall: float) -> None:
        """Wait for the server to go away; every charger then reconnects with a small random
        backoff and boots again. Ends when all are accepted again or at the deadline."""
        deadline = start_wall + self.cfg["duration"]
        tasks: list[asyncio.Task] = []

        def closed(charger: BenchCharger) -> None:
            self.stats.counters["disconnected by the server"] += 1
            tasks.append(asyncio.get_running_loop().create_task(self.reconnect(charger, deadline)))

        for c in self.chargers:
            c.on_close = closed
        accepted = [c for c in self.chargers if c.connected]
        while time.time() < deadline and not all(c.back_at is not None for c in accepted):
            await asyncio.sleep(0.1)
        for c in self.chargers:
            c.on_close = None
        for task in tasks:
            task.cancel()
        self.stats.counters["back and accepted"] = sum(c.back_at is not None for c in accepted)
        self.stats.counters["not back by the deadline"] = sum(c.back_at is None for c in accepted)
        for c in accepted:
            if c.back_at is not None:
                self.stats.back_after.append(c.back_at)

    async def reconnect(self, charger: BenchCharger, deadline: float) -> None:
        delay = self.rng.uniform(self.cfg["backoff_min"], self.cfg["backoff_max"])
        while time.time() < deadline:
            await asyncio.sleep(delay)
            charger.reconnect_attempts += 1
            self.stats.counters["reconnect attempts"] += 1
            try:
                await charger.open()
                if await charger.boot():
                    charger.back_at = time.time()
                    return
            except Exception as error:
                self.stats.counters[f"reconnect failed: {describe(error)}"] += 1
                if charger.ws is not None and charger.connected:
                    with contextlib.suppress(Exception):
                        await charger.ws.close()
            delay = min(self.cfg["backoff_cap"], delay * 1.5) + self.rng.uniform(0, 0.5)


def describe(error: BaseException) -> str:
    from websockets.exceptions import InvalidStatus

    if isinstance(error, InvalidStatus):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return type(error).__name__


def client_process(index: int, cfg: dict, assignments: list, ctrl: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator ends us
    raise_open_files_limit()
    asyncio.run(ClientRun(index, cfg, assignments, ctrl).main())


# --- profiling (py-spy, optional) -------------------------------------------------------------


def find_py_spy() -> str | None:
    py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    return py_spy if Path(py_spy).exists() else None


def start_profiler(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    py_spy = find_py_spy()
    if py_spy is None:
        log("--profile: py-spy is not installed in the virtualenv (.venv/bin/pip install py-spy); skipped")
        return None
    cmd = [py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200", "--nonblocking", "--gil"]
    cmd += ["--format", "raw", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _frame(frame: str) -> str:
    """'function (path/to/file.py:123)' -> 'function (file.py)' with site-packages trimmed."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    where = where.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
    return f"{name} ({where})"


def summarise_profile(path: Path, top: int) -> list[str]:
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        self_time[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    if not total:
        return ["(no samples)"]
    out = [f"{total} samples; self time (the frame on top of the stack):"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in self_time.most_common(top)]
    out += ["inclusive (the frame anywhere on the stack):"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top + 10)]
    return out


# --- one target, end to end -------------------------------------------------------------------


def collect(queue, kind: str, expected: int, procs: list, timeout_s: float) -> dict[int, object]:
    got: dict[int, object] = {}
    deadline = time.monotonic() + timeout_s
    while len(got) < expected:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"client processes: {len(got)}/{expected} {kind} within {timeout_s:.0f} s")
        try:
            msg_kind, index, payload = queue.get(timeout=min(1.0, remaining))
        except Exception:  # queue.Empty
            dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
            if dead:
                raise RuntimeError(f"client process died with exit code {dead[0].exitcode}") from None
            continue
        if msg_kind == kind:
            got[index] = payload
    return got


def run_target(target: Target, args, tmp: Path, database: BenchDatabase | None) -> dict:
    log(f"--- target {target.name}: {args.chargers} chargers, mode {args.mode}")
    if target.redis:
        redis_flush(args.redis_url)
    build_servers(target, args, tmp, database)
    result: dict = {"target": target.name, "chargers": args.chargers, "mode": args.mode}
    procs: list = []
    try:
        for server in target.servers + target.jobs:
            server.start()
        for server in target.servers + target.jobs:
            where = f" on port {server.port}" if server.port is not None else ""
            log(f"{server.name} ready{where} in {server.wait_ready():.1f} s")
        server_pids = [pid for s in target.servers for pid in s.pids()]
        result["rss_before_kb"] = rss_kb(server_pids)

        ports = [s.port for s in target.servers]
        k = max(1, min(args.client_procs, args.chargers))
        quotas = split_quota(args.samples, args.chargers) if args.mode == "count" else [0] * args.chargers
        assignments: list[list] = [[] for _ in range(k)]
        for i in range(args.chargers):
            url = f"ws://{HOST}:{ports[i % len(ports)]}/ocpp/{charge_point_id(i)}"
            assignments[i % k].append((charge_point_id(i), url, quotas[i], protocol_of(i, args.ocpp201_share)))
        ctx = mp.get_context("fork")
        ctrl = {"queue": ctx.Queue(), "go": ctx.Event(), "release": ctx.Event(), "t_start": ctx.Value("d", 0.0)}
        cfg = client_config(args)
        for index in range(k):
            p = ctx.Process(target=client_process, args=(index, cfg, assignments[index], ctrl), daemon=True)
            p.start()
            procs.append(p)
        ready = collect(ctrl["queue"], "ready", k, procs, args.connect_timeout + 120)
        result["connect_s"] = max(connected_s for connected_s, _ in ready.values())
        result["quiet_wait_s"] = max(quiet_wait_s for _, quiet_wait_s in ready.values())
        log(
            f"all client processes connected in {result['connect_s']:.1f} s; the server's boot calls"
            f" over {result['quiet_wait_s']:.1f} s later; settling {args.settle} s"
        )
        time.sleep(args.settle)
        server_pids = [pid for s in target.servers for pid in s.pids()]
        result["rss_after_kb"] = rss_kb(server_pids)

        poster = calibration = None
        if args.mode == "p3":
            poster = ReadingPoster(args, site_count(args))
            calibration = poster.calibrate(0, args.p3_calibration_spacing)
            log(f"p3: calibrated the limits of {len(calibration)} grid levels on site 0")
        jobs_pids = [pid for s in target.jobs for pid in s.pids()]
        cpu0, jobs_cpu0, machine0 = cpu_seconds(server_pids), cpu_seconds(jobs_pids), machine_busy_seconds()
        wall0 = time.monotonic()
        throttled0 = throttled_s(target)
        ctrl["t_start"].value = time.time() + 0.3
        ctrl["go"].set()
        if poster is not None:
            poster.start(ctrl["t_start"].value)
        profiler = None
        if args.profile and target.kind == "full" and args.mode in ("closed", "rate", "p3"):
            time.sleep(1.3)
            profiler = start_profiler(target.servers[0].proc.pid, max(3, args.duration - 3), tmp / "profile.txt")
        if args.mode == "reconnect":
            result.update(restart_servers(target, args, ctrl["t_start"].value))
            server_pids = None
        results = collect(ctrl["queue"], "result", k, procs, result_timeout(args))
        if poster is not None:
            poster.join()
        wall1 = time.monotonic()
        result["machine_cpu_pct"] = 100 * (machine_busy_seconds() - machine0) / (wall1 - wall0)
        if target.jobs:
            result["jobs_cpu_pct"] = 100 * (cpu_seconds(jobs_pids) - jobs_cpu0) / (wall1 - wall0)
        if server_pids is not None:
            result["server_cpu_pct"] = 100 * (cpu_seconds(server_pids) - cpu0) / (wall1 - wall0)
        else:
            pids = [pid for s in target.servers for pid in s.pids()]
            result["server_cpu_pct"] = None  # the process was replaced in the middle
            server_pids = pids
        result["rss_end_kb"] = rss_kb(server_pids)
        if throttled0 is not None:
            result["server_throttled_s"] = throttled_s(target) - throttled0
        merge_client_results(result, results.values(), args)
        if poster is not None:
            per_site = args.chargers_per_site or args.chargers
            chargers_of_site: dict[int, list[str]] = defaultdict(list)
            for i in range(args.chargers):
                chargers_of_site[i // per_site].append(charge_point_id(i))
            result["p3"] = p3_figures(poster.posts, calibration, result.pop("_profiles"), chargers_of_site, args)
            result["p3"]["poster_counters"] = dict(poster.counters)
            result["p3"]["sites"] = site_count(args)
        if profiler is not None:
            _, err = profiler.communicate(timeout=args.duration + 60)
            out = tmp / "profile.txt"
            if out.exists():
                keep = Path(args.profile_out) if args.profile_out else out
                if keep != out:
                    shutil.copyfile(out, keep)
                result["profile"] = summarise_profile(out, args.profile_top)
                result["profile_file"] = str(keep)
            else:
                result["profile"] = [f"py-spy failed: {err.decode(errors='replace')[-500:]}"]

        if args.mode == "count":
            # Graceful stop right after the last answer: whatever was acknowledged must be stored.
            stops = [s.stop(timeout_s=args.stop_timeout) for s in target.servers]
            result["server_stop"] = [
                {"exit_code": code, "seconds": round(secs, 2), "killed": killed} for code, secs, killed in stops
            ]
        if target.database_url is not None and args.mode == "p3":
            result["p3"].update(product_counts(database, target.database_url))
        elif target.database_url is not None:
            result["samples_stored"] = stored_samples(database, target.database_url)
            if args.ocpp201_share:
                result["samples_stored_by_protocol"] = stored_samples_by_protocol(database, target.database_url, args)
        ctrl["release"].set()
    finally:
        for p in procs:
            p.join(20)
            if p.is_alive():
                p.kill()
                p.join(5)
        for server in target.servers:
            result.setdefault("server_log_tail", {})[server.name] = server.log_tail(15)
            server.stop()
        for job in reversed(target.jobs):  # beat first: nothing is sent to a worker that has gone
            job.stop()
        if target.redis:
            with contextlib.suppress(Exception):
                redis_flush(args.redis_url)
    result["server_log_problems"] = log_problems(target)
    return result


def throttled_s(target: Target) -> float | None:
    """Seconds the target's CPU quotas held its servers back, summed (None without --server-cpus)."""
    quotas = [s.cpu_quota for s in target.servers if s.cpu_quota is not None]
    return sum(q.throttled_s() for q in quotas) if quotas else None


def restart_servers(target: Target, args, start_wall: float) -> dict:
    """Reconnect mode: stop the server(s) under load and start them again on the same port
    and database."""
    time.sleep(max(0.0, start_wall - time.time()) + args.restart_after)
    out: dict = {"t_kill": time.time()}
    stops = [s.stop(timeout_s=30) for s in target.servers]
    out["t_down"] = time.time()
    out["server_stop"] = [{"exit_code": c, "seconds": round(t, 2), "killed": k} for c, t, k in stops]
    log(f"server(s) stopped in {out['t_down'] - out['t_kill']:.1f} s; starting again")
    for server in target.servers:
        server.start()
    for server in target.servers:
        server.wait_ready()
    out["t_listening"] = time.time()
    log(f"server(s) answering again {out['t_listening'] - out['t_kill']:.1f} s after the stop")
    return out


_LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d [\d:,]+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): "  # the product's format
    r"|\[\d{4}-\d\d-\d\d [\d:,]+: (?P<celery_level>[A-Z]+)/[\w-]+\] )(?P<message>.*)$"  # Celery's
)
_VARYING = re.compile(r"BENCH\d{5}|[0-9a-f]{8}-[0-9a-f-]{27}|\b\d+(\.\d+)?\b")


def log_problems(target: Target) -> Counter:
    """WARNING and worse lines of the server logs, grouped by their shape (ids and numbers
    blanked), with Python tracebacks counted by their last line."""
    problems: Counter = Counter()
    for server in target.servers + target.jobs:
        with contextlib.suppress(OSError):
            lines = server.log_path.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                match = _LOG_LINE.match(line)
                level = match and (match["level"] or match["celery_level"])
                if level in ("WARNING", "ERROR", "CRITICAL"):
                    shape = _VARYING.sub("#", match["message"])[:160]
                    problems[f"{level} {match['logger'] or server.name}: {shape}"] += 1
                elif line.startswith("Traceback"):
                    end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith((" ", "\t"))), None)
                    last = lines[end] if end is not None else "?"
                    problems[f"Traceback ... {_VARYING.sub('#', last)[:160]}"] += 1
    return problems


def site_count(args) -> int:
    per_site = args.chargers_per_site or args.chargers
    return -(-args.chargers // per_site)


def split_quota(total: int, n: int) -> list[int]:
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def client_config(args) -> dict:
    return {
        "mode": args.mode,
        "duration": args.duration,
        "interval": args.interval,
        "heartbeat_interval": args.heartbeat_interval,
        "timeout": args.timeout,
        "open_timeout": args.open_timeout,
        "connect_concurrency": args.connect_concurrency,
        "connect_attempts": args.connect_attempts,
        "max_seconds": args.max_seconds,
        "backoff_min": args.backoff_min,
        "backoff_max": args.backoff_max,
        "backoff_cap": args.backoff_cap,
        "release_timeout": 600,
        "seed": args.seed,
        "p3_deadline": args.p3_deadline,
        "settle_quiet": args.settle_quiet,
        "smart": args.smart_chargers or args.mode == "p3",
        # One second apart per message, starting well in the past, unique per charger and message.
        "base_epoch": int(time.time()) // 86400 * 86400 - 30 * 86400,
    }


def result_timeout(args) -> float:
    if args.mode == "count":
        return args.max_seconds + args.timeout + 90
    if args.mode == "p3":
        return args.duration + args.p3_deadline + 90
    return args.duration + args.timeout + 90


SLICE_S = 10


def p99_by_slice(latencies: array.array, answered_at: array.array, slice_s: float) -> list[float]:
    """p99 of the answers arriving in each slice_s of the run: a backlog at the start and a
    stall in the middle look the same in one percentile, not here."""
    if not latencies:
        return []
    start = min(answered_at)
    slices: dict[int, list[float]] = {}
    for latency, at in zip(latencies, answered_at, strict=True):
        slices.setdefault(int((at - start) // slice_s), []).append(latency)
    return [percentile(sorted(slices.get(k, [])), 0.99) for k in range(max(slices) + 1)]


def server_calls_by_slice(call_at: array.array, answered_at: array.array, slice_s: float) -> list[int]:
    """The server's CALLs (a boot's probe, limits, clears, checks) arriving in the slice before
    measuring began, then in each slice of it (slices as p99_by_slice's): boot work still under
    way when measuring began shows here, not as a slower server."""
    if not answered_at:
        return []
    start = min(answered_at)
    last = int((max(answered_at) - start) // slice_s)
    counts = [0] * (last + 2)
    for at in call_at:
        if at >= start - slice_s:
            counts[min(last, int((at - start) // slice_s)) + 1] += 1
    return counts


def merge_client_results(result: dict, parts, args) -> None:
    latencies = array.array("d")
    answered_at = array.array("d")
    server_call_at = array.array("d")
    boots = array.array("d")
    back = array.array("d")
    counters: Counter = Counter()
    server_calls: Counter = Counter()
    profiles: list = []
    cpu = elapsed = 0.0
    still = 0
    for part in parts:
        profiles.extend(part["profiles"])
        latencies.frombytes(part["latencies"])
        answered_at.frombytes(part["answered_at"])
        boots.frombytes(part["boot_latencies"])
        back.frombytes(part["back_after"])
        counters.update(part["counters"])
        server_calls.update(part["server_calls"])
        server_call_at.frombytes(part["server_call_at"])
        cpu += part["cpu_s"]
        elapsed = max(elapsed, part["elapsed_s"])
        still += part["still_connected"]
    ordered = sorted(latencies)
    result["latency_ms"] = {q: percentile(ordered, v) for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
    result["latency_ms"]["max"] = ordered[-1] if ordered else None
    result["p99_by_slice_ms"] = p99_by_slice(latencies, answered_at, SLICE_S)
    result["server_calls_by_slice"] = server_calls_by_slice(server_call_at, answered_at, SLICE_S)
    boots_sorted = sorted(boots)
    result["boot_latency_ms"] = {"p50": percentile(boots_sorted, 0.5), "p99": percentile(boots_sorted, 0.99)}
    result["counters"] = dict(counters)
    result["server_calls"] = dict(server_calls)
    result["client_cpu_pct"] = 100 * cpu / elapsed if elapsed else None
    result["elapsed_s"] = elapsed
    result["still_connected"] = still
    if args.mode == "p3":
        result["_profiles"] = profiles  # matched against the posts in run_target, then dropped
    if args.mode in ("closed", "rate"):
        result["msgs_per_s"] = counters["answered in window"] / args.duration
    elif args.mode == "count":
        result["msgs_per_s"] = counters["answered"] / elapsed if elapsed else None
    result["errors"] = sum(n for key, n in counters.items() if key.startswith(("error:", "connect failed", "gave up")))
    if args.mode == "reconnect" and "t_kill" in result:
        times = sorted(t - result["t_kill"] for t in back)
        result["reconnect"] = {
            "back": len(back),
            "all_back_after_stop_s": times[-1] if times and len(times) == counters["back and accepted"] else None,
            "all_back_after_listening_s": (max(back) - result["t_listening"]) if back else None,
            "p50_after_stop_s": percentile(times, 0.5),
            "p99_after_stop_s": percentile(times, 0.99),
            "stop_took_s": result["t_down"] - result["t_kill"],
            "restart_took_s": result["t_listening"] - result["t_down"],
        }


# --- P3: readings posted over the REST API, profiles matched to them ---------------------------


@dataclass
class Post:
    site: int
    seq: int  # the site's reading number: -1 - n in calibration, 0, 1, 2... in the window
    level: int  # index into args.p3_values: the grid current per phase posted
    t0: float  # wall time just before the request was sent
    t1: float  # wall time the answer was read
    status: int | str  # HTTP status, or the exception's name


def p3_values(args, per_site: int) -> list[float]:
    """--p3-levels grid currents per phase, evenly from low to high, in an order where each
    differs from the one before by about half the range: 0, 5, 1, 6, 2, 7... for 10 levels.
    Each gives the site's chargers their own limit, so a profile's limit tells which reading
    the control run read."""
    low = args.p3_low_a if args.p3_low_a is not None else 5.0 * per_site
    high = args.p3_high_a if args.p3_high_a is not None else 10.0 * per_site
    m = max(2, args.p3_levels)
    values = [round(low + (high - low) * j / (m - 1), 2) for j in range(m)]
    half = (m + 1) // 2
    order = [j for pair in zip(range(half), range(half, m), strict=False) for j in pair]
    order += [j for j in range(m) if j not in order]
    return [values[j] for j in order]


class ReadingPoster:
    """Posts a reading per site every --p3-interval s for --duration s, the sites' phases spread
    evenly over the interval; the grid current per phase (all three phases) walks through
    args.p3_values, so every reading changes the site's fuse headroom, hence its chargers'
    limits. A few threads, each with one keep-alive HTTP connection, serve the sites in turn."""

    def __init__(self, args, sites: int):
        self.args, self.sites = args, sites
        self.posts: list[Post] = []
        self.counters: Counter = Counter()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def post(self, conn: http.client.HTTPConnection | None, site: int, seq: int, level: int):
        """One reading; returns the connection to reuse (None after an error)."""
        amps = self.args.p3_values[level]
        body = json.dumps({"site": f"Bench site {site:05d}", "grid_l1_a": amps, "grid_l2_a": amps, "grid_l3_a": amps})
        headers = {"Authorization": f"Token {self.args.api_token}", "Content-Type": "application/json"}
        if conn is None:
            conn = http.client.HTTPConnection(HOST, self.args.port, timeout=self.args.p3_deadline + 5)
        t0 = time.time()
        try:
            conn.request("POST", READINGS_PATH, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read()
            status: int | str = response.status
            if status != 201:
                with self.lock:
                    self.counters[f"HTTP {status}: {text[:120].decode(errors='replace')}"] += 1
        except Exception as error:  # timeout, reset: a new connection for the next one
            status = type(error).__name__
            conn.close()
            conn = None
        with self.lock:
            self.posts.append(Post(site, seq, level, t0, time.time(), status))
        return conn

    def calibrate(self, site: int, spacing_s: float) -> list[Post]:
        """Before measuring: each level once on one site, --p3-calibration-spacing s apart on an
        otherwise idle server, to learn which limits each level gives (all sites are alike)."""
        conn = None
        for level in range(len(self.args.p3_values)):
            due = time.time() + spacing_s
            conn = self.post(conn, site, -1 - level, level)
            time.sleep(max(0.0, due - time.time()))
        if conn is not None:
            conn.close()
        calibration, self.posts = self.posts, []
        return calibration

    def start(self, start_wall: float) -> None:
        workers = max(1, min(self.sites, self.args.p3_poster_threads))
        self.threads = [
            threading.Thread(target=self._work, args=(w, workers, start_wall), daemon=True) for w in range(workers)
        ]
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(self.args.duration + 60)
            if thread.is_alive():
                self.counters["poster thread still running at the end"] += 1

    def _work(self, worker: int, workers: int, start_wall: float) -> None:
        interval, end, m = self.args.p3_interval, start_wall + self.args.duration, len(self.args.p3_values)
        schedule = []
        for site in range(worker, self.sites, workers):
            first = start_wall + interval * site / self.sites
            n = 0
            while first + n * interval < end:
                schedule.append((first + n * interval, site, n))
                n += 1
        conn = None
        for due, site, n in sorted(schedule):
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.1:
                with self.lock:
                    self.counters["readings posted over 0.1 s late"] += 1
            conn = self.post(conn, site, n, n % m)
        if conn is not None:
            conn.close()


def _stats(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 0.5),
        "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1] if ordered else None,
    }


def p3_calibration(
    calibration: list[Post], arrivals: dict, chargers: list[str], values: list[float], spacing_s: float
) -> dict:
    """The limits each level gave the calibration site's chargers: the ChargePointMaxProfiles
    arriving between that level's post and the next one."""
    limits: dict[int, list[float]] = {}
    ordered = sorted(calibration, key=lambda p: p.t0)
    for i, post in enumerate(ordered):
        until = ordered[i + 1].t0 if i + 1 < len(ordered) else post.t0 + spacing_s
        got = sorted(limit for cp in chargers for t, limit in arrivals.get(cp, []) if post.t0 <= t < until)
        limits[post.level] = got if post.status == 201 else []
    problems = [
        f"grid {values[level]:g} A gave {len(got)} profiles for {len(chargers)} chargers"
        for level, got in sorted(limits.items())
        if len(got) != len(chargers)
    ]
    owner: dict[float, int] = {}
    for level, got in limits.items():
        for limit in sorted(set(got)):
            if owner.setdefault(limit, level) != level:
                problems.append(f"limit {limit:g} A comes from grid {values[owner[limit]]:g} and {values[level]:g} A")
    return {"limits": limits, "owner": owner, "problems": problems}


def p3_figures(
    posts: list[Post], calibration: list[Post], profiles: list, chargers_of_site: dict[int, list[str]], args
) -> dict:
    """Each accepted reading, per charger of its site: the time from just before the POST until
    the charger receives a ChargePointMaxProfile whose limit comes from that reading or a newer
    one of the site (a newer one: the reading was superseded, energy control read a later one).
    Which reading a profile comes from: its limit, looked up in the calibration, is that of one
    level, and the reading is the site's latest of that level posted before the profile arrived.
    Nothing within --p3-deadline s is a miss, and counts as infinitely late in the percentiles."""
    deadline = args.p3_deadline
    arrivals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    other_purposes: Counter = Counter()
    for t, cp, purpose, _connector, _unit, limit in profiles:
        if purpose == PROTECTION_PURPOSE:
            arrivals[cp].append((t, float(limit)))
        else:
            other_purposes[purpose] += 1
    for seen in arrivals.values():
        seen.sort()
    calibration_site = calibration[0].site if calibration else 0
    cal = p3_calibration(
        calibration, arrivals, chargers_of_site[calibration_site], args.p3_values, args.p3_calibration_spacing
    )
    known = sorted(cal["owner"])
    # Half the smallest gap between limits of different levels (one level's chargers may differ by 0.1 A).
    gaps = [b - a for a, b in pairwise(known) if cal["owner"][a] != cal["owner"][b]]
    tolerance = min(gaps, default=1.0) / 2

    def level_of(limit: float) -> int | None:
        nearest = min(known, key=lambda k: abs(k - limit), default=None)
        return cal["owner"][nearest] if nearest is not None and abs(nearest - limit) < tolerance else None

    accepted = sorted((p for p in posts if p.status == 201), key=lambda p: p.t0)
    first_post = accepted[0].t0 if accepted else float("inf")
    by_site: dict[int, list[Post]] = defaultdict(list)
    for post in accepted:
        by_site[post.site].append(post)
    counters: Counter = Counter()
    # Per charger: (arrival time, seq of the reading the profile comes from), in arrival order.
    explained: dict[str, list[tuple[float, int]]] = {}
    for site, site_posts in by_site.items():
        of_level: dict[int, list[Post]] = defaultdict(list)
        for post in site_posts:
            of_level[post.level].append(post)
        t0s_of_level = {level: [p.t0 for p in level_posts] for level, level_posts in of_level.items()}
        for cp in chargers_of_site[site]:
            out = explained[cp] = []
            for t, limit in arrivals.get(cp, []):
                if t < site_posts[0].t0:
                    continue
                level = level_of(limit)
                i = bisect_left(t0s_of_level.get(level, []), t)
                if i == 0:
                    counters["profiles not explained by any reading"] += 1
                    continue
                out.append((t, of_level[level][i - 1].seq))
    per_charger: list[float] = []
    per_site: list[float] = []
    for post in accepted:
        site_times = []
        for cp in chargers_of_site[post.site]:
            hit = next(
                ((t, seq) for t, seq in explained.get(cp, []) if t >= post.t0 and seq >= post.seq),
                None,
            )
            if hit is None or hit[0] > post.t0 + deadline:
                counters["misses"] += 1
                site_times.append(float("inf"))
                continue
            counters["superseded (a newer reading's profile came first)" if hit[1] > post.seq else "own profile"] += 1
            site_times.append((hit[0] - post.t0) * 1000)
        per_charger.extend(site_times)
        if site_times:
            per_site.append(max(site_times))
    per_post_counts: Counter = Counter()
    for site, site_posts in by_site.items():
        for i, post in enumerate(site_posts):
            until = site_posts[i + 1].t0 if i + 1 < len(site_posts) else post.t0 + deadline
            n = sum(1 for cp in chargers_of_site[site] for t, _ in arrivals.get(cp, []) if post.t0 <= t < until)
            per_post_counts[n] += 1
    http_ms = sorted((p.t1 - p.t0) * 1000 for p in posts)
    return {
        "readings_posted": len(posts),
        "readings_accepted": len(accepted),
        "http_errors": len(posts) - len(accepted),
        "http_ms": {"p50": percentile(http_ms, 0.5), "p99": percentile(http_ms, 0.99)},
        "expected_profiles": len(per_charger),
        "matched": len(per_charger) - counters["misses"],
        "misses": counters["misses"],
        "superseded": counters["superseded (a newer reading's profile came first)"],
        "latency_ms": _stats(per_charger),
        "site_latency_ms": _stats(per_site),
        "grid_a_to_limits_a": {
            f"{args.p3_values[level]:g}": [f"{limit:g}" for limit in got]
            for level, got in sorted(cal["limits"].items())
        },
        "calibration_problems": cal["problems"],
        "profiles_not_explained": counters["profiles not explained by any reading"],
        "profiles_per_post": {str(k): v for k, v in sorted(per_post_counts.items())},
        "profiles_after_first_post": sum(1 for seen in arrivals.values() for t, _ in seen if t >= first_post),
        "other_purposes": dict(other_purposes),
    }


def product_counts(database: BenchDatabase, database_url: str) -> dict:
    """p3: what the server recorded: SetChargingProfile commands by who asked, readings stored."""
    out: dict = {}
    rows = database.rows(
        database_url,
        "SELECT requested_by, outcome, COUNT(*) FROM chargers_chargercommand "
        "WHERE action = 'SetChargingProfile' GROUP BY requested_by, outcome",
    )
    if rows is not None:
        by_trigger: Counter = Counter()
        for requested_by, outcome, n in rows:
            # "energy:BENCH00003: transaction started" -> "energy:#: transaction started"
            by_trigger[f"{_VARYING.sub('#', requested_by)} -> {outcome}"] += n
        out["set_charging_profile_commands"] = dict(by_trigger.most_common())
    readings = database.rows(database_url, "SELECT COUNT(*) FROM energy_energyreading")
    if readings is not None:
        out["energy_readings_stored"] = readings[0][0]
    return out


# --- the report -------------------------------------------------------------------------------


def fmt(value, spec: str = ",.0f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return format(value, spec)
    return str(value)


def chargers_by_protocol(args) -> dict[str, int]:
    protocols = [protocol_of(i, args.ocpp201_share) for i in range(args.chargers)]
    return {protocol: protocols.count(protocol) for protocol in (OCPP16, OCPP201)}


def per_charger_rate(result: dict, protocol: str, chargers: int, args) -> float | None:
    answered = result.get("counters", {}).get(f"sample messages answered in window {protocol}", 0)
    return answered / args.duration / chargers if chargers and args.duration else None


def stored_per_charger(result: dict, protocol: str, chargers: int) -> float | None:
    stored = (result.get("samples_stored_by_protocol") or {}).get(protocol)
    return stored / chargers if stored is not None and chargers else None


def report(results: list[dict], args) -> None:
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fn) -> None:
        rows.append((label, [fn(r) for r in results]))

    row("chargers", lambda r: fmt(r["chargers"]))
    row("mode", lambda r: r["mode"])
    row("server processes", lambda r: fmt(len(r.get("server_log_tail", {}))))
    row("connect + boot all (s)", lambda r: fmt(r.get("connect_s"), ".1f"))
    row("boot calls over after (s)", lambda r: fmt(r.get("quiet_wait_s"), ".1f"))
    row(
        "boot p50/p99 (ms)",
        lambda r: f"{fmt(r['boot_latency_ms']['p50'], '.1f')}/{fmt(r['boot_latency_ms']['p99'], '.1f')}",
    )
    if args.mode == "p3":

        def ms(stats: dict, key: str) -> str:
            value = stats[key]
            return f">{args.p3_deadline * 1000:.0f}" if value == float("inf") else fmt(value, ".1f")

        row("sites", lambda r: fmt(r["p3"]["sites"]))
        row("readings posted", lambda r: fmt(r["p3"]["readings_posted"]))
        row("readings/s", lambda r: fmt(r["p3"]["readings_posted"] / args.duration, ".1f"))
        row(
            "POST p50/p99 (ms)",
            lambda r: f"{fmt(r['p3']['http_ms']['p50'], '.1f')}/{fmt(r['p3']['http_ms']['p99'], '.1f')}",
        )
        row("HTTP errors", lambda r: fmt(r["p3"]["http_errors"]))
        row("profiles expected", lambda r: fmt(r["p3"]["expected_profiles"]))
        row("profiles matched", lambda r: fmt(r["p3"]["matched"]))
        row("misses (none in time)", lambda r: fmt(r["p3"]["misses"]))
        for key in ("p50", "p95", "p99", "max"):
            row(f"reading->profile {key} (ms)", lambda r, key=key: ms(r["p3"]["latency_ms"], key))
        row("whole site p99 (ms)", lambda r: ms(r["p3"]["site_latency_ms"], "p99"))
        row("superseded readings", lambda r: fmt(r["p3"]["superseded"]))
    if args.mode not in ("reconnect", "p3"):
        row("messages answered", lambda r: fmt(r["counters"].get("answered", 0)))
        row("messages/s", lambda r: fmt(r.get("msgs_per_s"), ",.1f"))
        row("latency p50 (ms)", lambda r: fmt(r["latency_ms"]["p50"], ".2f"))
        row("latency p95 (ms)", lambda r: fmt(r["latency_ms"]["p95"], ".2f"))
        row("latency p99 (ms)", lambda r: fmt(r["latency_ms"]["p99"], ".2f"))
        row("latency max (ms)", lambda r: fmt(r["latency_ms"]["max"], ".1f"))
        row(
            f"p99 per {SLICE_S} s (ms)",
            lambda r: " ".join(fmt(v, ".0f") for v in r.get("p99_by_slice_ms", [])),
        )
        row(
            f"server CALLs per {SLICE_S} s (before, in)",
            lambda r: " ".join(str(v) for v in r.get("server_calls_by_slice", [])),
        )
    row("errors", lambda r: fmt(r["errors"]))
    row("server CPU %", lambda r: fmt(r.get("server_cpu_pct"), ".0f"))
    if any("jobs_cpu_pct" in r for r in results):
        row("Celery worker + beat CPU %", lambda r: fmt(r.get("jobs_cpu_pct"), ".0f"))
    if args.server_cpus:
        row(f"throttled at {args.server_cpus:g} cores (s)", lambda r: fmt(r.get("server_throttled_s"), ".1f"))
    row("client CPU % (all procs)", lambda r: fmt(r.get("client_cpu_pct"), ".0f"))
    row(f"machine CPU % (of {os.cpu_count() * 100})", lambda r: fmt(r.get("machine_cpu_pct"), ".0f"))
    row("server RSS before (MB)", lambda r: fmt(r["rss_before_kb"] / 1024, ".1f"))
    row("server RSS connected (MB)", lambda r: fmt(r["rss_after_kb"] / 1024, ".1f"))
    row("server RSS end (MB)", lambda r: fmt(r["rss_end_kb"] / 1024, ".1f"))
    row("RSS per connection (KB)", lambda r: fmt((r["rss_after_kb"] - r["rss_before_kb"]) / r["chargers"], ".1f"))
    row("RSS per conn at end (KB)", lambda r: fmt((r["rss_end_kb"] - r["rss_before_kb"]) / r["chargers"], ".1f"))
    if any(r.get("samples_stored") is not None for r in results):
        row("samples sent", lambda r: fmt(r["counters"].get("samples sent", 0)))
        row("samples acknowledged", lambda r: fmt(r["counters"].get("samples acknowledged", 0)))
        row("MeterSample rows stored", lambda r: fmt(r.get("samples_stored")))
    if args.ocpp201_share:
        counts = chargers_by_protocol(args)
        for protocol, action in ((OCPP16, "MeterValues"), (OCPP201, "TransactionEvent")):
            row(f"{protocol} chargers", lambda r, p=protocol: fmt(counts[p]))
            row(
                f"{protocol} {action} answered/s per charger",
                lambda r, p=protocol: fmt(per_charger_rate(r, p, counts[p], args), ".1f"),
            )
            row(
                f"{protocol} samples stored per charger",
                lambda r, p=protocol: fmt(stored_per_charger(r, p, counts[p]), ",.0f"),
            )
    if args.mode == "reconnect":
        row("stop took (s)", lambda r: fmt(r["reconnect"]["stop_took_s"], ".1f"))
        row("restart to listening (s)", lambda r: fmt(r["reconnect"]["restart_took_s"], ".1f"))
        row("back and accepted", lambda r: f"{r['reconnect']['back']}/{r['chargers']}")
        row("all back after stop (s)", lambda r: fmt(r["reconnect"]["all_back_after_stop_s"], ".1f"))
        row("all back after listening (s)", lambda r: fmt(r["reconnect"]["all_back_after_listening_s"], ".1f"))
        row(
            "p50/p99 back after stop (s)",
            lambda r: (
                f"{fmt(r['reconnect']['p50_after_stop_s'], '.1f')}/{fmt(r['reconnect']['p99_after_stop_s'], '.1f')}"
            ),
        )
    label_width = max(len(label) for label, _ in rows)
    widths = [max(len(r["target"]), *(len(cells[i]) for _, cells in rows)) for i, r in enumerate(results)]
    print()
    print(" " * label_width + "  " + "  ".join(r["target"].rjust(w) for r, w in zip(results, widths, strict=True)))
    for label, cells in rows:
        print(label.ljust(label_width) + "  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    print()
    by_name = {r["target"]: r for r in results}
    if args.ocpp201_share:
        counts = chargers_by_protocol(args)
        for r in results:
            old, new = (stored_per_charger(r, p, counts[p]) for p in (OCPP16, OCPP201))
            if old and new is not None:
                ratio = new / old
                print(
                    f"{r['target']}: 2.0.1 TransactionEvent / 1.6 MeterValues samples stored per charger: {ratio:.2f}x"
                    f" (goal >= 0.9x) -> {'met' if ratio >= 0.9 else 'MISSED'}"
                )
    if "bare" in by_name and "full" in by_name and by_name["bare"].get("msgs_per_s"):
        ratio = by_name["full"]["msgs_per_s"] / by_name["bare"]["msgs_per_s"]
        print(f"P1 full/bare throughput: {ratio:.2f}x (goal >= 1.0x) -> {'met' if ratio >= 1.0 else 'MISSED'}")
    if "redis-1p" in by_name and "redis-2p" in by_name and by_name["redis-1p"].get("msgs_per_s"):
        ratio = by_name["redis-2p"]["msgs_per_s"] / by_name["redis-1p"]["msgs_per_s"]
        print(
            f"P4 2-process/1-process throughput: {ratio:.2f}x (goal >= 1.7x) -> {'met' if ratio >= 1.7 else 'MISSED'}"
        )
    for r in results:
        if args.mode == "rate":
            p99 = r["latency_ms"]["p99"]
            per_conn = (r["rss_after_kb"] - r["rss_before_kb"]) / r["chargers"]
            ok = p99 is not None and p99 < 250 and r["errors"] == 0 and per_conn < 40
            print(
                f"P2 ({r['target']}, {r['chargers']} chargers): p99 {fmt(p99, '.1f')} ms (< 250), "
                f"errors {r['errors']} (0), {per_conn:.1f} KB/connection (< 40) -> {'met' if ok else 'MISSED'}"
                + ("" if r["chargers"] >= 10000 else " at this size (the goal is stated for 10,000)")
            )
        if args.mode == "p3" and r.get("p3"):
            f = r["p3"]
            p99 = f["latency_ms"]["p99"]
            ok = p99 is not None and p99 < 1000 and f["http_errors"] == 0 and not f["calibration_problems"]
            shown = f">{args.p3_deadline * 1000:.0f}" if p99 == float("inf") else fmt(p99, ".0f")
            print(f"P3 reading -> SetChargingProfile p99: {shown} ms (goal < 1000 ms) -> {'met' if ok else 'MISSED'}")
            print(
                f"  {f['readings_accepted']:,} readings accepted of {f['readings_posted']:,} posted "
                f"({f['http_errors']} HTTP errors); {f['matched']:,} of {f['expected_profiles']:,} profiles "
                f"arrived with the new limit ({f['superseded']} of them a newer reading's), "
                f"{f['misses']} misses (none within {args.p3_deadline:g} s)"
            )
            print(f"  profiles on the site's chargers per reading (until its next one): {f['profiles_per_post']}")
            levels = ", ".join(f"{g} A -> {'/'.join(limits) or '?'}" for g, limits in f["grid_a_to_limits_a"].items())
            print(f"  calibration, grid current per phase -> the site's limits (A): {levels}")
            for problem in f["calibration_problems"]:
                print(f"  calibration problem: {problem}")
            if f["profiles_not_explained"]:
                print(f"  profiles whose limit no reading explains: {f['profiles_not_explained']}")
            if f.get("set_charging_profile_commands"):
                commands = json.dumps(f["set_charging_profile_commands"])
                print(f"  server's SetChargingProfile commands by trigger: {commands}")
            print(f"  energy readings stored: {fmt(f.get('energy_readings_stored'))}")
            if f["other_purposes"] or f["poster_counters"]:
                print(f"  other profiles: {f['other_purposes']}; poster: {json.dumps(f['poster_counters'])}")
        if args.mode == "reconnect" and r.get("reconnect"):
            t = r["reconnect"]["all_back_after_stop_s"]
            ok = t is not None and t <= 30
            verdict = "met" if ok else "MISSED"
            print(f"reliability ({r['target']}): all {r['chargers']} back in {fmt(t, '.1f')} s (<= 30 s) -> {verdict}")
        if args.mode == "count":
            sent = r["counters"].get("samples sent", 0)
            stored = r.get("samples_stored")
            verdict = "met" if stored == sent == args.samples else "MISSED"
            print(f"reliability ({r['target']}): {sent:,} samples sent, {fmt(stored)} stored (equal) -> {verdict}")
            for stop in r.get("server_stop", []):
                killed = " (had to SIGKILL)" if stop["killed"] else ""
                print(f"  graceful stop: exit code {stop['exit_code']} after {stop['seconds']} s{killed}")
    for r in results:
        details = {k: v for k, v in sorted(r["counters"].items()) if k not in ("answered in window",)}
        print(f"{r['target']} counters: {json.dumps(details)}")
        if r["server_calls"]:
            how = "answered as a smart charger" if args.smart_chargers or args.mode == "p3" else "answered NotSupported"
            print(f"{r['target']} server-initiated CALLs {how}: {json.dumps(r['server_calls'])}")
        if r["server_log_problems"]:
            print(f"{r['target']} server log, WARNING and worse, by shape (count):")
            for shape, n in r["server_log_problems"].most_common(12):
                print(f"    {n:>7,}  {shape}")
        if r.get("profile"):
            print(f"{r['target']} py-spy profile of the server (raw stacks: {r.get('profile_file')}):")
            for line in r["profile"]:
                print(f"    {line}")


def p3_seed_args(args) -> list[str]:
    """p3: sites whose main fuse the readings move, a run per reading, chargers that charge."""
    if args.mode != "p3":
        return []
    per_site = args.chargers_per_site or args.chargers
    return [
        "--main-fuse-a",
        str(args.p3_main_fuse_a if args.p3_main_fuse_a is not None else 20 * per_site),
        "--min-interval-s",
        "0",
        "--charger-phases",
        "3",
        "--charger-max-w",
        str(args.p3_charger_max_w),
        "--accept-any-id-tag",
        "--api-token",
        args.api_token,
    ]


def machine_summary() -> str:
    mem = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), {mem}, Python {platform.python_version()}, {platform.platform()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["closed", "rate", "reconnect", "count", "p3"], default="closed")
    parser.add_argument(
        "--targets",
        help="comma-separated: bare, full, full-redis, full-celery (default: bare,full for closed, else full)",
    )
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument(
        "--ocpp201-share",
        type=float,
        default=0.0,
        help="fraction of the chargers that speak OCPP 2.0.1 (TransactionEvent instead of MeterValues), spread evenly",
    )
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--duration", type=int, default=20, help="seconds of measurement (reconnect: deadline)")
    parser.add_argument("--interval", type=float, default=10.0, help="rate mode: seconds between MeterValues")
    parser.add_argument("--heartbeat-interval", type=float, default=300.0, help="rate mode: seconds between Heartbeats")
    parser.add_argument("--samples", type=int, default=100_000, help="count mode: sampled values to send in total")
    parser.add_argument("--max-seconds", type=int, default=600, help="count mode: give up sending after this long")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer to a CALL")
    parser.add_argument("--open-timeout", type=float, default=15.0, help="seconds for one WebSocket handshake")
    parser.add_argument("--connect-concurrency", type=int, default=50, help="handshakes in flight per client process")
    parser.add_argument("--connect-attempts", type=int, default=5)
    parser.add_argument("--connect-timeout", type=float, default=600.0, help="seconds for all chargers to connect")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between connecting and measuring")
    parser.add_argument(
        "--settle-quiet",
        type=float,
        default=3.0,
        help="before that, wait (at most 120 s) until the server sent no CALL to a client's chargers for this long:"
        " its boot work is over (0: do not wait)",
    )
    parser.add_argument("--restart-after", type=float, default=2.0, help="reconnect mode: seconds before the restart")
    parser.add_argument("--backoff-min", type=float, default=0.1)
    parser.add_argument("--backoff-max", type=float, default=2.0)
    parser.add_argument("--backoff-cap", type=float, default=5.0)
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="count mode: seconds for a graceful stop")
    parser.add_argument("--chargers-per-site", type=int, default=0, help="0: all chargers on one site")
    parser.add_argument("--port", type=int, default=9310, help="first port (full-redis uses this and the next)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10", help="full-redis: flushed before and after")
    parser.add_argument(
        "--postgres-url",
        help="the product's databases on this PostgreSQL server instead of SQLite files, as when scaled out "
        "(e.g. postgres://postgres@127.0.0.1:5432/postgres: a database it may create databases from; "
        "each run creates ocpp_bench_<pid>_* databases and drops them)",
    )
    parser.add_argument(
        "--server-cpus",
        type=float,
        help="cap each server process to this many cores (a cgroup per process; needs root and the cgroup v1 "
        "cpu controller): P4 on a machine with fewer cores than two servers and their clients need",
    )
    parser.add_argument(
        "--smart-chargers",
        action="store_true",
        help="chargers answer GetConfiguration and accept charging profiles, as real smart chargers do "
        "(always on in p3); without it they answer every server call NotSupported",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the (first) product server during the run")
    parser.add_argument("--profile-top", type=int, default=20)
    parser.add_argument("--profile-out", help="keep py-spy's raw stacks here")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (databases, server logs)")
    parser.add_argument("--seed", type=int, default=1)
    p3 = parser.add_argument_group("p3 (energy reading -> SetChargingProfile)")
    p3.add_argument("--p3-interval", type=float, default=0.5, help="seconds between readings of one site")
    p3.add_argument("--p3-levels", type=int, default=10, help="distinct grid currents the readings walk through")
    p3.add_argument("--p3-low-a", type=float, help="lowest grid current per phase (default 5 A x chargers per site)")
    p3.add_argument("--p3-high-a", type=float, help="highest (default 10 A x chargers per site)")
    p3.add_argument("--p3-main-fuse-a", type=int, help="each site's main fuse per phase (default 20 A x chargers/site)")
    p3.add_argument("--p3-calibration-spacing", type=float, default=0.3, help="seconds between calibration readings")
    p3.add_argument("--p3-charger-max-w", type=int, default=11000, help="three-phase chargers of this power")
    p3.add_argument("--p3-deadline", type=float, default=5.0, help="a profile later than this is a miss")
    p3.add_argument("--p3-poster-threads", type=int, default=16, help="HTTP connections posting readings")
    args = parser.parse_args()
    args.api_token = secrets.token_hex(20)  # p3: the bench user's token, in the fresh database only

    if args.mode == "reconnect" and args.duration == parser.get_default("duration"):
        args.duration = 120
    targets = expand_targets(args.targets or ("bare,full" if args.mode == "closed" else "full"))
    if args.mode in ("reconnect", "count") and any(t.kind != "full" for t in targets):
        raise SystemExit(f"--mode {args.mode} needs the product: --targets full (or full-redis)")
    if args.mode == "p3" and any(t.name not in ("full", "celery") for t in targets):
        # full-redis starts no Celery worker, so its rebalances would only queue in Redis.
        raise SystemExit("--mode p3 needs the product with its jobs: --targets full or full-celery")
    if args.mode == "p3" and args.chargers_per_site and args.chargers % args.chargers_per_site:
        raise SystemExit("--mode p3: --chargers must be a multiple of --chargers-per-site (all sites alike)")
    args.p3_values = p3_values(args, args.chargers_per_site or args.chargers)
    redis_host = urlparse(args.redis_url).hostname
    if any(t.redis for t in targets) and redis_host not in ("127.0.0.1", "localhost"):
        raise SystemExit("--redis-url must point at 127.0.0.1")
    if args.postgres_url and urlparse(args.postgres_url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("--postgres-url must point at 127.0.0.1")
    nofile = raise_open_files_limit()  # the servers we start inherit it
    if nofile < args.chargers + 200:
        log(f"warning: only {nofile} open files allowed; {args.chargers} sockets may not fit")

    log(f"machine: {machine_summary()}")
    log(f"open files limit: {nofile}; run started {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    tmp = Path(tempfile.mkdtemp(prefix="ocpp-bench-"))
    results = []
    database = BenchDatabase(tmp, args.postgres_url) if any(t.kind == "full" for t in targets) else None
    try:
        if database is not None:
            prepare_template_db(database, args.chargers, args.chargers_per_site, p3_seed_args(args))
        for target in targets:
            results.append(run_target(target, args, tmp, database))
    finally:
        _stop_all_servers()
        if args.keep_tmp:
            log(f"kept {tmp}" + (f" and PostgreSQL databases {database.created}" if args.postgres_url else ""))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if database is not None:
                database.drop_all()
    report(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
