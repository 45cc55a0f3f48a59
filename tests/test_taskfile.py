"""Tests of the task-file validator (submissions.taskfile): no database, no Django needed."""

import ast
import csv
import importlib.util
import io
import tokenize
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from submissions.taskfile import (
    METRICS,
    REQUIRED_COLUMNS,
    Problem,
    TaskFileReport,
    _parse_class_lists,
    read_task_file,
)

ANCHORS = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "inverse-scaling-data"
CLASSIFICATION = ["prompt", "classes", "answer_index"]
YES_NO = "[' Yes', ' No']"


def csv_text(header: list[str], rows: list[list[str]], newline: str = "\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows([header, *rows])
    return buffer.getvalue()


def validate(data: str | bytes, metric: str = "classification", **options) -> TaskFileReport:
    options.setdefault("min_examples", 1)
    return read_task_file(data.encode() if isinstance(data, str) else data, metric=metric, **options)


def errors(data: str | bytes, metric: str = "classification", **options) -> list[str]:
    report = validate(data, metric, **options)
    assert report.examples is None
    return [str(error) for error in report.errors]


def classification(*rows: list[str], newline: str = "\n") -> str:
    return csv_text(CLASSIFICATION, list(rows), newline)


def good_rows(count: int) -> list[list[str]]:
    return [[f"Question {i}?", YES_NO, str(i % 2)] for i in range(count)]


# --- Reading valid files -----------------------------------------------------------------------


def test_valid_file_gives_examples_with_spreadsheet_rows():
    report = validate(classification(["Is it?", YES_NO, "1"], ["Or not?", "[' A', ' B', ' C']", "2"]))
    assert report.ok
    assert report.errors == [] and report.warnings == [] and report.errors_omitted == 0
    assert report.n_examples == 2
    assert report.lines() == ["OK: 2 examples"]
    assert list(report.examples.columns) == ["row", "prompt", "classes", "answer_index"]
    assert report.examples.to_dict("list") == {
        "row": [2, 3],
        "prompt": ["Is it?", "Or not?"],
        "classes": [[" Yes", " No"], [" A", " B", " C"]],
        "answer_index": [1, 2],
    }


@pytest.mark.parametrize(
    ("metric", "header", "row", "expected"),
    [
        ("sequence_prob", ["prompt", "completion"], ["Once upon", " a time"], {"completion": [" a time"]}),
        *[
            (
                metric,
                ["prompt", "other_prompt", "classes", "answer_index"],
                ["Q?", "Biased Q?", YES_NO, "0"],
                {"other_prompt": ["Biased Q?"], "classes": [[" Yes", " No"]], "answer_index": [0]},
            )
            for metric in ("logodds", "absolute_logodds")
        ],
    ],
)
def test_examples_hold_only_the_metrics_columns(metric, header, row, expected):
    report = validate(csv_text(header, [row]), metric)
    assert report.ok
    assert report.examples.to_dict("list") == {"row": [2], "prompt": [row[0]], **expected}


def test_utf8_bom_crlf_and_quoted_fields():
    prompts = ['He said "hi", then left.\r\nNext line', "Comma, inside", "Ünïcödé 😀"]
    text = classification(*[[prompt, YES_NO, "0"] for prompt in prompts], newline="\r\n")
    report = validate(b"\xef\xbb\xbf" + text.encode())
    assert report.ok
    assert report.examples["prompt"].tolist() == prompts


def test_rows_count_records_not_lines_with_embedded_newlines_and_crlf():
    text = classification(
        ["First\nprompt\nwith three lines", YES_NO, "0"],
        ["Second", YES_NO, "0"],
        ["Third\r\n\r\nwith a blank line", YES_NO, "0"],
        ["Fourth", YES_NO, "5"],
        newline="\r\n",
    )
    assert errors(text) == [
        "row 5, column answer_index: answer_index 5 is out of range for 2 classes (0 to 1)"
    ]


@pytest.mark.parametrize("index_header", ["", "Unnamed: 0"])
def test_unnamed_index_column_is_ignored_silently(index_header):
    text = csv_text([index_header, *CLASSIFICATION], [["0", "A?", YES_NO, "0"], ["1", "B?", YES_NO, "1"]])
    report = validate(text)
    assert report.ok and report.warnings == []
    assert report.examples["prompt"].tolist() == ["A?", "B?"]


def test_pandas_index_written_by_to_csv_is_ignored():
    frame = pd.DataFrame({"prompt": ["A?"], "classes": [[" Yes", " No"]], "answer_index": [0]})
    report = validate(frame.to_csv())
    assert report.ok and report.warnings == []


def test_extra_columns_give_one_warning_naming_them():
    text = csv_text([*CLASSIFICATION, "notes", "", "source"], [["A?", YES_NO, "0", "x", "", "y"]])
    report = validate(text)
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        'file: these columns are not used and will be ignored: "notes", column 5 (no name), "source"'
    ]
    assert report.lines()[-1] == "OK: 1 examples"
    assert report.lines()[0].startswith("warning: file: these columns")


