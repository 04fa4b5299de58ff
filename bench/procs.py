"""Process plumbing for the benchmark: free ports, readiness, and /proc sampling."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on loopback that nothing listens on right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; fail if the process dies or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM (graceful shutdown), then SIGKILL after ``timeout``; returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def _process_cpu(pid: int, task: int | None = None) -> float:
    path = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    with open(path, encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclass
class Sample:
    at: float  # time.time()
    rss_kib: int
    cpu: float  # process CPU seconds so far
    main_cpu: float  # CPU seconds of the main thread (the event loop) so far
    machine_busy: float
    machine_total: float


@dataclass
class Sampler:
    """Samples a process's RSS and CPU (and the machine's CPU) every ``interval`` seconds."""

    pid: int
    interval: float = 0.1
    samples: list[Sample] = field(default_factory=list)
    peak_hwm_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _take(self) -> None:
        try:
            rss = _status_kib(self.pid, "VmRSS:")
            self.peak_hwm_kib = max(self.peak_hwm_kib, _status_kib(self.pid, "VmHWM:"))
            cpu = _process_cpu(self.pid)
            main_cpu = _process_cpu(self.pid, self.pid)
        except (FileNotFoundError, ProcessLookupError):
            return
        busy, total = _machine_cpu()
        self.samples.append(Sample(time.time(), rss, cpu, main_cpu, busy, total))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._take()
            self._stop.wait(self.interval)

    def finish(self) -> None:
        """Take a last sample (the process must still run) and stop sampling."""
        self._take()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def peak_rss_mib(self) -> float:
        peak = max([s.rss_kib for s in self.samples] + [self.peak_hwm_kib])
        return peak / 1024

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU cores the process (and its main thread), and the machine's busy share, between two stamps."""
        inside = [s for s in self.samples if start <= s.at <= end]
        if len(inside) < 2:
            return {"process_cores": 0.0, "main_thread_cores": 0.0, "machine_busy_share": 0.0}
        first, last = inside[0], inside[-1]
        seconds = last.at - first.at
        machine_total = last.machine_total - first.machine_total
        return {
            "process_cores": (last.cpu - first.cpu) / seconds if seconds else 0.0,
            "main_thread_cores": (last.main_cpu - first.main_cpu) / seconds if seconds else 0.0,
            "machine_busy_share": (last.machine_busy - first.machine_busy) / machine_total if machine_total else 0.0,
        }


def start_profiler(directory: Path, pid: int, label: str) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` into ``directory/<label>.txt`` (raw format, GIL holders only)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    target = directory / f"{label.replace(' ', '-')}.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    # --gil: only samples that hold the GIL, so threads waiting (epoll, queues) don't count.
    command = [py_spy, "record", "--pid", str(pid), "--rate", "200", "--gil", "--format", "raw", "-o", str(target)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    """py-spy writes its file when interrupted."""
    profiler.send_signal(2)
    try:
        profiler.wait(30)
    except subprocess.TimeoutExpired:
        profiler.kill()
