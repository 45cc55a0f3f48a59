"""Thousands of hostile task files: random bytes, valid files of each metric broken in every way a spreadsheet,
an editor or an attacker breaks them, other encodings, compressed files and zip bombs renamed .csv, and huge
shapes. The validator never raises, names where each problem is, and keeps its memory bounded; the upload form
never answers with a server error, shows the problems beside the file field, keeps the typed answers and saves
nothing for a refused file.

The bulk runs against the validator itself (no database); a smaller number goes through the real form.
Examples are derandomized, so CI runs the same files every time."""

import csv
import gzip
import io
import re
import tracemalloc
import zipfile
import zlib
from functools import cache

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contest.rules import METRICS
from submissions.models import SubmissionVersion
from submissions.taskfile import Problem, TaskFileReport, read_task_file
from tests.factories import ANSWERS, make_task_csv

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# Peak memory the validator may take, traced by tracemalloc (Python objects, numpy arrays and the strings
# pandas makes): a fixed allowance plus a multiple of the file's size. A validator that inflated a zip bomb
# (BOMB_BYTES once inflated) or built a structure per byte would exceed it.
# The worst file for it is a million two-byte records (each a row of Python objects): about 70 bytes per byte.
MEMORY_PER_BYTE = 80
MEMORY_ALLOWANCE = 48 * 1024 * 1024
BOMB_BYTES = 400 * 1024 * 1024

# --- Strategies ----------------------------------------------------------------------------------

HOSTILE_SNIPPETS = [
    b'"',
    b'""',
    b'"\n',
    b'"a,b',
    b",",
    b",,,,,,",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n\n",
    b"\x00",
    b"\x01\x02",
    b"\x0b",
    b"\x1b[31m",
    b"\x7f",
    b"\xc2\x85",
    b"\xe2\x80\xa8",  # U+2028
    b"\xef\xbb\xbf",  # a BOM in the middle
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xff",
    b"\xc3(",  # invalid UTF-8
    b"\xed\xa0\x80",  # an encoded surrogate: invalid UTF-8
    b"\xe9t\xe9",  # Latin-1
    b"=cmd|' /C calc'!A0",
    b'=HYPERLINK("http://evil.example","x")',
    b"+SUM(A1:A9)",
    b"-2+3+cmd|' /C notepad'!'B1'",
    b"@SUM(1,2)",
    b"\\ud800",
    b"\\x00",
    b"['",
    b"[' Yes']",
    b"[' Yes' ' No']",
    b"[' a', ' a']",
    b"[1, 2]",
    b"{' Yes': 1}",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"-1",
    b"99999999999999999999999999999",
    b"1e400",
    b"1.5",
    b"NaN",
    b"inf",
    b"0x10",
    b"\t",
    b";",
    b"|",
    b"prompt",
    b"classes",
]

HOSTILE_CELLS = [
    "",
    " ",
    "\t\n",
    "NA",
    "None",
    "null",
    "-1",
    "2",
    "7",
    "1.0",
    "1.5",
    "1e3",
    "1e400",
    "-0",
    "+1",
    "١",  # an Arabic-Indic digit one
    "99999999999999999999999999",
    "nan",
    "True",
    "Yes",
    "[]",
    "[' Yes']",
    "[' Yes', ' No', ' Maybe']",
    "[' Yes', ' Yes']",
    "[' Yes', '']",
    "['Yes', 'No']",
    "[' Yes' ' No']",
    "(' Yes', ' No')",
    "[1, 2]",
    "[' Yes', 2]",
    "[' Yes', ' \\ud800']",
    "[' Yes', ' \\x00']",
    "[' Yes', ' N\\x85o']",
    "['\\N{LATIN SMALL LETTER E WITH ACUTE}', ' b']",
    "__import__('os').system('true')",
    "[' Yes', ' No'] + [' x']",
    "[" * 500 + "]" * 500,
    "=1+1",
    "=cmd|' /C calc'!A0",
    "@SUM(A1)",
    '"quoted"',
    "a\x00b",
    "a\x0bb",
    "\u202eevil",
    "\ud800",
    "\U0001f600",
]


