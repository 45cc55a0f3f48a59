"""Check a task file as the upload form does: `python manage.py validate_task PATH --metric METRIC`."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from contest.rules import METRICS, MIN_EXAMPLES
from submissions.taskfile import read_task_file


class Command(BaseCommand):
    help = (
        "Check a contest task file (CSV). Prints 'OK: N examples' and exits 0 if it is valid; "
        "otherwise prints one line per problem and exits 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the CSV file to check")
        parser.add_argument("--metric", required=True, choices=METRICS, help="the task's metric")
        parser.add_argument(
            "--min-examples",
            type=int,
            default=MIN_EXAMPLES,
            help=f"the fewest examples a task may have (default: {MIN_EXAMPLES})",
        )

    def handle(self, *args, path: Path, metric: str, min_examples: int, **options) -> None:
        try:
            data = path.read_bytes()
        except OSError as error:
            self.stdout.write(f"file: cannot read {path}: {error.strerror or error}")
            sys.exit(1)
        report = read_task_file(data, metric=metric, min_examples=min_examples, filename=path.name)
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            sys.exit(1)
