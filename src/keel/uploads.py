"""Uploaded files limited in size while they stream in, before anything holds them whole.

Django reads a multipart body when a view first touches ``request.POST`` or
``request.FILES``, writing each file to memory or a temporary file; a form's own size
check comes after that.  ``limit_upload_size`` puts ``SizeLimitUploadHandler`` in front of
Django's handlers before the body is read, so a file is dropped at the first chunk past
its limit: the disk never holds more than the limit, and nothing of the file is stored.
The other fields still arrive, so the page answers with an error on the file's field
(``refuse_oversized``) instead of a connection reset.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt, csrf_protect

__all__ = [
    "MB",
    "SizeLimitUploadHandler",
    "limit_upload_size",
    "oversized_fields",
    "refuse_oversized",
]

MB = 1024 * 1024

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class SizeLimitUploadHandler(FileUploadHandler):
    """Drops an uploaded file once it passes ``limit`` bytes, before it reaches the disk.

    Raising SkipFile drops only the file: the other fields (the CSRF token, the rest of
    the form) still arrive.  ``refused`` lists the fields whose file was dropped.
    """

    def __init__(self, request: HttpRequest | None, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.refused: list[str] = []

    @property
    def too_large(self) -> bool:
        return bool(self.refused)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.refused.append(str(self.field_name))
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the handlers after this one build the file


def limit_upload_size(limit: Callable[[], int]) -> Callable[[View], View]:
    """A view decorator: every file uploaded to the view is limited to ``limit()`` bytes.

    The handler must be in place before anything reads the body, and the CSRF middleware
    reads it to find the token; so the view is exempted from the middleware's check and
    checked by ``csrf_protect`` right after the handler is installed, as Django's
    documentation on changing upload handlers says.
    """

    def decorate(view: View) -> View:
        protected = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            handler = SizeLimitUploadHandler(request, limit())
            request.upload_handlers = [handler, *request.upload_handlers]
            return protected(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def oversized_fields(request: HttpRequest) -> list[str]:
    """The fields whose uploaded file passed the view's limit (and was dropped)."""
    for handler in request.upload_handlers:
        if isinstance(handler, SizeLimitUploadHandler):
            return list(handler.refused)
    return []


def refuse_oversized(request: HttpRequest, form: forms.Form, message: str) -> bool:
    """Put ``message`` on each field of ``form`` whose file was dropped for its size (in
    place of "this field is required", which is what the form saw); True if any was."""
    refused = set(oversized_fields(request))
    if not refused:
        return False
    form.is_valid()  # add_error needs the form cleaned
    for name in form.fields:
        if form.add_prefix(name) in refused:
            form.errors.pop(name, None)
            form.add_error(name, message)
    return True