def _records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def _write(records: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def cell_mutation(draw, records: list[list[str]]) -> list[list[str]]:
    """Wrong values and types in the cells, rows added, dropped, cut short or made longer, columns added."""
    records = [list(r) for r in records]
    kind = draw(
        st.sampled_from(["cell", "cell", "cell", "drop_row", "short", "long", "column", "blank_rows"])
    )
    row = draw(st.integers(0, len(records) - 1))
    if kind == "cell" and records[row]:
        column = draw(st.integers(0, len(records[row]) - 1))
        records[row][column] = draw(st.sampled_from(HOSTILE_CELLS) | st.text(max_size=30))
    elif kind == "drop_row" and len(records) > 1:
        del records[row]
    elif kind == "short":
        records[row] = records[row][: draw(st.integers(0, max(0, len(records[row]) - 1)))]
    elif kind == "long":
        records[row] += draw(st.lists(st.sampled_from(HOSTILE_CELLS), min_size=1, max_size=5))
    elif kind == "column":
        name = draw(st.sampled_from(["", "notes", "prompt", "classes", "Prompt ", "Unnamed: 0", "=x()"]))
        value = draw(st.sampled_from(HOSTILE_CELLS))
        records = [records[0] + [name]] + [r + [value] for r in records[1:]]
    elif kind == "blank_rows":
        records[row:row] = [[]] * draw(st.integers(1, 5)) + [[""] * len(records[0])]
    return records


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    """Broken quoting, stray bytes and invalid UTF-8, cut files, mixed line endings, huge fields."""
    kind = draw(
        st.sampled_from(["insert", "insert", "insert", "delete", "truncate", "line_ends", "huge", "flip"])
    )
    at = draw(st.integers(0, len(data)))
    if kind == "insert":
        snippet = draw(st.sampled_from(HOSTILE_SNIPPETS) | st.binary(min_size=1, max_size=8))
        return data[:at] + snippet + data[at:]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 20)) :]
    if kind == "truncate":
        return data[:at]
    if kind == "line_ends":
        ending = draw(st.sampled_from([b"\r\n", b"\r", b"\n\r", b"\r\r\n"]))
        every = draw(st.sampled_from([1, 2, 3, 7]))
        lines = data.split(b"\n")
        return b"".join(line + (ending if i % every == 0 else b"\n") for i, line in enumerate(lines))
    if kind == "huge":  # a field of megabytes, quoted or not, perhaps with a quote never closed
        filler = draw(st.sampled_from([b"x", b"word ", b'""', b"\xc3\xa9", b"a,b", b"\n"]))
        size = draw(st.sampled_from([1, 1024, 64 * 1024, 64 * 1024, 1024 * 1024]))
        field = filler * (size // len(filler) + 1)
        quote = draw(st.sampled_from([b"", b'"']))
        closing = quote if draw(st.booleans()) else b""
        return data[:at] + quote + field + closing + data[at:]
    position = min(at, len(data) - 1)
    if position < 0:
        return data
    return data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1 :]


@st.composite
def encoded(draw, data: bytes) -> bytes:
    """The same text saved in another encoding, with or without a byte order mark."""
    text = data.decode("utf-8", "replace")
    encoding = draw(
        st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252", "utf-8-sig"])
    )
    body = text.encode(encoding, "replace")
    if draw(st.booleans()):
        body = (
            draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf"]))
            + body
        )
    return body


@cache
def _example_records(metric: str) -> list[list[str]]:
    return _records(make_task_csv(8, metric=metric))


@st.composite
def mutated_task(draw) -> tuple[bytes, str]:
    """A valid-looking file of one metric (from the factory, or the head of the contest's example file),
    broken by a few mutations of its cells, its bytes or its encoding; checked for a metric that may not be
    its own."""
    own = draw(st.sampled_from(METRICS))
    records = _example_records(own)
    n = draw(st.integers(1, 40))
    records = [records[0]] + [records[1 + i % (len(records) - 1)] for i in range(n)]
    for _ in range(draw(st.integers(0, 3))):
        records = draw(cell_mutation(records))
    data = _write(records)
    for _ in range(draw(st.integers(0, 3))):
        data = draw(byte_mutation(data))
    if draw(st.integers(0, 5)) == 0:
        data = draw(encoded(data))
    metric = own if draw(st.integers(0, 3)) else draw(st.sampled_from(METRICS))
    return data, metric


