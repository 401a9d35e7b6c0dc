"""An S3-compatible object store for Pulumi state in the sandbox: a real SeaweedFS (`weed server`).

`python -m jcqnap.sandbox up --s3` starts one `weed server` (master, volume server, filer and S3
gateway in one process) on 127.0.0.1 only, with every port chosen free (gRPC ports too), no
telemetry, one bucket and one access key pair. The keys live in `<state>/s3/s3.json` (0600, read by
weed) and in sandbox.json (0600); nothing secret is on a command line.

The `weed` binary comes from `tools/seaweedfs/build.sh` (a `weed` on PATH, or the cached build
from the Go module proxy); `make bootstrap` builds it and records its folder in `.venv/.weed-bin`.

sandbox.json gets::

    "s3": {"endpoint": "127.0.0.1:<port>", "bucket": "jcqnap-state", "region": "us-east-1",
           "access_key": str, "secret_key": str, "filer_url": "http://127.0.0.1:<port>",
           "backend_url": "s3://jcqnap-state?endpoint=127.0.0.1:<port>&s3ForcePathStyle=true&disableSSL=true&region=us-east-1"}
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from jcqnap.sandbox import process

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "jcqnap-state"
REGION = "us-east-1"
MARK = "weed"
#: weed needs a few seconds to elect its master and register the volume server; a slow machine more.
START_TIMEOUT = 120.0
HTTP_TIMEOUT = 5
#: master, volume, filer and S3, each with its gRPC port: all chosen, so none defaults to port + 10000.
PORT_COUNT = 8


class S3Error(RuntimeError):
    """The object store could not be started or prepared."""


def weed_binary() -> str:
    """The `weed` to run: `.venv/.weed-bin` from make bootstrap, else tools/seaweedfs/build.sh."""
    recorded = PROJECT_ROOT / ".venv" / ".weed-bin"
    if recorded.exists():
        candidate = Path(recorded.read_text().strip()) / "weed"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    out = subprocess.run(["bash", str(PROJECT_ROOT / "tools/seaweedfs/build.sh")], capture_output=True, text=True,
                         timeout=3600, check=False)
    if out.returncode != 0:
        raise S3Error(f"SeaweedFS is not installed and could not be built: {out.stderr.strip()[-500:]}; "
                      "run: bash tools/seaweedfs/build.sh")
    return str(Path(out.stdout.strip().splitlines()[-1]) / "weed")


def backend_url(endpoint: str, bucket: str = BUCKET) -> str:
    """The PULUMI_BACKEND_URL for a path-style, plain-HTTP S3 endpoint (a sandbox; real S3 uses https)."""
    return f"s3://{bucket}?endpoint={endpoint}&s3ForcePathStyle=true&disableSSL=true&region={REGION}"


def _dir(root: Path) -> Path:
    return root / "s3"


def _pid_file(root: Path) -> Path:
    return _dir(root) / "weed.pid"


def running(root: Path, info: dict[str, Any] | None) -> bool:
    """True when our weed runs (by pid and command line) and its S3 port answers."""
    pid = process.read_pid(_pid_file(root))
    if pid is None or not process.pid_alive(pid) or MARK not in process.pid_cmdline(pid):
        return False
    endpoint = (info or {}).get("endpoint", "")
    host, _, port = endpoint.partition(":")
    return bool(port) and process.port_answers(host, int(port))


def _wait(pid: int, log: Path, what: str, check: Callable[[], str]) -> None:
    """Poll `check` (returns "" when ready, else why not) until ready, weed dies, or START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if not process.pid_alive(pid):
            fatal = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("F")]
            raise S3Error(f"weed (pid {pid}) exited during start-up ({fatal[-1][:200] if fatal else 'no fatal line'}); "
                          f"see {log}")
        try:
            last = check()
        except (requests.RequestException, ValueError) as exc:
            last = type(exc).__name__
        if not last:
            return
        time.sleep(0.5)
    raise S3Error(f"weed: {what} not ready within {START_TIMEOUT:.0f}s ({last}); see {log}")


def _shell(weed: str, master: str, commands: str, log: Path) -> str:
    """Run `weed shell` commands (on stdin) against our master; output appended to the log."""
    res = subprocess.run([weed, "shell", f"-master={master}"], input=commands + "\nexit\n", capture_output=True,
                         text=True, timeout=120, check=False)
    with open(log, "a") as f:
        f.write(res.stdout + res.stderr)
    if res.returncode != 0:
        raise S3Error(f"weed shell failed: {res.stderr.strip()[-300:]}; see {log}")
    return res.stdout


