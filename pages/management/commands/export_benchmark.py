"""Write the benchmark export (the accepted tasks, their metadata, a README and the overview CSVs) to a zip."""

from pathlib import Path

from django.core.management.base import BaseCommand

from pages.benchmark import write_benchmark


class Command(BaseCommand):
    help = "Write the accepted tasks as a benchmark zip (the same file as the organizers' download)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", required=True, type=Path, help="The zip file to write, e.g. benchmark.zip"
        )

    def handle(self, *args, out, **options):
        out = Path(out)
        partial = out.with_name(out.name + ".partial")  # a failed export leaves no half-written zip behind
        try:
            with partial.open("wb") as f:
                summary = write_benchmark(f)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
        self.stdout.write(
            f"{len(summary.tasks)} accepted task{'s' if len(summary.tasks) != 1 else ''} and the overview of "
            f"{len(summary.rounds)} round{'s' if len(summary.rounds) != 1 else ''} written to {out}"
        )
