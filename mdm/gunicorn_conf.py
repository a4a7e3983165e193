"""gunicorn settings, from the same environment as the rest (HOST, PORT, WEB_CONCURRENCY)."""

import os

_host = os.environ.get("HOST", "127.0.0.1")
_port = os.environ.get("PORT", "8000")

bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
# Long polls last up to 60 s; a worker that stops answering its heartbeat for this long is replaced.
timeout = 90
graceful_timeout = 20
keepalive = 5
# No control socket: several servers (tests, `make run`) may run on one machine.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# Only the proxies named here may set X-Forwarded-* for gunicorn itself.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
