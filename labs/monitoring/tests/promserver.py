"""The tests' own Prometheus server (Debian's ``prometheus``), on loopback.

The judge starts it, writes its configuration and its targets in the judge's private
temporary folder, and queries it over HTTP. The admin, lifecycle and remote-write APIs
stay off (the defaults), so nothing the worker can reach on loopback changes what it
stores: it holds only what it scraped itself from the learner's ``/metrics``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

SCRAPE_INTERVAL_S = 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """A running Prometheus: ``watch`` targets, ``wait_for_scrape``, ``query``."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError(
                "prometheus is not installed on this machine: apt-get install prometheus "
                "(Debian, Ubuntu), or grade with --runner docker, whose image has it."
            )
        self.folder = folder
        self.targets = folder / "targets"
        self.targets.mkdir(parents=True)
        config = {
            "global": {"scrape_interval": f"{SCRAPE_INTERVAL_S}s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {
                    "job_name": "model",
                    "file_sd_configs": [
                        {"files": [str(self.targets / "*.json")], "refresh_interval": "1s"}
                    ],
                }
            ],
        }
        (folder / "prometheus.yml").write_text(json.dumps(config), encoding="utf-8")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / "prometheus.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.console.templates=/nonexistent",
                "--web.console.libraries=/nonexistent",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer,
            ):
                if answer.status == 200:
                    self._check_owner()
                    return
            time.sleep(0.1)
        raise RuntimeError(f"prometheus did not become ready in 60 s: {self.log_tail()}")

    def _check_owner(self) -> None:
        """The socket that answered is this Prometheus' own, not one the worker bound to
        the port first: the listening socket's inode is among the child's descriptors."""
        port = f"{self.port:04X}"
        inodes = set()
        with contextlib.suppress(OSError):
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1] == f"0100007F:{port}" and fields[3] == "0A":
                    inodes.add(f"socket:[{fields[9]}]")
        held = set()
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
                with contextlib.suppress(OSError):
                    held.add(os.readlink(f"/proc/{self.proc.pid}/fd/{fd}"))
        if not inodes or not inodes & held:
            self.close()
            raise RuntimeError(
                f"127.0.0.1:{self.port} is answered by a process other than the tests' "
                "Prometheus; refusing to query it"
            )

    def log_tail(self) -> str:
        self.log.flush()
        return (self.folder / "prometheus.log").read_text(errors="replace")[-2000:]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    # ------------------------------------------------------------------ targets

    def watch(self, name: str, ports: list[int]) -> None:
        """Scrape these loopback ports from now on, labelled ``lab_test=name``."""
        group = [
            {
                "targets": [f"127.0.0.1:{port}" for port in ports],
                "labels": {"lab_test": name},
            }
        ]
        staged = self.targets / f".{name}.tmp"
        staged.write_text(json.dumps(group), encoding="utf-8")
        staged.rename(self.targets / f"{name}.json")

    def wait_for_scrape(
        self, name: str, after: float, targets: int = 1, timeout: float = 30.0
    ) -> None:
        """Wait until all ``targets`` of ``name`` were scraped after ``after`` (epoch s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stamps = self.query(f'timestamp(up{{lab_test="{name}"}})')
            if len(stamps) >= targets and all(float(s["value"][1]) > after for s in stamps):
                return
            time.sleep(0.2)
        raise AssertionError(
            f"the tests' Prometheus did not scrape the learner's /metrics within {timeout} s"
        )

    # ------------------------------------------------------------------ API

    def _get(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.loads(answer.read())
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus said {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant PromQL query now: the result vector."""
        return list(self._get("/api/v1/query", query=expr)["result"])

    def value(self, expr: str) -> float | None:
        """The single number an instant query returns, or None for an empty result."""
        found = self.query(expr)
        if not found:
            return None
        assert len(found) == 1, f"{expr} returned {len(found)} series: {found}"
        return float(found[0]["value"][1])

    def metric_type(self, name: str) -> str | None:
        """The TYPE Prometheus recorded for metric family ``name``."""
        data = self._get("/api/v1/metadata", metric=name)
        entries = data.get(name) or []
        return str(entries[0]["type"]) if entries else None

    def health(self, name: str) -> list[dict[str, Any]]:
        """The scrape targets of ``name`` as Prometheus sees them (health, lastError)."""
        active = self._get("/api/v1/targets", state="active")["activeTargets"]
        return [t for t in active if t.get("labels", {}).get("lab_test") == name]
