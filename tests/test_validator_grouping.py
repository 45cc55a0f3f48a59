"""The same problem over many rows is one line, a file-level diagnosis is the only line, and the
encodings people save in (UTF-16 with its byte order mark, Windows-1252) are read or named."""

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from submissions.models import SubmissionVersion
from submissions.taskfile import read_task_file
from tests.factories import ANSWERS

ANCHORS = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "inverse-scaling-data"
PROVERBS = ANCHORS / "1-proverb-ending.csv"  # 860 classification examples with two classes each
needs_anchors = pytest.mark.skipif(not PROVERBS.is_file(), reason=f"{PROVERBS} is absent")
YES_NO = "[' Yes', ' No']"
EXPORT_HINT = (
    'in Excel use File > Save As > "CSV UTF-8 (Comma delimited)"; '
    'in Google Sheets use File > Download > "Comma Separated Values (.csv)"; '
    'in LibreOffice use File > Save As > "Text CSV" with the UTF-8 character set.'
)


def task_text(rows: list[list[str]], header: tuple[str, ...] = ("prompt", "classes", "answer_index")) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue()


def lines(data: bytes, **options) -> list[str]:
    options.setdefault("min_examples", 1)
    return read_task_file(data, metric="classification", **options).lines()


def proverbs() -> pd.DataFrame:
    return pd.read_csv(PROVERBS, dtype=str, keep_default_na=False)


def command_lines(path: Path) -> tuple[int, list[str]]:
    stdout = io.StringIO()
    try:
        call_command("validate_task", str(path), metric="classification", stdout=stdout)
    except SystemExit as exit_:
        return exit_.code, stdout.getvalue().splitlines()
    return 0, stdout.getvalue().splitlines()


# --- Grouping ----------------------------------------------------------------------------------


def test_the_same_problem_in_every_row_is_one_line_at_the_first_row():
    data = task_text([[f"Q{i}?", "[' Yes']", "0"] for i in range(736)]).encode()
    assert lines(data) == [
        "row 2, column classes: there must be at least 2 classes, but there is 1 "
        "— the same problem in 736 rows: 2–737"
    ]


def test_rows_are_listed_as_ranges_then_counted():
    broken = {2, 3, 4, 7, 9, 10, 20, 30, 31, 40}  # spreadsheet rows
    rows = [["" if row in broken else f"Q{row}?", YES_NO, "0"] for row in range(2, 50)]
    assert lines(task_text(rows).encode()) == [
        "row 2, column prompt: the prompt is empty — the same problem in 10 rows: 2–4, 7, 9–10, 20 "
        "and 3 more rows"
    ]


def test_other_values_of_one_kind_of_problem_are_one_line_showing_the_first():
    rows = [[f"Q{i}?", YES_NO, str(5 + i % 3)] for i in range(40)]
    assert lines(task_text(rows).encode()) == [
        "row 2, column answer_index: answer_index 5 is out of range for 2 classes (0 to 1) "
        "— the same kind of problem in 40 rows, with other values: 2–41"
    ]


def test_different_problems_and_columns_stay_apart_in_row_order():
    rows = [["", YES_NO, "x"], ["B?", YES_NO, "9"], ["", YES_NO, "y"], ["D?", YES_NO, "0"]]
    assert lines(task_text(rows).encode()) == [
        "row 2, column prompt: the prompt is empty — the same problem in 2 rows: 2, 4",
        'row 2, column answer_index: "x" is not a whole number; answer_index must be the position of the '
        "correct class, counting from 0 — the same kind of problem in 2 rows, with other values: 2, 4",
        "row 3, column answer_index: answer_index 9 is out of range for 2 classes (0 to 1)",
    ]


