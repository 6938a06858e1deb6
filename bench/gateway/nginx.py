"""The peer: Debian's nginx as a reverse proxy with keep-alive upstream connections, run with our own config."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.gateway.processes import Server

#: One worker, as the gateway runs one process: on 2 cores shared with k6 and the upstream, a second
#: worker of either would only compete for the same cores, and 1 vs 1 compares the proxies themselves.
WORKER_PROCESSES = 1

_CONFIG = """\
worker_processes {workers};
daemon off;
master_process on;
pid {run_dir}/nginx.pid;
error_log {run_dir}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {run_dir}/tmp/body;
    proxy_temp_path {run_dir}/tmp/proxy;
    fastcgi_temp_path {run_dir}/tmp/fastcgi;
    uwsgi_temp_path {run_dir}/tmp/uwsgi;
    scgi_temp_path {run_dir}/tmp/scgi;

    upstream upstream_service {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        # Below uvicorn's 5 s, as the gateway's pool does: never reuse a connection the upstream is closing.
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{port};
        location {prefix}/ {{
            proxy_pass http://upstream_service/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
        }}
    }}
}}
"""


def start_nginx(binary: Path, run_dir: Path, *, port: int, upstream_port: int, prefix: str, cwd: Path) -> Server:
    """nginx on 127.0.0.1:`port` forwarding `prefix`/… to 127.0.0.1:`upstream_port`/…; config in `run_dir`."""
    run_dir = run_dir.resolve()
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run_dir / "tmp" / temp).mkdir(parents=True, exist_ok=True)
    config = run_dir / "nginx.conf"
    config.write_text(
        _CONFIG.format(workers=WORKER_PROCESSES, run_dir=run_dir, port=port, upstream_port=upstream_port, prefix=prefix)
    )
    # -e: the error log before the config is read; Debian's default, /var/log/nginx, is not ours.
    argv = [str(binary), "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "error.log")]
    subprocess.run([*argv, "-t", "-q"], check=True)
    return Server("nginx", argv, log_dir=run_dir, cwd=cwd)
