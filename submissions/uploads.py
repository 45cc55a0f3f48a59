"""Uploads stop at the size limit, MAX_UPLOAD_MB: a request that announces a larger body is refused before any of
it is read, and a body without a length (chunked) is read only until its file passes the limit.

The browser checks the file's size before it sends anything (static/site/upload.js), so a person sees the message
beside the file field with every answer in place; these guards are for everything else that posts."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.shortcuts import render


def upload_limit_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


def too_large_message(size_bytes: int | None = None) -> str:
    limit = settings.MAX_UPLOAD_MB
    size = (
        f"The file is {size_bytes / 1024 / 1024:.1f} MB; the limit is {limit} MB."
        if size_bytes
        else f"The file is larger than the limit of {limit} MB."
    )
    return f"{size} Tasks above 10,000 examples are subsampled anyway, so a smaller file loses nothing."


def bound_form(form_class, request, **kwargs):
    """The form bound to the request's data and files; where the upload handler stopped reading an oversized
    file, its file field says so (the field's "required" would blame the user for a file that was cut off)."""
    form = form_class(request.POST or None, request.FILES or None, **kwargs)
    refused = getattr(request, "upload_refused", None)
    if refused:
        form.is_valid()
        form.errors.pop("task_file", None)
        form.add_error("task_file", refused)
    return form


class UploadSizeLimitMiddleware:
    """Answers 413 to a body longer than a task file and the form's answers may be, without reading it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > upload_limit_bytes() + settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return render(
                request,
                "413.html",
                {"message": too_large_message(length), "limit_mb": settings.MAX_UPLOAD_MB},
                status=413,
            )
        return self.get_response(request)


class UploadSizeLimitHandler(FileUploadHandler):
    """First of the upload handlers: passes each chunk on, and stops the upload once a file passes the limit.

    The view finds the reason in ``request.upload_refused`` and puts it beside the file field."""

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > upload_limit_bytes():
            self.request.upload_refused = too_large_message()
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None