def test_two_problems_of_one_kind_in_a_row_are_both_told():
    cell = "[' a', ' a', ' b', ' b']"
    lines_ = lines(task_text([["A?", cell, "0"], ["B?", cell, "0"]]).encode())
    assert lines_ == [
        'row 2, column classes: the class " a" appears more than once — the same problem in 2 rows: 2–3',
        'row 2, column classes: the class " b" appears more than once — the same problem in 2 rows: 2–3',
    ]


def test_a_cell_with_double_quotes_is_still_the_same_kind_of_problem():
    rows = [["A?", "['a', 'b'", "0"], ["B?", "['say \"hi\"', 'b'", "0"], ["C?", "x", "0"]]
    [line] = lines(task_text(rows).encode())
    assert line.startswith("row 2, column classes: \"['a', 'b'\" is not a list of strings")
    assert line.endswith("— the same kind of problem in 3 rows, with other values: 2–4")


# --- A file-level diagnosis explains the rest ----------------------------------------------------


@needs_anchors
def test_semicolon_separated_real_file_gets_one_line_from_the_command(tmp_path):
    path = tmp_path / "proverbs.csv"
    proverbs().to_csv(path, sep=";", index=False)
    assert command_lines(path) == (
        1,
        [
            "file: the columns seem to be separated by semicolons rather than commas (Excel does so where "
            "a comma is the decimal separator), so no row could be read. Export it as CSV instead: "
            + EXPORT_HINT
        ],
    )


@needs_anchors
def test_real_file_with_every_answer_index_broken_gets_one_line_from_the_command(tmp_path):
    frame = proverbs()
    frame["answer_index"] = "2"
    path = tmp_path / "proverbs.csv"
    frame.to_csv(path, index=False)
    assert command_lines(path) == (
        1,
        [
            "row 2, column answer_index: answer_index 2 is out of range for 2 classes (0 to 1) "
            f"— the same problem in {len(frame)} rows: 2–{len(frame) + 1}"
        ],
    )


@needs_anchors
@pytest.mark.django_db
def test_the_form_shows_one_grouped_line_beside_the_file_field(client, alice, open_round):
    frame = proverbs()
    frame.loc[100:, "classes"] = "Yes or No"  # spreadsheet rows 102 onwards
    client.force_login(alice)
    response = client.post(
        reverse("submission_create", args=[open_round.pk]),
        {**ANSWERS, "task_file": SimpleUploadedFile("task.csv", frame.to_csv(index=False).encode())},
    )
    assert response.status_code == 200
    line = (
        'row 102, column classes: "Yes or No" is not a list of strings written in Python syntax, '
        f'e.g. [" Yes", " No"] — the same problem in {len(frame) - 100} rows: 102–{len(frame) + 1}'
    )
    assert response.context["form"].errors["task_file"] == [line]
    assert escape(line) in response.content.decode()
    assert not SubmissionVersion.objects.exists()


# --- Encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_read(encoding):
    text = task_text([["Café ☕?", YES_NO, "0"], ["Naïve?", YES_NO, "1"]])
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    report = read_task_file(bom + text.encode(encoding), metric="classification", min_examples=1)
    assert report.ok, report.lines()
    assert report.examples["prompt"].tolist() == ["Café ☕?", "Naïve?"]
    assert report.examples["row"].tolist() == [2, 3]


def test_excel_unicode_text_is_named_as_such():
    text = task_text([["Q?", YES_NO, "0"]]).replace(",", "\t")
    assert lines(text.encode("utf-16")) == [
        'file: the file is tab-separated UTF-16 text, as Excel saves its "Unicode Text" format, '
        f"not a CSV file. Export it as CSV instead: {EXPORT_HINT}"
    ]


def test_broken_utf16_after_its_byte_order_mark_is_refused():
    data = b"\xff\xfe" + "prompt".encode("utf-16-le") + b"\x00\xd8" + "x".encode("utf-16-le")
    assert lines(data) == [
        "file: the file starts like UTF-16 text, but from byte 15 of the file on it is not valid UTF-16. "
        f"Save it again as UTF-8: {EXPORT_HINT}"
    ]