@pytest.mark.parametrize("prompt", ["NA", "None", "null", "NaN", "N/A", "#N/A", "nan"])
def test_na_like_prompts_stay_strings(prompt):
    report = validate(classification([prompt, YES_NO, "0"]))
    assert report.ok
    assert report.examples["prompt"].tolist() == [prompt]


@pytest.mark.parametrize(
    ("cell", "classes"),
    [
        ("[' Yes', ' No']", [" Yes", " No"]),
        ('[" A", " B"]', [" A", " B"]),
        ("  [' a' ,' b',]  ", [" a", " b"]),
        ("[\" it's\", ' ok']", [" it's", " ok"]),
        ("[' \\'quoted\\'', ' \\n', ' \\u00e9']", [" 'quoted'", " \n", " é"]),
        ("[' [x]', ' {y}']", [" [x]", " {y}"]),
        ("[\n ' a',\n ' b'\n]", [" a", " b"]),
        ("[' tab\there', ' b']", [" tab\there", " b"]),
    ],
)
def test_classes_written_in_any_python_syntax(cell, classes):
    report = validate(classification(["Q?", cell, "0"]))
    assert report.ok, report.lines()
    assert report.examples["classes"].tolist() == [classes]


def test_rows_with_the_same_classes_cell_get_separate_lists():
    report = validate(classification(["A?", YES_NO, "0"], ["B?", YES_NO, "1"]))
    first, second = report.examples["classes"]
    assert first == second and first is not second


@pytest.mark.parametrize(("cell", "index"), [("1.0", 1), (" 1 ", 1), ("+1", 1), ("0.0", 0), ("\t0\n", 0)])
def test_answer_index_accepts_integral_numbers(cell, index):
    report = validate(classification(["Q?", YES_NO, cell]))
    assert report.ok
    assert report.examples["answer_index"].tolist() == [index]


# pandas keeps text in Python objects, or in Arrow arrays when pyarrow is installed; the validator takes
# a different path for each, so both are tested wherever they are available.
STORAGES = ["python", *(["pyarrow"] if importlib.util.find_spec("pyarrow") else [])]


@pytest.mark.parametrize("storage", STORAGES)
def test_blank_cells_and_records_under_each_string_storage(storage):
    text = classification(["A?", YES_NO, "0"], ["\u3000\xa0\t", YES_NO, "0"], ["", "", ""], ["D?", "[]", "1"])
    with pd.option_context("mode.string_storage", storage):
        report = validate(text)
    assert [str(e) for e in report.errors] == [
        "row 3, column prompt: the prompt is only whitespace",
        "row 5, column classes: there must be at least 2 classes, but there are 0",
    ]
    assert [str(w) for w in report.warnings] == ["row 4: this row is empty and will be skipped"]


@pytest.mark.parametrize("storage", STORAGES)
def test_examples_under_each_string_storage(storage):
    text = classification(["A?", YES_NO, "0"], [" ", " ", " "], ["C?", "[' a', ' b', ' c']", "2.0"])
    with pd.option_context("mode.string_storage", storage):
        report = validate(text)
    assert report.examples.to_dict("list") == {
        "row": [2, 4],
        "prompt": ["A?", "C?"],
        "classes": [[" Yes", " No"], [" a", " b", " c"]],
        "answer_index": [0, 2],
    }


