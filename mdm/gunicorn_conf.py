"""gunicorn settings, from the same environment as the rest (HOST, PORT, WEB_CONCURRENCY)."""

import os
import resource

from uvicorn_worker import UvicornWorker

_host = os.environ.get("HOST", "127.0.0.1")
_port = os.environ.get("PORT", "8000")

bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "mdm.gunicorn_conf.Worker"
# Long polls last up to 60 s; a worker that stops answering its heartbeat for this long is replaced.
timeout = 90
graceful_timeout = 20
keepalive = 5
# Thousands of agents may connect at once (a long poll each): the kernel queues that many.
backlog = 4096
# No control socket: several servers (tests, `make run`) may run on one machine.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# Only the proxies named here may set X-Forwarded-* for gunicorn itself.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# The web processes pool their database connections (mdm/settings.py); Celery's do not.
os.environ.setdefault("MDM_DB_POOL", "1")

# A waiting long poll is a socket: allow as many as the hard limit lets a process open.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != resource.RLIM_INFINITY and (_hard == resource.RLIM_INFINITY or _soft < _hard):
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard if _hard != resource.RLIM_INFINITY else 65536, _hard))


class Worker(UvicornWorker):
    """uvicorn with its C HTTP parser and uvloop (both pinned: a missing one fails at start, it
    does not fall back to the pure-Python ones unnoticed). Django speaks no ASGI lifespan."""

    CONFIG_KWARGS = {"loop": "uvloop", "http": "httptools", "lifespan": "off"}
