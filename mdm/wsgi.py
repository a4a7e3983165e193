"""WSGI entry point, for tools that need one; the server itself runs mdm.asgi."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm.settings")

application = get_wsgi_application()