# --- Whole-file problems -----------------------------------------------------------------------


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "looks_like"),
    [
        (xlsx_bytes(), "task.xlsx", '"task.xlsx" looks like an Excel workbook (.xlsx), not a CSV file.'),
        (xlsx_bytes(), "", "the file looks like an Excel workbook (.xlsx), not a CSV file."),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "task.pdf", '"task.pdf" looks like a PDF document'),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "", "an old-style Excel workbook (.xls)"),
        (bytes(range(256)) * 4, "", "the file looks like binary data, not text, not a CSV file."),
    ],
)
def test_binary_files_are_named_and_told_how_to_export_csv(data, filename, looks_like):
    [problem] = errors(data, filename=filename)
    assert problem.startswith("file: ")
    assert looks_like in problem
    assert '"CSV UTF-8 (Comma delimited)"' in problem
    assert "Comma Separated Values (.csv)" in problem


def test_utf16_file_without_byte_order_mark_is_named_as_such():
    data = classification(["Is it?", YES_NO, "0"]).encode("utf-16-le")
    [problem] = errors(data)
    assert problem.startswith("file: the file is UTF-16-LE text, not UTF-8.")


# Short texts: charset_normalizer alone guesses cp1006 (Urdu) or cp1250 (Central European) for them.
@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
@pytest.mark.parametrize("count", [1, 30])
def test_latin1_file_is_named_windows_1252_with_its_first_bad_byte(encoding, count):
    rows = [[f"Le café numéro {i} est très élégant à Noël", YES_NO, "0"] for i in range(count)]
    text = classification(["Plain first row", YES_NO, "0"], *rows)
    data = text.encode(encoding)
    [problem] = errors(data)
    first_bad = data.index(b"\xe9")
    assert problem == (
        f"file: the file is not saved as UTF-8: the byte 0xE9 in row 3 (byte {first_bad + 1} of the file) "
        'is not valid UTF-8. It looks like Windows-1252 (Latin-1) text, in which this byte is "é". '
        'Save it again as UTF-8: in Excel use File > Save As > "CSV UTF-8 (Comma delimited)"; '
        'in Google Sheets use File > Download > "Comma Separated Values (.csv)"; '
        'in LibreOffice use File > Save As > "Text CSV" with the UTF-8 character set.'
    )


def test_other_scripts_keep_their_own_encoding_name():
    rows = [[f"Это вопрос номер {i}, правда ли это?", YES_NO, "0"] for i in range(30)]
    [problem] = errors(classification(*rows).encode("cp1251"))
    assert "It looks like Windows-1251 (Cyrillic) text." in problem


def test_bad_byte_row_counts_records_with_newlines():
    text = classification(["Two\nlines", YES_NO, "0"], ["Three\nmore\nlines", YES_NO, "0"])
    data = text.encode() + "Caf\xe9,\"[' a', ' b']\",0\n".encode("latin-1")
    [problem] = errors(data)
    assert "the byte 0xE9 in row 4 " in problem


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n", b" \r\n\t"])
def test_empty_file(data):
    assert errors(data) == ["file: the file is empty"]


def test_blank_first_row():
    assert errors(b"\nprompt,classes,answer_index\nQ?,\"[' a', ' b']\",0\n") == [
        "file: row 1 is empty, but it must hold the column names (the header)"
    ]


@pytest.mark.parametrize(
    ("metric", "header", "missing"),
    [
        ("classification", ["prompt", "classes"], ["answer_index"]),
        ("sequence_prob", ["prompt"], ["completion"]),
        ("logodds", ["prompt", "classes", "answer_index"], ["other_prompt"]),
        ("absolute_logodds", ["text"], ["prompt", "other_prompt", "classes", "answer_index"]),
    ],
)
def test_missing_required_columns(metric, header, missing):
    text = csv_text(header, [["x"] * len(header)])
    assert [e for e in errors(text, metric) if "missing" in e] == [
        f'file: missing column "{name}"' for name in missing
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [(" Prompt", "prompt"), ("Classes ", "classes"), ("Answer Index", "answer_index"), ("PROMPT", "prompt")],
)
def test_missing_column_that_differs_only_in_case_or_spaces(written, expected):
    header = [written if name == expected else name for name in CLASSIFICATION]
    text = csv_text(header, [["Q?", YES_NO, "0"]])
    assert (
        f'file: missing column "{expected}" (found "{written}"; column names must match exactly'
        in (errors(text)[0])
    )


def test_duplicate_column_names():
    text = csv_text(["prompt", "classes", "prompt", "answer_index"], [["Q?", YES_NO, "Q2?", "0"]])
    assert errors(text) == [
        'file: the column name "prompt" appears 2 times (columns 1, 3); each column needs a different name'
    ]


