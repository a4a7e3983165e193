"""The processes that make up the server. `make run` (manage.py serve), CI and
docker-compose.yml all start exactly these commands; a test holds docker-compose.yml to them."""

from __future__ import annotations

PROCESSES: dict[str, list[str]] = {
    # ASGI under gunicorn: uvicorn workers serve long polls on an event loop (see README).
    "web": ["python", "-m", "gunicorn", "mdm.asgi:application", "--config", "python:mdm.gunicorn_conf"],
    "worker": ["python", "-m", "celery", "--app", "mdm", "worker", "--loglevel", "INFO"],
    "beat": ["python", "-m", "celery", "--app", "mdm", "beat", "--loglevel", "INFO"],
}
