"""The benchmark export: the accepted tasks of the contest as one zip, for publication.

A submission is accepted when its confirmed award (reviews.models.Award; the final round's wins over round 1's)
is a prize or "accepted". Per task a folder ``<slug>-<submission id>/`` holds the CSV exactly as submitted
(``task.csv``), the examples that were evaluated when the task was subsampled (``subsample.csv``), and
``metadata.json`` (metric, authors unless the team opted out, licence, description, answers, tier and the results
of the public series only); ``README.md`` lists every task and ``overview/`` holds each round's overview CSV.

The zip is written to a file object entry by entry and every task file is copied in chunks, so a large benchmark
is never held in memory whole.
"""

import csv
import dataclasses
import io
import json
import logging
import shutil
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from typing import BinaryIO

from django.utils import timezone
from django.utils.text import slugify

from contest import tally
from evaluation.models import EvaluationRun, ExampleResult, ModelSeries
from pages.overview import as_csv, overview_of
from reviews.models import Award
from submissions.models import Round, Submission, SubmissionVersion

logger = logging.getLogger(__name__)

ROOT = "benchmark"
ACCEPTED_AWARDS = (*tally.PRIZES, tally.ACCEPTED)  # grand, second, third, accepted
# The form's answers that the metadata lists under "answers" (the task's name, authors, metric, licence and
# description have fields of their own).
PUBLISHED_ANSWERS = (
    "importance",
    "expected_inverse_scaling",
    "data_generation",
    "annotator_expertise",
    "subcategory_column",
    "few_shot",
    "fine_tuning",
    "rlhf",
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class AcceptedTask:
    submission: Submission
    version: SubmissionVersion
    award: Award

    @property
    def folder(self) -> str:
        return f"{slugify(self.version.task_name) or 'task'}-{self.submission.pk}"

    @property
    def authors(self) -> list[str] | None:
        """The authors, one per line of the form; None when the team asked to be left out."""
        if self.version.hide_authors_in_benchmark:
            return None
        return [line.strip() for line in self.version.authors.splitlines() if line.strip()]


@dataclass(frozen=True)
class ExportSummary:
    tasks: list[AcceptedTask]
    rounds: list[Round]


def accepted_tasks() -> list[AcceptedTask]:
    """The submissions whose latest confirmed award (the final round's over round 1's) accepts them, by id.
    Withdrawn submissions are left out."""
    latest: dict[int, Award] = {}
    for award in Award.objects.select_related("round").order_by("round__deadline", "round__pk"):
        latest[award.submission_id] = award
    accepted = {pk: award for pk, award in latest.items() if award.tier in ACCEPTED_AWARDS}
    submissions = (
        Submission.objects.filter(pk__in=accepted, current_version__isnull=False, withdrawn_at__isnull=True)
        .select_related("current_version", "round")
        .order_by("pk")
    )
    return [AcceptedTask(submission=s, version=s.current_version, award=accepted[s.pk]) for s in submissions]


def _public_results(versions: list[SubmissionVersion]) -> dict[int, list[dict]]:
    """Per version, its succeeded runs on public series, grouped by series (private series never leave)."""
    runs = (
        EvaluationRun.objects.filter(
            version__in=versions,
            status=EvaluationRun.Status.SUCCEEDED,
            model__series__visibility=ModelSeries.Visibility.PUBLIC,
        )
        .select_related("model__series")
        .order_by("model__series__order", "model__series__name", "model__order", "model__parameter_count")
    )
    results: dict[int, dict[str, list[dict]]] = defaultdict(dict)
    for run in runs:
        results[run.version_id].setdefault(run.model.series.name, []).append(
            {
                "model": run.model.name,
                "parameters": run.model.parameter_count,
                "mean": run.mean,
                "stderr": run.stderr,
                "accuracy": run.accuracy,
                "n": run.n_examples,
            }
        )
    return {
        version_id: [{"series": name, "models": models} for name, models in by_series.items()]
        for version_id, by_series in results.items()
    }


def _subsampled_runs(versions: list[SubmissionVersion]) -> dict[int, EvaluationRun]:
    """Per subsampled version, one of its succeeded runs: every run of a version scores the same subsample
    (seeded by the file's sha256), so the rows of any one of them are the rows evaluated."""
    runs = (
        EvaluationRun.objects.filter(
            version__in=versions, status=EvaluationRun.Status.SUCCEEDED, subsample_seed__isnull=False
        )
        .only("pk", "version_id", "subsample_seed")
        .order_by("pk")
    )
    chosen: dict[int, EvaluationRun] = {}
    for run in runs:
        chosen.setdefault(run.version_id, run)
    return chosen


def _text_of(stored: BinaryIO) -> io.TextIOWrapper:
    """The stored file as text, decoded as the validator decodes it (UTF-8 with or without BOM, UTF-16 with
    one), without reading it whole."""
    head = stored.read(2)
    stored.seek(0)
    encoding = "utf-16" if head in _UTF16_BOMS else "utf-8-sig"
    return io.TextIOWrapper(stored, encoding=encoding, newline="")


def _write_subsample(archive: zipfile.ZipFile, name: str, version: SubmissionVersion, rows: set[int]) -> int:
    """The header and the records at the spreadsheet rows evaluated (header = row 1), in file order."""
    csv.field_size_limit(2**31 - 1)  # a prompt may be longer than the csv module's default field limit
    written = 0
    with (
        version.task_file.open("rb") as stored,
        archive.open(name, "w") as entry,
        io.TextIOWrapper(entry, encoding="utf-8", newline="") as out,
    ):
        writer = csv.writer(out)
        for row, record in enumerate(csv.reader(_text_of(stored)), start=1):
            if row == 1 or row in rows:
                writer.writerow(record)
                written += row != 1
    return written


def _metadata(task: AcceptedTask, *, results: list[dict], subsample: dict | None) -> dict:
    version = task.version
    return {
        "task_name": version.task_name,
        "submission": task.submission.pk,
        "version": version.number,
        "round": task.submission.round.name,
        "metric": version.metric,
        "authors": task.authors,
        "authors_hidden": version.hide_authors_in_benchmark,
        "license": version.license,
        "description": version.description,
        "answers": {field: getattr(version, field) for field in PUBLISHED_ANSWERS},
        "tier": task.award.tier,
        "tier_round": task.award.round.name,
        "file": "task.csv",
        "original_filename": version.original_filename,
        "sha256": version.sha256,
        "examples": version.example_count,
        "subsample": subsample,
        "results": results,
    }


def _cell(text: str) -> str:
    """Text in one cell of a Markdown table: on one line, its pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def readme(tasks: list[AcceptedTask], *, rounds: list[Round]) -> str:
    lines = [
        "# Inverse Scaling benchmark",
        "",
        f"The accepted tasks of the contest, exported {timezone.now():%Y-%m-%d}. Each folder holds the task's file "
        "as submitted (`task.csv`), the examples evaluated when the task was subsampled (`subsample.csv`) and "
        "`metadata.json` (metric, authors, licence, answers, tier, results on the public model series).",
        "",
        "| Task | Folder | Metric | Examples | Tier | Authors | Licence |",
        "|---|---|---|---:|---|---|---|",
    ]
    for task in tasks:
        authors = "; ".join(task.authors) if task.authors is not None else "(not named)"
        lines.append(
            f"| {_cell(task.version.task_name)} | [`{task.folder}`]({task.folder}/) | {task.version.metric} "
            f"| {task.version.example_count} | {task.award.tier} | {_cell(authors)} | {task.version.license} |"
        )
    if not tasks:
        lines.append("| (no task accepted yet) | | | | | | |")
    lines += [
        "",
        "The contest overview of each round is in `overview/`: " + ", ".join(r.name for r in rounds),
    ]
    return "\n".join(lines) + "\n"


def write_benchmark(out: BinaryIO) -> ExportSummary:
    """Write the benchmark zip to ``out`` (a file, or a temporary file for a download)."""
    tasks = accepted_tasks()
    versions = [task.version for task in tasks]
    results = _public_results(versions)
    subsampled = _subsampled_runs(versions)
    rounds = list(Round.objects.filter(submissions__isnull=False).distinct().order_by("deadline", "pk"))
    accepted = {task.version.submission_id for task in tasks}
    anonymous = frozenset(
        task.version.submission_id for task in tasks if task.version.hide_authors_in_benchmark
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for task in tasks:
            folder = f"{ROOT}/{task.folder}"
            with (
                task.version.task_file.open("rb") as stored,
                archive.open(f"{folder}/task.csv", "w") as entry,
            ):
                shutil.copyfileobj(stored, entry, length=1 << 20)
            subsample = None
            run = subsampled.get(task.version.pk)
            if run is not None:
                rows = set(ExampleResult.objects.filter(run=run).values_list("row", flat=True))
                count = _write_subsample(archive, f"{folder}/subsample.csv", task.version, rows)
                subsample = {"file": "subsample.csv", "seed": run.subsample_seed, "examples": count}
            metadata = _metadata(task, results=results.get(task.version.pk, []), subsample=subsample)
            archive.writestr(
                f"{folder}/metadata.json", json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"
            )
        archive.writestr(f"{ROOT}/README.md", readme(tasks, rounds=rounds))
        for round in rounds:
            # The overview of the published tasks only, less the private series (their results are not
            # published), without the team of authors who asked not to be named.
            table = overview_of(round=round)
            table = dataclasses.replace(table, series=[s for s in table.series if not s.is_private])
            published = [row for row in table.rows if row.submission.pk in accepted]
            name = f"{slugify(round.name) or 'round'}-{round.pk}"
            archive.writestr(f"{ROOT}/overview/{name}.csv", as_csv(table, published, teams_hidden=anonymous))
    logger.info("benchmark exported", extra={"tasks": len(tasks), "rounds": len(rounds)})
    return ExportSummary(tasks=tasks, rounds=rounds)