def test_empty_column_names_after_the_last_column_are_only_extra():
    report = validate("prompt,classes,answer_index,,\nQ?,\"[' a', ' b']\",0,,\n")
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "file: these columns are not used and will be ignored: column 4 (no name), column 5 (no name)"
    ]


@pytest.mark.parametrize(
    ("separator", "name"),
    [
        (";", "semicolons rather than commas (Excel does so where a comma is the decimal separator)"),
        ("\t", "tabs rather than commas"),
    ],
)
def test_wrong_separator_is_the_one_problem(separator, name):
    # The commas inside the cells make every row look too long for a one-column header.
    text = f"prompt{separator}classes{separator}answer_index\n" + "".join(
        f"Q{i}, really?{separator}[' a', ' b']{separator}0\n" for i in range(40)
    )
    assert errors(text) == [
        f"file: the columns seem to be separated by {name}, so no row could be read. "
        'Export it as CSV instead: in Excel use File > Save As > "CSV UTF-8 (Comma delimited)"; '
        'in Google Sheets use File > Download > "Comma Separated Values (.csv)"; '
        'in LibreOffice use File > Save As > "Text CSV" with the UTF-8 character set.'
    ]


def test_too_few_examples():
    text = classification(*good_rows(120))
    assert errors(text, min_examples=300) == ["file: 120 examples, but at least 300 are required"]


def test_default_minimum_is_300():
    assert validate(classification(*good_rows(300)), min_examples=300).ok
    assert read_task_file(classification(*good_rows(300)).encode(), metric="classification").ok
    assert errors(classification(*good_rows(299)), min_examples=300) == [
        "file: 299 examples, but at least 300 are required"
    ]


def test_more_examples_than_the_cap_is_a_warning():
    report = validate(classification(*good_rows(5)), subsample_cap=3)
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "file: 5 examples; a uniformly random sample of 3 of them will be used"
    ]


def test_unknown_metric_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown metric"):
        read_task_file(b"prompt\nx\n", metric="accuracy")


# --- Problems in records -----------------------------------------------------------------------


def test_record_with_more_fields_than_the_header():
    text = classification(["A?", YES_NO, "0"]) + "B?,[' Yes', ' No'],0\n" + "C?,\"[' Yes']\",0\n"
    assert errors(text) == [
        "row 3: this row has 4 fields but the header has 3 columns; "
        'a cell containing a comma probably lacks the double quotes (") around it',
        "row 4, column classes: there must be at least 2 classes, but there is 1",
    ]


def test_first_record_with_an_extra_field_is_not_taken_for_an_index():
    text = "prompt,classes,answer_index\nWhy, oh why?,\"[' a', ' b']\",0\nQ?,\"[' a', ' b']\",1\n"
    assert errors(text) == [
        "row 2: this row has 4 fields but the header has 3 columns; "
        'a cell containing a comma probably lacks the double quotes (") around it'
    ]


def test_unclosed_quote():
    text = classification(["A?", YES_NO, "0"]) + "C?,\"[' a', ' b'],1\n"
    assert errors(text) == [
        'row 3, column classes: this cell starts with a double quote (") that is never closed, '
        "so the rest of the file was read as part of this cell"
    ]


def test_an_unclosed_quote_in_a_later_column_names_that_column():
    text = "prompt,classes,answer_index,notes\nA?,\"[' a', ' b']\",0,fine\nC?,\"[' a', ' b']\",1,\"oops\n"
    assert errors(text) == [
        'row 3, column notes: this cell starts with a double quote (") that is never closed, '
        "so the rest of the file was read as part of this cell"
    ]


@pytest.mark.parametrize(
    ("metric", "header", "row", "column", "what"),
    [
        ("classification", CLASSIFICATION, ["", YES_NO, "0"], "prompt", "the prompt is empty"),
        (
            "classification",
            CLASSIFICATION,
            [" \t\n ", YES_NO, "0"],
            "prompt",
            "the prompt is only whitespace",
        ),
        ("sequence_prob", ["prompt", "completion"], ["Q?", ""], "completion", "the completion is empty"),
        (
            "sequence_prob",
            ["prompt", "completion"],
            ["Q?", "  "],
            "completion",
            "the completion is only whitespace",
        ),
        *[
            (
                metric,
                REQUIRED_COLUMNS[metric],
                ["Q?", "", YES_NO, "0"],
                "other_prompt",
                "the other prompt is empty",
            )
            for metric in ("logodds", "absolute_logodds")
        ],
    ],
)
def test_empty_text_cells(metric, header, row, column, what):
    good = ["Fine?", *(cell if cell.strip() else "x" for cell in row[1:])]
    text = csv_text(list(header), [good, good, row])
    assert errors(text, metric) == [f"row 4, column {column}: {what}"]


