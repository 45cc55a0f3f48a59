"""Tests of `manage.py validate_task` (no database)."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

YES_NO = "[' Yes', ' No']"


def write_task(
    tmp_path: Path, rows: list[list[str]], header: tuple[str, ...] = ("prompt", "classes", "answer_index")
) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    path = tmp_path / "task.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def run(*args: str, **options) -> tuple[int, list[str]]:
    """The command's exit status and its stdout lines."""
    stdout = io.StringIO()
    try:
        call_command("validate_task", *args, stdout=stdout, **options)
    except SystemExit as exit_:
        status = exit_.code
    else:
        status = 0
    return status, stdout.getvalue().splitlines()


def test_valid_file(tmp_path):
    path = write_task(tmp_path, [[f"Q{i}?\nSecond line", YES_NO, "0"] for i in range(3)])
    assert run(str(path), metric="classification", min_examples=3) == (0, ["OK: 3 examples"])


def test_default_minimum_is_300(tmp_path):
    path = write_task(tmp_path, [["Q?", YES_NO, "0"]] * 120)
    assert run(str(path), metric="classification") == (
        1,
        ["file: 120 examples, but at least 300 are required"],
    )
    path = write_task(tmp_path, [["Q?", YES_NO, "0"]] * 300)
    assert run(str(path), metric="classification") == (0, ["OK: 300 examples"])


def test_min_examples_flag_on_the_command_line(tmp_path):
    path = write_task(tmp_path, [["Q?", YES_NO, "0"]] * 2)
    assert run(str(path), "--metric", "classification", "--min-examples", "2") == (0, ["OK: 2 examples"])
    assert run(str(path), "--metric=classification", "--min-examples=3")[0] == 1


def test_warnings_come_before_the_ok_line(tmp_path):
    path = write_task(
        tmp_path,
        [["Q?", "['Yes', 'No']", "0", "note"]],
        header=("prompt", "classes", "answer_index", "notes"),
    )
    status, lines = run(str(path), metric="classification", min_examples=1)
    assert status == 0
    assert lines == [
        'warning: file: these columns are not used and will be ignored: "notes"',
        'warning: row 2, column classes: the class "Yes" does not start with a space; '
        'class tokens should almost always start with a space, e.g. " Yes" not "Yes"',
        "OK: 1 examples",
    ]


def test_invalid_file_lists_every_problem_and_exits_1(tmp_path):
    path = write_task(
        tmp_path,
        [["First\nprompt", YES_NO, "0"], ["", YES_NO, "1"], ["Third", "[' Yes' ' No']", "3"]],
    )
    status, lines = run(str(path), metric="classification", min_examples=1)
    assert status == 1
    assert lines == [
        "row 3, column prompt: the prompt is empty",
        "row 4, column classes: \"[' Yes' ' No']\" is not a list of strings written in Python syntax, "
        'e.g. [" Yes", " No"]',
    ]


def test_the_same_problem_in_many_rows_is_one_line_naming_the_first_row(tmp_path):
    path = write_task(tmp_path, [["", YES_NO, "0"]] * 70)
    status, lines = run(str(path), metric="classification", min_examples=1)
    assert status == 1
    assert lines == ["row 2, column prompt: the prompt is empty — the same problem in 70 rows: 2–71"]


def test_problems_are_capped_with_a_count_line(tmp_path):
    # A control character in each of 60 extra columns: 60 problems that no grouping joins.
    extra = tuple(f"note {k}" for k in range(60))
    path = write_task(
        tmp_path, [["Q?", YES_NO, "0", *["\x07"] * 60]], header=("prompt", "classes", "answer_index", *extra)
    )
    status, lines = run(str(path), metric="classification", min_examples=1)
    assert status == 1
    assert len(lines) == 52 and lines[0].startswith("warning: file: these columns are not used")
    assert lines[1].startswith("row 2, column note 0: the cell holds the control character")
    assert lines[-1] == "... and 10 more problems"


@pytest.mark.parametrize("metric", ["sequence_prob", "logodds", "absolute_logodds"])
def test_other_metrics(tmp_path, metric):
    header = (
        ("prompt", "completion")
        if metric == "sequence_prob"
        else ("prompt", "other_prompt", "classes", "answer_index")
    )
    row = ["Once upon a", " time"] if metric == "sequence_prob" else ["Q?", "Biased Q?", YES_NO, "1"]
    path = write_task(tmp_path, [row], header=header)
    assert run(str(path), metric=metric, min_examples=1) == (0, ["OK: 1 examples"])
    missing = "other_prompt" if metric == "sequence_prob" else "completion"
    wrong = "logodds" if metric == "sequence_prob" else "sequence_prob"
    status, lines = run(str(path), metric=wrong, min_examples=1)
    assert status == 1 and f'file: missing column "{missing}"' in lines


def test_missing_path_is_one_clear_line(tmp_path):
    path = tmp_path / "nowhere.csv"
    assert run(str(path), metric="classification") == (
        1,
        [f"file: cannot read {path}: No such file or directory"],
    )


def test_directory_path(tmp_path):
    status, lines = run(str(tmp_path), metric="classification")
    assert status == 1 and len(lines) == 1 and lines[0].startswith(f"file: cannot read {tmp_path}: ")


def test_unknown_metric_is_refused_by_argparse(tmp_path):
    path = write_task(tmp_path, [["Q?", YES_NO, "0"]])
    with pytest.raises(CommandError, match="invalid choice: 'accuracy'"):
        run(str(path), metric="accuracy")


def test_metric_is_required(tmp_path):
    path = write_task(tmp_path, [["Q?", YES_NO, "0"]])
    with pytest.raises(CommandError, match="--metric"):
        run(str(path))


def test_excel_file_is_explained(tmp_path):
    path = tmp_path / "task.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(60))
    status, lines = run(str(path), metric="classification")
    assert status == 1
    assert len(lines) == 1
    assert lines[0].startswith('file: "task.xlsx" looks like an Excel workbook (.xlsx), not a CSV file.')
