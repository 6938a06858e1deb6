"""The benchmark's tools, installed once and reused: k6 built from the Go module proxy, nginx from Debian."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

#: The k6 release the figures are measured with; a binary of another version is rebuilt.
K6_VERSION = "v1.8.1"
_GO_FALLBACK = Path("/usr/local/go/bin/go")
_NGINX_FALLBACK = Path("/usr/sbin/nginx")


@dataclass(frozen=True)
class Tool:
    """An installed tool and how it got there (for the report)."""

    path: Path
    version: str
    provenance: str


def ensure_k6(bin_dir: Path) -> Tool:
    """k6 at ``bin_dir/k6``, built with ``go install go.k6.io/k6@K6_VERSION`` unless already there."""
    binary = bin_dir / "k6"
    if binary.exists() and K6_VERSION in _k6_version(binary):
        return Tool(binary, _k6_version(binary), "cached")
    go = shutil.which("go") or str(_GO_FALLBACK)
    if not Path(go).exists():
        raise SystemExit("bench.gateway: Go is needed to build k6 (looked on PATH and at /usr/local/go/bin/go)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GOBIN": str(bin_dir.resolve()),
        "GOFLAGS": "-mod=mod -buildvcs=false",
        # Never fetch another Go toolchain: the Go module proxy serves modules only.
        "GOTOOLCHAIN": "local",
    }
    started = time.monotonic()
    subprocess.run([go, "install", f"go.k6.io/k6@{K6_VERSION}"], env=env, check=True)
    return Tool(binary, _k6_version(binary), f"built in {time.monotonic() - started:.0f} s")


def ensure_nginx() -> Tool:
    """Debian's nginx, installed with apt-get when missing (needs root)."""
    found = _find_nginx()
    provenance = "installed already"
    if found is None:
        if os.geteuid() != 0:
            raise SystemExit("bench.gateway: nginx is missing; install it: apt-get install nginx")
        started = time.monotonic()
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], env=env, check=True)
        found = _find_nginx()
        if found is None:
            raise SystemExit("bench.gateway: apt-get installed nginx, but no nginx binary was found")
        provenance = f"apt-get install nginx, {time.monotonic() - started:.0f} s"
    version = subprocess.run([found, "-v"], capture_output=True, text=True, check=True).stderr.strip()
    return Tool(found, version.removeprefix("nginx version: "), provenance)


def _k6_version(binary: Path) -> str:
    result = subprocess.run([binary, "version"], capture_output=True, text=True, check=False)
    return result.stdout.strip().removeprefix("k6 ")


def _find_nginx() -> Path | None:
    found = shutil.which("nginx")
    if found:
        return Path(found)
    return _NGINX_FALLBACK if _NGINX_FALLBACK.exists() else None