@cache
def _zip_bomb() -> bytes:
    """BOMB_BYTES of zeros as one CSV inside a ZIP archive: about 400 KB on disk."""
    out = io.BytesIO()
    chunk = b"0" * (16 * 1024 * 1024)
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("task.csv", "w", force_zip64=True) as member,
    ):
        for _ in range(BOMB_BYTES // len(chunk)):
            member.write(chunk)
    return out.getvalue()


@cache
def _gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # the gzip container
    chunk = b"prompt,classes,answer_index\n" * (512 * 1024)
    parts = [compressor.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))]
    return b"".join(parts) + compressor.flush()


def _zipped(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


@st.composite
def compressed(draw) -> bytes:
    """Compressed files renamed .csv: zip and gzip bombs, a zipped or gzipped valid task, an xlsx-like zip, a
    zip whose directory is broken."""
    kind = draw(st.sampled_from(["zip_bomb", "gzip_bomb", "zip", "gzip", "xlsx", "broken_zip", "nested"]))
    task = make_task_csv(300, metric=draw(st.sampled_from(METRICS)))
    if kind == "zip_bomb":
        return _zip_bomb()
    if kind == "gzip_bomb":
        return _gzip_bomb()
    if kind == "zip":
        return _zipped("task.csv", task)
    if kind == "gzip":
        return gzip.compress(task)
    if kind == "xlsx":
        return _zipped("xl/worksheets/sheet1.xml", b"<worksheet/>")
    if kind == "nested":
        return _zipped("inner.zip", _zipped("task.csv", task))
    data = _zipped("task.csv", task)
    cut = draw(st.integers(4, len(data) - 1))
    return data[:cut]


@st.composite
def huge_shape(draw) -> bytes:
    """Many columns or many rows, a few MB at most (the upload limit is far above)."""
    kind = draw(st.sampled_from(["columns", "rows", "tiny_rows", "one_line", "wide_row"]))
    if kind == "columns":
        count = draw(st.sampled_from([1_000, 50_000, 300_000]))
        header = ",".join(["prompt", "classes", "answer_index"] + [f"c{i}" for i in range(count)])
        row = ",".join(['"Q?"', "\"[' Yes', ' No']\"", "0"] + ["x"] * count)
        return (header + "\n" + (row + "\n") * draw(st.integers(1, 3))).encode()
    if kind == "rows":
        return make_task_csv(draw(st.sampled_from([2_000, 30_000])), metric=draw(st.sampled_from(METRICS)))
    if kind == "tiny_rows":  # a million one-byte records
        return b"prompt,classes,answer_index\n" + b"x\n" * draw(st.sampled_from([100_000, 500_000]))
    if kind == "wide_row":  # a short header, then a record of a million fields
        return b"prompt,classes,answer_index\n" + b",".join([b"x"] * 1_000_000) + b"\n"
    return b",".join([b"x"] * draw(st.sampled_from([10_000, 1_000_000])))


# --- What every report must be ---------------------------------------------------------------------

# Problems that concern a whole record, whose cells cannot be told apart: the row is named, and no column.
WHOLE_ROW = (
    re.compile(r"this row has \d+ fields but the header has \d+ columns"),
    re.compile(r"a cell here starts with a double quote"),  # when its column cannot be told
)


def check_report(report: TaskFileReport, *, name: str = "") -> None:
    """Every problem is a Problem that names the file, a row and a column, or (for a row that cannot be split
    into cells, or a column's name in the header) the row, and reads as one printable line."""
    assert isinstance(report, TaskFileReport)
    for problem in [*report.errors, *report.warnings]:
        assert isinstance(problem, Problem), problem
        assert isinstance(problem.message, str) and problem.message.strip(), problem
        line = str(problem)
        line.encode("utf-8")  # no lone surrogate: the page and the log carry it
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", line), line
        if problem.row is None:
            assert line.startswith("file: "), line
            continue
        assert isinstance(problem.row, int) and problem.row >= 1, problem
        if problem.column is not None:
            assert isinstance(problem.column, str) and problem.column, problem
            assert line.startswith(f"row {problem.row}, column {problem.column}: "), line
        elif problem in report.errors:
            header_name = problem.row == 1 and re.match(r"the name of column \d+ ", problem.message)
            assert header_name or any(p.match(problem.message) for p in WHOLE_ROW), line
    for line in report.lines():
        assert "\n" not in line and "\r" not in line, line
    if report.ok:
        assert report.examples is not None and len(report.examples) == report.n_examples
        assert not report.errors
    else:
        assert report.examples is None
        assert report.errors or report.subcategory_errors
    if name:  # a refusal of the whole file says which file when it names one
        for problem in report.errors:
            if problem.row is None and "not a CSV file" in problem.message:
                assert problem.message.startswith(f'"{name}" looks like '), problem


def validate_bounded(data: bytes, metric: str, **options) -> TaskFileReport:
    tracemalloc.start()
    try:
        report = read_task_file(data, metric=metric, **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bound = MEMORY_PER_BYTE * len(data) + MEMORY_ALLOWANCE
    assert peak <= bound, f"peak {peak / 2**20:.1f} MiB for a file of {len(data) / 2**20:.2f} MiB"
    return report


# --- The validator, with thousands of files ---------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(data=st.binary(max_size=4096), metric=st.sampled_from(METRICS))
def test_random_bytes(data, metric):
    check_report(validate_bounded(data, metric, filename="random.csv"), name="random.csv")


@settings(FUZZ, max_examples=300)
@given(
    text=st.text(
        alphabet=st.sampled_from(list(",\"\n\r\t ;|=+-@[]'\\0123456789abcxyz\x00\x0b\u2028é")), max_size=600
    ),
    metric=st.sampled_from(METRICS),
)
def test_text_made_of_csv_syntax(text, metric):
    data = text.encode("utf-8")
    check_report(validate_bounded(data, metric, min_examples=1), name="")


@settings(FUZZ, max_examples=1200)
@given(
    task=mutated_task(),
    min_examples=st.sampled_from([1, 300]),
    subcategory=st.sampled_from(["", "notes", "prompt"]),
)
def test_mutated_task_files_of_every_metric(task, min_examples, subcategory):
    data, metric = task
    report = validate_bounded(data, metric, min_examples=min_examples, subcategory_column=subcategory)
    check_report(report)


@settings(FUZZ, max_examples=40)
@given(data=compressed(), metric=st.sampled_from(METRICS))
def test_compressed_files_and_bombs_renamed_csv(data, metric):
    report = validate_bounded(data, metric, filename="task.csv")
    check_report(report, name="task.csv")
    assert not report.ok
    [problem] = report.errors
    assert problem.row is None and "not a CSV file" in problem.message, problem


@settings(FUZZ, max_examples=30)
@given(data=huge_shape(), metric=st.sampled_from(METRICS))
def test_huge_numbers_of_columns_and_rows(data, metric):
    check_report(validate_bounded(data, metric, min_examples=1))


# --- Through the form -------------------------------------------------------------------------------


@st.composite
def any_hostile_file(draw) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["bytes", "mutated", "mutated", "mutated", "compressed"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2048)), draw(st.sampled_from(METRICS))
    if kind == "compressed":
        return draw(
            st.sampled_from([_zipped("task.csv", make_task_csv(300)), gzip.compress(make_task_csv(300))])
        ), "classification"
    data, metric = draw(mutated_task())
    if draw(st.booleans()):  # enough rows to pass the round's minimum, so the cells' problems show
        records = _records(make_task_csv(300, metric=metric))
        data = data + _write(records[1:])
    return data, metric


@pytest.mark.django_db
@settings(
    FUZZ,
    max_examples=150,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(task=any_hostile_file())
def test_the_upload_form_never_fails_and_keeps_the_answers(client, alice, open_round, task):
    data, metric = task
    client.force_login(alice)
    versions = SubmissionVersion.objects.count()
    stored = _stored_files()
    typed = "Typed by hand: keep me <3"
    response = client.post(
        reverse("submission_create", args=[open_round.pk]),
        {
            **ANSWERS,
            "metric": metric,
            "description": typed,
            "task_file": SimpleUploadedFile("task.csv", data, content_type="text/csv"),
        },
    )
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:  # the file was valid: one whole version, its file stored
        version = SubmissionVersion.objects.latest("pk")
        assert SubmissionVersion.objects.count() == versions + 1
        assert version.description == typed
        with default_storage.open(version.task_file.name, "rb") as f:
            assert f.read() == data
        return
    errors = response.context["form"].errors.get("task_file", [])
    assert errors, response.context["form"].errors
    html = response.content.decode()
    assert 'id="id_task_file_errors"' in html and "Nothing was saved" in html
    assert "Typed by hand: keep me &lt;3" in html  # what was typed is still in the form
    for error in errors:  # the validator's, or the form's own about the file as a whole ("is empty")
        assert re.match(r"(file: |row \d+(, column .+)?: |The submitted file )", error), error
    assert SubmissionVersion.objects.count() == versions
    assert _stored_files() == stored


def _stored_files() -> set[str]:
    found = set()
    folders = ["tasks"]
    while folders:
        folder = folders.pop()
        if not default_storage.exists(folder):
            continue
        subfolders, files = default_storage.listdir(folder)
        folders += [f"{folder}/{name}" for name in subfolders]
        found |= {f"{folder}/{name}" for name in files}
    return found


# --- What the fuzzing found, kept as examples -------------------------------------------------------


def test_a_header_of_too_many_columns_is_refused_before_the_file_is_read():
    """50,000 columns took pandas 12 s to read (a quarter of a millisecond each; a 100 MB file, hours)."""
    data = (
        ",".join(["prompt", "classes", "answer_index"] + [f"c{i}" for i in range(50_000)]) + "\n"
    ).encode()
    report = validate_bounded(data, "classification")
    assert [str(e) for e in report.errors] == [
        "file: row 1 (the header) has 50,003 columns, but a task file may have at most 1,000; keep the columns "
        "the metric reads (and a subcategory), and delete the others"
    ]


def test_messages_about_many_columns_list_the_first_and_count_the_rest():
    header = ["prompt", "classes", "answer_index"] + ["x"] * 30 + [f"c{i}" for i in range(30)]
    report = read_task_file(_write([header]), metric="classification", min_examples=0)
    [duplicate] = [str(e) for e in report.errors if "appears" in e.message]
    assert duplicate.startswith('file: the column name "x" appears 30 times (columns 4, 5, 6,')
    assert "23 and 10 more); each column needs a different name" in duplicate
    [unused] = [str(w) for w in report.warnings]
    assert unused.endswith(": " + ", ".join(['"x"'] * 20) + " and 40 more")  # 60 unused, 20 of them named


def test_a_million_broken_rows_make_one_problem_per_kind_in_bounded_memory():
    """One Problem per row took 272 bytes of memory per byte of the file, and two minutes; now about 70, and
    seconds."""
    data = b"prompt,classes,answer_index\n" + b"x\n" * 1_000_000
    report = validate_bounded(data, "classification", min_examples=1)
    assert [(e.row, e.column, e.message[:20]) for e in report.errors] == [
        (2, "classes", '"" is not a list of '),
        (2, "answer_index", "the cell is empty; a"),
    ]
    assert all(str(e).endswith("— the same problem in 1000000 rows: 2–1000001") for e in report.errors)


def test_a_column_named_with_a_control_character_or_a_line_break_is_named_quoted():
    for name, shown in (("\x08", '"\\x08"'), ("a\nb", '"a\\nb"'), ("n" * 100, '"' + "n" * 59 + '…"')):
        header = ["prompt", "classes", "answer_index", name]
        row = ["Q?", "[' Yes', ' No']", "0", "\x07"]
        report = read_task_file(_write([header, row]), metric="classification", min_examples=1)
        cells = [str(e) for e in report.errors if e.row == 2]
        assert cells and cells[0].startswith(
            f"row 2, column {shown}: the cell holds the control character"
        ), cells
        check_report(report)