def _bucket_exists(filer: int, bucket: str) -> bool:
    listing = requests.get(f"http://127.0.0.1:{filer}/buckets/", headers={"Accept": "application/json"},
                           timeout=HTTP_TIMEOUT)
    return listing.ok and any(e.get("FullPath") == f"/buckets/{bucket}" for e in (listing.json().get("Entries") or []))


def _ports(previous: dict[str, Any] | None) -> list[int]:
    """The previous run's ports when all are free (the master keeps its identity), else new free ones."""
    old = (previous or {}).get("ports") or []
    if len(old) == PORT_COUNT and not any(process.port_answers("127.0.0.1", p) for p in old):
        return [int(p) for p in old]
    return process.free_ports(PORT_COUNT)


def start(root: Path, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Start weed (or keep the running one) and return the `s3` block of sandbox.json.

    Free ports are only free when chosen; when another program takes one first, weed exits with
    "address already in use" and the start is tried again on new ports (three times at most).
    """
    if previous and running(root, previous):
        return previous
    for attempt in range(3):
        try:
            return _start(root, previous if attempt == 0 else {**(previous or {}), "ports": None})
        except S3Error as exc:
            if "address already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _start(root: Path, previous: dict[str, Any] | None) -> dict[str, Any]:
    stop(root)
    d = _dir(root)
    (d / "data").mkdir(parents=True, exist_ok=True)
    (d / "master").mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    access = (previous or {}).get("access_key") or f"JCQ{secrets.token_hex(8).upper()}"
    secret = (previous or {}).get("secret_key") or secrets.token_urlsafe(30)
    identities = {"identities": [{"name": "jcqnap-sandbox", "credentials": [{"accessKey": access, "secretKey": secret}],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    process.write_private(d / "s3.json", json.dumps(identities))
    ports = _ports(previous)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    weed = weed_binary()
    argv = [
        weed, "server", f"-dir={d / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64", f"-master.dir={d / 'master'}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=16",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={d / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={d / 's3.json'}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.localSocket={d / 's3.sock'}",
    ]
    log = d / "weed.log"
    proc = process.start_daemon(argv, log, cwd=d)
    process.write_pid(_pid_file(root), proc.pid)
    # SeaweedFS writes `host:port.grpcPort` for a gRPC port that is not port + 10000.
    master_addr = f"127.0.0.1:{master}.{master_grpc}"
    try:
        _wait(proc.pid, log, "master, filer and S3 ports",
              lambda: "" if all(process.port_answers("127.0.0.1", p) for p in (master, filer, s3)) else "no answer")
        # A restart after a crash may leave growth frozen ("master state loss"); this sandbox owns the
        # only volume server, so its inventory is known and growth may resume.
        commands = "volume.growth.resume"
        if not _bucket_exists(filer, BUCKET):
            commands += f"\ns3.bucket.create -name {BUCKET}"
        _shell(weed, master_addr, commands, log)

        def writable() -> str:
            assign = requests.get(f"http://127.0.0.1:{master}/dir/assign", params={"collection": BUCKET},
                                  timeout=HTTP_TIMEOUT).json()
            return "" if assign.get("fid") else str(assign.get("error") or assign)

        _wait(proc.pid, log, f"bucket {BUCKET}", writable)
    except (S3Error, requests.RequestException, subprocess.TimeoutExpired) as exc:
        stop(root)
        raise S3Error(f"SeaweedFS start failed: {exc}") from exc
    endpoint = f"127.0.0.1:{s3}"
    return {"endpoint": endpoint, "bucket": BUCKET, "region": REGION, "access_key": access, "secret_key": secret,
            "filer_url": f"http://127.0.0.1:{filer}", "backend_url": backend_url(endpoint), "ports": ports}


def stop(root: Path) -> None:
    """Stop our weed by pid (idempotent)."""
    process.stop_pid_file(_pid_file(root), timeout=10, expect=MARK)


def pulumi_env(info: dict[str, Any]) -> dict[str, str]:
    """The environment a `pulumi` CLI needs to keep its state in the sandbox bucket."""
    s3 = info["s3"]
    # SeaweedFS sends no response checksums; the AWS SDK would warn on every read without the last one.
    return {"PULUMI_BACKEND_URL": s3["backend_url"], "AWS_ACCESS_KEY_ID": s3["access_key"],
            "AWS_SECRET_ACCESS_KEY": s3["secret_key"], "AWS_REGION": s3["region"],
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}
