"""The benchmark export: the accepted tasks as submitted, their metadata, the evaluated subsample, a README and
each round's overview; for organizers only, and from the command line."""

import csv
import dataclasses
import datetime as dt
import io
import json
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from evaluation.engine import subsample
from reviews.models import Award
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, RoundFactory, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

ROOT = "benchmark"


@dataclasses.dataclass
class Contest:
    round1: object
    round2: object
    versions: dict  # task name → its current version
    subsample_rows: list[int]


def _submit(user, round, *, name: str, data: bytes, **answers):
    return submit_task(
        user=user,
        round=round,
        answers={**ANSWERS, "task_name": name, **answers},
        upload=TaskUpload(name=f"{name}.csv", data=data),
    )


def _evaluate(version, *, rows: list[int], seed: int | None = None) -> None:
    for run in version.runs.select_related("model"):
        values = [0.4 + run.model.parameter_count / 1e8 + (row % 5) / 100 for row in rows]
        finish_run(run, rows=rows, values=values, subsample_seed=seed, accuracy=0.75)


def _award(version, round, tier: str, olga) -> None:
    Award.objects.create(submission=version.submission, round=round, tier=tier, decided_by=olga)


@pytest.fixture
def contest(alice, charlie, olga, django_capture_on_commit_callbacks):
    """Round 1 (tasks subsampled above 300 examples) and round 2; five tasks, three of them accepted."""
    public_and_private_series((1_000_000, 10_000_000))
    round1 = RoundFactory(name="Round 1", subsample_cap=300)
    round2 = RoundFactory(name="Round 2", deadline=timezone.now().date() + dt.timedelta(days=90))
    dave = ContestantFactory(username="dave")
    versions = {}
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        versions["Even or odd"] = _submit(alice, round1, name="Even or odd", data=make_task_csv(300))
        versions["Quiet authors"] = _submit(
            charlie,
            round1,
            name="Quiet | authors",
            data=make_task_csv(300, metric="sequence_prob"),
            metric="sequence_prob",
            authors="Charlie Example\nCharlotte Example",
            hide_authors_in_benchmark=True,
        )
        versions["Big task"] = _submit(dave, round1, name="Big task", data=make_task_csv(330))
        versions["Rejected"] = _submit(alice, round1, name="Rejected", data=make_task_csv(301))
        versions["Unjudged"] = _submit(charlie, round1, name="Unjudged", data=make_task_csv(302))
    everything = list(range(2, 302))
    _evaluate(versions["Even or odd"], rows=everything)
    _evaluate(versions["Quiet authors"], rows=everything)
    big = versions["Big task"]
    chosen, seed = subsample(list(range(330)), file_sha256=big.sha256, cap=300)
    rows = [index + 2 for index in chosen]  # the header is row 1
    _evaluate(big, rows=rows, seed=seed)
    _award(versions["Even or odd"], round1, "third", olga)
    _award(versions["Even or odd"], round2, "second", olga)  # the final round's award wins
    _award(versions["Quiet authors"], round1, "accepted", olga)
    _award(big, round2, "grand", olga)
    _award(versions["Rejected"], round1, "none", olga)
    return Contest(round1=round1, round2=round2, versions=versions, subsample_rows=rows)


