import tempfile

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest
from django.utils import timezone

from accounts.selectors import is_organizer
from pages.benchmark import write_benchmark


@login_required
def benchmark_zip(request: HttpRequest) -> FileResponse:
    """The benchmark export, built in a temporary file (deleted once sent) and streamed from it."""
    if not is_organizer(request.user):
        raise PermissionDenied("Only organizers export the benchmark.")
    built = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it once sent, deleting it)
    write_benchmark(built)
    built.seek(0)
    return FileResponse(
        built,
        as_attachment=True,
        filename=f"benchmark-{timezone.now():%Y-%m-%d}.zip",
        content_type="application/zip",
    )
