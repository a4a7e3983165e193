"""ASGI entry point: the web server (gunicorn with uvicorn workers) serves this, so that long
polls of device agents wait on the event loop instead of pinning a thread each."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm.settings")

application = get_asgi_application()