@pytest.mark.parametrize(
    "cell",
    [
        "[' Yes' ' No']",
        "Yes, No",
        " Yes",
        "[1, 2]",
        "(' Yes', ' No')",
        "{' Yes', ' No'}",
        "[' Yes', ' No'",
        "[[' Yes'], [' No']]",
        "[' Yes', None]",
        "__import__('os').system('echo hacked')",
        "[f' {1}', ' b']",
        "",
    ],
)
def test_classes_that_are_not_a_python_list_of_strings(cell):
    text = classification(["A?", YES_NO, "0"], ["B?", cell, "0"])
    shown = cell.replace("\n", "\\n")
    assert errors(text) == [
        f'row 3, column classes: "{shown}" is not a list of strings written in Python syntax, '
        'e.g. [" Yes", " No"]'
    ]


def test_long_classes_cell_is_shortened_in_the_message():
    cell = "[" + " ".join(f"'{i}'" for i in range(40)) + "]"
    [problem] = errors(classification(["Q?", cell, "0"]))
    assert f'"{cell[:59]}…" is not a list of strings' in problem


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("[' Yes']", "there must be at least 2 classes, but there is 1"),
        ("[]", "there must be at least 2 classes, but there are 0"),
        ("[' Yes', ' No', ' Yes']", 'the class " Yes" appears more than once'),
        ("[' Yes', ' Yes']", 'the class " Yes" appears more than once'),
        ("[' Yes', '', ' No']", 'class 2 is an empty string ""'),
    ],
)
def test_bad_class_lists(cell, message):
    text = classification(["A?", YES_NO, "0"], ["B?", YES_NO, "1"], ["C?", cell, "0"])
    assert errors(text) == [f"row 4, column classes: {message}"]


@pytest.mark.parametrize("metric", ["logodds", "absolute_logodds"])
@pytest.mark.parametrize("cell", ["[' A', ' B', ' C']", "[' A', ' B', ' C', ' D']"])
def test_logodds_metrics_need_exactly_two_classes(metric, cell):
    header = REQUIRED_COLUMNS[metric]
    text = csv_text(list(header), [["A?", "B?", YES_NO, "0"], ["A?", "B?", cell, "0"]])
    count = cell.count(",") + 1
    assert errors(text, metric) == [
        f"row 3, column classes: {metric} tasks need exactly 2 classes, but there are {count}"
    ]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("", "the cell is empty; answer_index must be the position of the correct class, counting from 0"),
        (
            "one",
            '"one" is not a whole number; answer_index must be the position of the correct class, counting from 0',
        ),
        (
            "1.5",
            '"1.5" is not a whole number; answer_index must be the position of the correct class, counting from 0',
        ),
        ("3", "answer_index 3 is out of range for 3 classes (0 to 2)"),
        ("-1", "answer_index -1 is out of range for 3 classes (0 to 2)"),
        ("3.0", "answer_index 3 is out of range for 3 classes (0 to 2)"),
    ],
)
def test_bad_answer_index(cell, message):
    text = classification(["A?", "[' a', ' b', ' c']", "2"], ["B?", "[' a', ' b', ' c']", cell])
    assert errors(text) == [f"row 3, column answer_index: {message}"]


def test_answer_index_range_follows_each_rows_classes():
    text = classification(["A?", "[' a', ' b', ' c']", "2"], ["B?", YES_NO, "2"])
    assert errors(text) == [
        "row 3, column answer_index: answer_index 2 is out of range for 2 classes (0 to 1)"
    ]


def test_every_problem_is_reported_in_row_then_column_order():
    text = classification(
        ["A?", YES_NO, "0"],
        ["", "[' Yes']", "x"],
        ["C?", YES_NO, "7"],
        ["", YES_NO, "0"],
    )
    # The same problem in several rows is one line, at its first row.
    assert errors(text) == [
        "row 3, column prompt: the prompt is empty — the same problem in 2 rows: 3, 5",
        "row 3, column classes: there must be at least 2 classes, but there is 1",
        'row 3, column answer_index: "x" is not a whole number; '
        "answer_index must be the position of the correct class, counting from 0",
        "row 4, column answer_index: answer_index 7 is out of range for 2 classes (0 to 1)",
    ]