def _download(client, olga) -> zipfile.ZipFile:
    client.force_login(olga)
    response = client.get(reverse("benchmark_zip"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="benchmark-')
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _folder(version) -> str:
    slug = {"Even or odd": "even-or-odd", "Quiet | authors": "quiet-authors", "Big task": "big-task"}
    return f"{ROOT}/{slug[version.task_name]}-{version.submission_id}"


def _metadata(archive, version) -> dict:
    return json.loads(archive.read(f"{_folder(version)}/metadata.json"))


def test_the_zip_holds_each_accepted_task_as_submitted_byte_for_byte(client, olga, contest):
    archive = _download(client, olga)
    accepted = [contest.versions[name] for name in ("Even or odd", "Quiet authors", "Big task")]
    for version in accepted:
        with version.task_file.open("rb") as f:
            assert archive.read(f"{_folder(version)}/task.csv") == f.read()
    folders = {name.split("/")[1] for name in archive.namelist() if name.count("/") == 2}
    assert folders == {_folder(v).split("/")[1] for v in accepted} | {"overview"}


def test_tasks_not_accepted_are_absent(client, olga, contest):
    archive = _download(client, olga)
    listing = " ".join(archive.namelist())
    readme = archive.read(f"{ROOT}/README.md").decode()
    for name in ("Rejected", "Unjudged"):
        submission_id = contest.versions[name].submission_id
        assert f"-{submission_id}/" not in listing
        assert name not in readme


def test_the_metadata_names_the_task_its_tier_and_the_public_results_only(client, olga, contest):
    archive = _download(client, olga)
    version = contest.versions["Even or odd"]
    metadata = _metadata(archive, version)
    assert metadata["task_name"] == "Even or odd"
    assert metadata["submission"] == version.submission_id and metadata["version"] == 1
    assert metadata["metric"] == "classification"
    assert metadata["authors"] == ["Alice Example"] and metadata["authors_hidden"] is False
    assert metadata["license"] == "CC-BY-4.0"
    assert metadata["description"] == ANSWERS["description"]
    assert metadata["answers"]["importance"] == ANSWERS["importance"]
    assert metadata["answers"]["data_generation"] == ANSWERS["data_generation"]
    assert metadata["tier"] == "second" and metadata["tier_round"] == "Round 2"
    assert metadata["sha256"] == version.sha256 and metadata["examples"] == 300
    assert metadata["subsample"] is None
    assert [series["series"] for series in metadata["results"]] == ["Open Models"]
    models = metadata["results"][0]["models"]
    assert [m["model"] for m in models] == ["open-0", "open-1"]
    run = version.runs.get(model__name="open-1")
    assert models[1] == {
        "model": "open-1",
        "parameters": 10_000_000,
        "mean": run.mean,
        "stderr": run.stderr,
        "accuracy": 0.75,
        "n": 300,
    }
    # The private series' results stay private, in the metadata and everywhere else in the zip.
    for name in archive.namelist():
        text = archive.read(name)
        assert b"Secret Lab" not in text and b"secret-" not in text, name


def test_authors_who_opted_out_are_not_named(client, olga, contest):
    archive = _download(client, olga)
    version = contest.versions["Quiet authors"]
    metadata = _metadata(archive, version)
    assert metadata["authors"] is None and metadata["authors_hidden"] is True
    assert metadata["tier"] == "accepted"
    for name in archive.namelist():
        assert b"Charlie Example" not in archive.read(name), name


def test_the_readme_has_a_row_per_accepted_task(client, olga, contest):
    archive = _download(client, olga)
    readme = archive.read(f"{ROOT}/README.md").decode()
    table = [line for line in readme.splitlines() if line.startswith("| ") and "](" in line]
    odd, quiet, big = (contest.versions[n] for n in ("Even or odd", "Quiet authors", "Big task"))
    assert table == [
        f"| Even or odd | [`even-or-odd-{odd.submission_id}`](even-or-odd-{odd.submission_id}/) "
        "| classification | 300 | second | Alice Example | CC-BY-4.0 |",
        f"| Quiet \\| authors | [`quiet-authors-{quiet.submission_id}`](quiet-authors-{quiet.submission_id}/) "
        "| sequence_prob | 300 | accepted | (not named) | CC-BY-4.0 |",
        f"| Big task | [`big-task-{big.submission_id}`](big-task-{big.submission_id}/) "
        "| classification | 330 | grand | Alice Example | CC-BY-4.0 |",
    ]


def test_the_subsample_file_holds_exactly_the_evaluated_rows(client, olga, contest):
    archive = _download(client, olga)
    version = contest.versions["Big task"]
    with version.task_file.open("rb") as f:
        records = list(csv.reader(io.StringIO(f.read().decode(), newline="")))
    written = list(
        csv.reader(io.StringIO(archive.read(f"{_folder(version)}/subsample.csv").decode(), newline=""))
    )
    assert written[0] == records[0]
    # Row R of a spreadsheet is record R - 1 (prompts hold line breaks: records, not lines, are counted).
    assert written[1:] == [records[row - 1] for row in contest.subsample_rows]
    assert len(written) == 301 and len(records) == 331
    metadata = _metadata(archive, version)
    assert metadata["subsample"] == {
        "file": "subsample.csv",
        "seed": version.runs.first().subsample_seed,
        "examples": 300,
    }
    assert f"{_folder(contest.versions['Even or odd'])}/subsample.csv" not in archive.namelist()


def test_each_round_has_its_overview_csv_without_private_series(client, olga, contest):
    archive = _download(client, olga)
    overviews = sorted(name for name in archive.namelist() if name.startswith(f"{ROOT}/overview/"))
    assert overviews == [f"{ROOT}/overview/round-1-{contest.round1.pk}.csv"]  # round 2 has no submissions
    lines = list(csv.reader(io.StringIO(archive.read(overviews[0]).decode())))
    assert "Open Models: verdict" in lines[0] and not any("Secret Lab" in cell for cell in lines[0])
    # Only the published tasks, and no team for authors who asked not to be named.
    by_task = {line[2]: line for line in lines[1:]}
    assert set(by_task) == {"Even or odd", "Quiet | authors", "Big task"}
    team = lines[0].index("team")
    assert by_task["Quiet | authors"][team] == "" and by_task["Even or odd"][team] == "Team alice"


def test_the_command_writes_the_same_zip(client, olga, contest, tmp_path):
    out = StringIO()
    call_command("export_benchmark", "--out", str(tmp_path / "bench.zip"), stdout=out)
    assert "3 accepted tasks and the overview of 1 round written to" in out.getvalue()
    written = zipfile.ZipFile(tmp_path / "bench.zip")
    downloaded = _download(client, olga)
    assert written.namelist() == downloaded.namelist()
    for name in written.namelist():
        if not name.endswith("README.md"):  # it is dated
            assert written.read(name) == downloaded.read(name), name
    assert not (tmp_path / "bench.zip.partial").exists()


def test_the_opt_out_is_on_the_submission_form(client, alice, open_round):
    client.force_login(alice)
    page = client.get(reverse("submission_create", args=[open_round.pk])).content.decode()
    assert 'name="hide_authors_in_benchmark"' in page
