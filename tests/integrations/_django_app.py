"""A Django project in one module: settings, the ``/form`` and ``/strict`` views, URLs.

Uploads go through Django's default upload handlers with a 1 KiB in-memory threshold, so
every real file is a ``TemporaryUploadedFile`` in the spool directory (where the tests
look for leftovers).
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.integrations._apps import STRICT


def configure(spool_dir: str) -> Any:
    """Configure Django once for this process; returns its WSGI application."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="mimewire-tests",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=["mimewire.integrations.django.MimewireFormMiddleware"],
            FILE_UPLOAD_TEMP_DIR=spool_dir,
            FILE_UPLOAD_MAX_MEMORY_SIZE=1024,
            LOGGING_CONFIG=None,
        )
        django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


def _answer(request: Any) -> Any:
    from django.http import JsonResponse

    files = []
    for name, uploads in request.FILES.lists():
        for upload in uploads:
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            files.append([name, upload.name, upload.content_type, upload.size, digest.hexdigest()])
    fields = [[k, v] for k, values in request.POST.lists() for v in values]
    return JsonResponse({"fields": fields, "files": files})


def form(request: Any) -> Any:
    return _answer(request)


def strict(request: Any) -> Any:
    request.mimewire_fields = STRICT  # before request.POST is read
    return _answer(request)


def _urls() -> list[Any]:
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    return [path("form", csrf_exempt(form)), path("strict", csrf_exempt(strict))]


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":  # Django reads it after configure()
        return _urls()
    raise AttributeError(name)
