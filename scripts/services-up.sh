#!/usr/bin/env bash
# Start PostgreSQL, Redis and RabbitMQ when they are not answering (the test suite needs them, real).
set -euo pipefail

wait_for() { # name, command
  for _ in $(seq 1 60); do
    if eval "$2" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "services-up: $1 did not come up" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "services-up: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_for PostgreSQL "pg_isready -h 127.0.0.1 -p 5432 -q"
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "services-up: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis "redis-cli -h 127.0.0.1 -p 6379 ping"
fi

# RabbitMQ: the test that runs Celery on an AMQP broker (CELERY_BROKER_URL=amqp://...).
if ! (echo > /dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  echo "services-up: starting RabbitMQ"
  rabbitmq-server -detached
  wait_for RabbitMQ "(echo > /dev/tcp/127.0.0.1/5672)"
fi
