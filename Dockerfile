# The production-like image: the same commands as `make run` (mdm/stack.py), one per container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MDM_VAR_DIR=/var/lib/mdm \
    STATIC_ROOT=/app/staticfiles \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# collectstatic needs settings to load; these throw-away values exist only during the build.
RUN MDM_MODE=production \
    SECRET_KEY=build-only-build-only-build-only-build-only-build-only-0000 \
    MDM_KEK=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    ALLOWED_HOSTS=build MDM_ISSUER=https://build DATABASE_URL=postgres://build/build REDIS_URL=redis://build \
    python manage.py collectstatic --noinput --verbosity 0 \
 && useradd --system --uid 10001 --home-dir /var/lib/mdm mdm \
 && mkdir -p /var/lib/mdm && chown mdm /var/lib/mdm

USER mdm
EXPOSE 8000
CMD ["python", "-m", "gunicorn", "mdm.asgi:application", "--config", "python:mdm.gunicorn_conf"]
