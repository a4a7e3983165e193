"""The Celery app, and the rules every task of this project follows.

- Tasks are idempotent: they take primary keys, load fresh rows and call one service, so running a
  task twice (a redelivered message, a worker killed half-way) changes nothing the second time.
  That is what makes `acks_late` + `task_reject_on_worker_lost` (settings) safe.
- Tasks are published only after the transaction that asked for them commits: `enqueue_on_commit`.
- Transient failures (database or broker unreachable) are retried with exponential backoff and
  jitter; any other error is a bug and is not retried blindly.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm.settings")

app = Celery("mdm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The database or the broker unreachable for a moment: worth retrying. Anything else is a bug.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)


class MdmTask(Task):
    """Base class of every task: retries transient errors with backoff and jitter."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 10


app.Task = MdmTask


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """Publish `task` once the current transaction commits (at once outside a transaction).

    A task published before its rows are committed could run before they exist, or for a change
    that is then rolled back.
    """
    # robust: a broker that is down must not turn a committed change into an error for the
    # caller. The failure is logged, and the beat tasks that resume stalled work pick it up.
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs), robust=True)
