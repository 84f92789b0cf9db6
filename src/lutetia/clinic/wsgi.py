"""WSGI entry point (``lutetia demo`` serves it with waitress on 127.0.0.1)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lutetia.clinic.settings")
application = get_wsgi_application()