def test_problems_beyond_max_errors_are_counted():
    rows = [["", YES_NO, "0"], ["B?", "[' Yes']", "0"], ["C?", YES_NO, "x"], ["D?", YES_NO, "7"]]
    text = classification(*rows * 15)
    report = validate(text, max_errors=3)
    assert len(report.errors) == 3 and report.errors_omitted == 1
    assert report.errors[-1].column == "answer_index" and report.errors[-1].row == 4
    assert report.lines()[-1] == "... and 1 more problems"
    assert len(report.lines()) == 4


def test_classes_without_a_leading_space_give_one_warning():
    text = classification(
        ["A?", YES_NO, "0"],
        ["B?", "['Yes', 'No']", "0"],
        ["C?", YES_NO, "0"],
        ["D?", "[' Yes', 'No']", "1"],
        ["E?", "['Yes', 'No']", "1"],
    )
    report = validate(text)
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        'row 3, column classes: the class "Yes" does not start with a space, nor do classes in 2 more rows; '
        'class tokens should almost always start with a space, e.g. " Yes" not "Yes"'
    ]
    assert report.lines() == [f"warning: {report.warnings[0]}", "OK: 5 examples"]


def test_fully_empty_records_are_skipped_without_renumbering():
    text = (
        classification(["A?", YES_NO, "0"]) + "\n,,\n" + classification(["D?", YES_NO, "9"]).split("\n", 1)[1]
    )
    report = validate(text)
    assert [str(e) for e in report.errors] == [
        "row 5, column answer_index: answer_index 9 is out of range for 2 classes (0 to 1)"
    ]
    assert [str(w) for w in report.warnings] == [
        "row 3: this row is empty and will be skipped (so will 1 more: row 4)"
    ]
    assert report.n_examples == 2


def test_empty_records_do_not_count_as_examples():
    text = classification(*good_rows(3)) + "\n\n"
    report = validate(text, min_examples=3)
    assert report.ok and report.n_examples == 3
    assert report.examples["row"].tolist() == [2, 3, 4]
    assert len(report.warnings) == 1


def test_index_column_alone_does_not_make_a_record_non_empty():
    text = csv_text(
        ["", *CLASSIFICATION], [["0", "A?", YES_NO, "0"], ["1", "", "", ""], ["2", "C?", YES_NO, "1"]]
    )
    report = validate(text)
    assert report.ok
    assert report.examples["row"].tolist() == [2, 4]


def test_problem_str():
    assert str(Problem("bad", row=5, column="classes")) == "row 5, column classes: bad"
    assert str(Problem("bad", row=5)) == "row 5: bad"
    assert str(Problem("bad")) == "file: bad"
    assert str(Problem("bad", row=5, rows=(5, 6, 7, 9))) == "row 5: bad — the same problem in 4 rows: 5–7, 9"
    assert str(Problem("bad 1", row=5, column="classes", rows=(5, 8), varied=True)) == (
        "row 5, column classes: bad 1 — the same kind of problem in 2 rows, with other values: 5, 8"
    )


def test_messages_stay_on_one_line():
    text = classification(["A?", "[' Yes'\n ' No']", "0"], ["B?", "['x\ny'", "0"])
    for line in validate(text).lines():
        assert "\n" not in line and "\r" not in line


# --- The real 2022 task files ------------------------------------------------------------------


def infer_metric(header: list[str]) -> str | None:
    if "completion" in header:
        return "sequence_prob"
    if "other_prompt" in header:
        return "logodds"
    if "classes" in header and "answer_index" in header:
        return "classification"
    return None


ANCHOR_FILES = sorted(ANCHORS.glob("*.csv")) if ANCHORS.is_dir() else []


@pytest.mark.parametrize(
    "path",
    ANCHOR_FILES or [pytest.param(None, marks=pytest.mark.skip(reason=f"{ANCHORS} is absent"))],
    ids=lambda path: getattr(path, "name", "absent"),
)
def test_real_task_files(path):
    data = path.read_bytes()
    records = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    metric = infer_metric(records[0])
    if metric is None:
        for metric in METRICS:
            assert any("missing column" in str(e) for e in read_task_file(data, metric=metric).errors)
        return
    report = read_task_file(data, metric=metric, filename=path.name)
    n_examples = len(records) - 1
    assert report.n_examples == n_examples
    if n_examples >= 300:
        assert report.ok, report.lines()
        assert report.examples["row"].tolist() == list(range(2, n_examples + 2))
    else:
        assert report.errors == [Problem(f"{n_examples} examples, but at least 300 are required")]


# --- Properties --------------------------------------------------------------------------------

TOKENS = st.one_of(
    st.characters(exclude_categories=("Cs", "Cc")),
    # A lone "\r" is left out: Python's csv writer does not quote it, so no reader could get it back.
    st.sampled_from([",", '"', "'", "\\", "\n", "\r\n", "\t", " ", "😀", "👩‍💻", "NA", "[", "]"]),
)
TEXTS = st.lists(TOKENS, min_size=1, max_size=12).map("".join).filter(str.strip)
CLASS_NAMES = st.lists(TOKENS, min_size=1, max_size=6).map("".join)


@st.composite
def task_tables(draw: st.DrawFn, metric: str) -> pd.DataFrame:
    count = draw(st.integers(1, 6))
    columns: dict[str, list] = {"prompt": draw(st.lists(TEXTS, min_size=count, max_size=count))}
    if metric == "sequence_prob":
        columns["completion"] = draw(st.lists(TEXTS, min_size=count, max_size=count))
        return pd.DataFrame(columns)
    if metric in ("logodds", "absolute_logodds"):
        columns["other_prompt"] = draw(st.lists(TEXTS, min_size=count, max_size=count))
    most = 2 if metric in ("logodds", "absolute_logodds") else 4
    class_lists = st.lists(CLASS_NAMES, min_size=2, max_size=most, unique=True)
    columns["classes"] = draw(st.lists(class_lists, min_size=count, max_size=count))
    columns["answer_index"] = [draw(st.integers(0, len(classes) - 1)) for classes in columns["classes"]]
    return pd.DataFrame(columns)


def to_task_file(draw: st.DrawFn, table: pd.DataFrame) -> bytes:
    """Write the table as a contestant's tools might: with or without index, BOM, CRLF."""
    text = table.to_csv(index=draw(st.booleans()), lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode()


PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(st.data())
def test_valid_tables_round_trip(data):
    metric = data.draw(st.sampled_from(METRICS))
    table = data.draw(task_tables(metric))
    with pd.option_context("mode.string_storage", data.draw(st.sampled_from(STORAGES))):
        report = validate(to_task_file(data.draw, table), metric)
    assert report.ok, report.lines()
    assert report.n_examples == len(table)
    assert list(report.examples.columns) == ["row", *REQUIRED_COLUMNS[metric]]
    assert report.examples["row"].tolist() == list(range(2, len(table) + 2))
    for column in REQUIRED_COLUMNS[metric]:
        assert report.examples[column].tolist() == table[column].tolist()


@PROPERTY_SETTINGS
@given(st.data())
def test_blank_prompt_is_the_one_error_at_its_row(data):
    metric = data.draw(st.sampled_from(METRICS))
    table = data.draw(task_tables(metric))
    blanked = data.draw(st.integers(0, len(table) - 1))
    table.loc[blanked, "prompt"] = data.draw(st.sampled_from(["", " ", "\t", " \r\n "]))
    with pd.option_context("mode.string_storage", data.draw(st.sampled_from(STORAGES))):
        report = validate(to_task_file(data.draw, table), metric)
    assert [(e.row, e.column) for e in report.errors] == [(blanked + 2, "prompt")]


def python_reading(cell: str) -> list[str] | None:
    """What the cell means as a Python literal, if it is a list of strings, one string token each."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences
            value = ast.literal_eval(cell.strip())
        strings = [
            t
            for t in tokenize.generate_tokens(io.StringIO(cell.strip()).readline)
            if t.type == tokenize.STRING
        ]
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, tokenize.TokenError):
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return value if len(strings) == len(value) else None


CELL_TOKENS = st.sampled_from(
    ["[", "]", "'", '"', ",", " ", "\n", "\t", "a", "é", "\\", "''", "' a'", "'b'", '" c"']
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(CELL_TOKENS, max_size=12).map("".join), min_size=1, max_size=5))
def test_class_cells_are_read_as_python_reads_them(cells):
    assert _parse_class_lists(cells) == [python_reading(cell) for cell in cells]
