"""Validation of contestants' task files (CSV).

Pure Python + pandas, with no Django import: the evaluation engine uses it outside Django too.
Every message speaks to a contestant; rows are numbered as a spreadsheet shows them
(the header is row 1, the first example row 2, counting CSV records rather than physical lines).
"""

import ast
import csv
import io
import json
import operator
import re
import tokenize
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress
from warnings import catch_warnings, simplefilter

import numpy as np
import pandas as pd

from contest.rules import LOGODDS_METRICS, METRICS, MIN_EXAMPLES, SUBSAMPLE_CAP
from contest.text import FORBIDDEN_IN_LINE, describe_forbidden, escape
from contest.text import FORBIDDEN_IN_TEXT as _FORBIDDEN

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "classification": ("prompt", "classes", "answer_index"),
    "sequence_prob": ("prompt", "completion"),
    "logodds": ("prompt", "other_prompt", "classes", "answer_index"),
    "absolute_logodds": ("prompt", "other_prompt", "classes", "answer_index"),
}
_TEXT_COLUMNS = ("prompt", "other_prompt", "completion")
# A subcategory column may name at most this many values: each gets its own small chart on the version page.
MAX_SUBCATEGORIES = 50
# The group of the examples whose subcategory cell is empty.
BLANK_SUBCATEGORY = "(blank)"
# A task needs four columns and a subcategory; a spreadsheet may export a few hundred empty ones. Reading
# costs time per column (a quarter of a millisecond), so a header of more is refused before the file is read.
MAX_COLUMNS = 1000
# How many names or positions a message about the header lists before it counts the rest.
_LISTED = 20
# Written by pandas' DataFrame.to_csv for an unnamed index, or after a re-save of such a file.
_INDEX_HEADERS = ("", "Unnamed: 0")

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_EXPORT_STEPS = (
    'in Excel use File > Save As > "CSV UTF-8 (Comma delimited)"; '
    'in Google Sheets use File > Download > "Comma Separated Values (.csv)"; '
    'in LibreOffice use File > Save As > "Text CSV" with the UTF-8 character set.'
)
_EXPORT_HINT = f"Export it as CSV instead: {_EXPORT_STEPS}"
# charset_normalizer's guesses that name a script Windows-1252 cannot write; for any other guess, bytes
# that Windows-1252 decodes are named as such: it is what Western spreadsheets save in (its obscure
# neighbours, e.g. cp1250 or cp1006, are guessed for short French or German texts).
_OTHER_SCRIPTS = {
    "cp1251": "Windows-1251 (Cyrillic)",
    "koi8_r": "KOI8-R (Cyrillic)",
    "cp1253": "Windows-1253 (Greek)",
    "cp1255": "Windows-1255 (Hebrew)",
    "cp1256": "Windows-1256 (Arabic)",
    "shift_jis": "Shift JIS (Japanese)",
    "cp932": "Shift JIS (Japanese)",
    "euc_jp": "EUC-JP (Japanese)",
    "gb2312": "GB2312 (Chinese)",
    "gbk": "GBK (Chinese)",
    "gb18030": "GB18030 (Chinese)",
    "big5": "Big5 (Chinese)",
    "euc_kr": "EUC-KR (Korean)",
    "cp949": "EUC-KR (Korean)",
}
_WINDOWS_1252 = "Windows-1252 (Latin-1)"
_SIGNATURES = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old-style Excel workbook (.xls) or other Microsoft Office file",
    ),
    (b"%PDF", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"PAR1", "a Parquet file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_ZIP_CONTENTS = (
    ("xl/", "an Excel workbook (.xlsx)"),
    ("word/", "a Word document (.docx)"),
    ("Index/", "an Apple Numbers spreadsheet"),
    ("content.xml", "an OpenDocument file (.ods)"),
)

# Fast path for the usual classes cell, e.g. [' Yes', " No"]: quoted strings without backslashes or
# newlines mean exactly what they contain, so no Python parser is needed. Only the whitespace that
# Python itself accepts between list items is allowed, so anything this accepts, literal_eval would too.
_WS = r"[ \t\r\n]*"
_QUOTED = r"""'[^'\\\r\n]*'|"[^"\\\r\n]*\""""
_SIMPLE_LIST = re.compile(rf"\[{_WS}(?:(?:{_QUOTED}){_WS},{_WS})*(?:{_QUOTED})?{_WS}\]")
_SIMPLE_ITEM = re.compile(r"""'([^'\\\r\n]*)'|"([^"\\\r\n]*)\"""")
# A list of quoted strings with no quote, backslash or control character inside them, on which Python's
# and JSON's readings agree. In a match every quote opens or closes a string, so matches joined with
# commas make a JSON array with one element per match. (Possessive quantifiers: there is nothing to
# backtrack into, and the regex runs over all of a file's distinct cells at once.)
_PLAIN_CLASS = r"""'[^'"\\\x00-\x1f]*+'|"[^'"\\\x00-\x1f]*+\""""
_PLAIN_WS = r"[ \t\r\n]*+"
_PLAIN_LIST = (
    rf"\[{_PLAIN_WS}(?:(?:{_PLAIN_CLASS}){_PLAIN_WS}(?:,{_PLAIN_WS}(?:{_PLAIN_CLASS}){_PLAIN_WS})*+)?\]"
)
# NUL never occurs in a cell (such files are rejected as binary), so it can separate cells.
_PLAIN_LISTS = re.compile(rf"{_PLAIN_LIST}(?:\x00{_PLAIN_LIST})*+")
_ONE_PLAIN_LIST = re.compile(_PLAIN_LIST)
_CLASSES_EXAMPLE = 'e.g. [" Yes", " No"]'
_INTEGER = re.compile(r"[+-]?[0-9]+")
_EOF_IN_QUOTES = re.compile(r"EOF inside string starting at row (\d+)")
_SHOWN_CHARS = 60
# What differs between two messages about the same kind of problem: a quoted cell (greedy, as a cell may
# hold double quotes), a number, a code point.
_VALUES = re.compile(r'".*"|[0-9][0-9A-F]*')

# A cell a spreadsheet would run: "=" and a formula, or "+", "-" or "@" and (after numbers and
# operators) a function call or a DDE command such as cmd|' /C calc'!A0. "-5" and "- a list item" pass.
_FORMULA = re.compile(r"\x00(?:=(?=[^\s=\x00])|[+\-@][0-9\s.,+\-*/^&%()]*+[A-Za-z_][\w.]*+[(|])")
# One pass over the file's bytes tells whether any cell needs a closer look (see _suspicious): control
# characters become NUL (which no text file holds), the lead byte of U+0080 to U+00BF becomes \x01, what
# may end a cell "\n", formula characters "=", and double quotes vanish: "\n=" marks where a formula
# could start a cell.
_SCAN = bytes.maketrans(
    bytes([*range(1, 9), 11, 12, *range(14, 32), 127, 0xC2, *b",\r\n", *b"=+-@"]),
    b"\x00" * 29 + b"\x01" + b"\n" * 3 + b"=" * 4,
)
_C1_BYTES = re.compile(rb"\xc2[\x80-\x9f]")  # U+0080 to U+009F, the C1 control characters
FORMULA_WARNING = "starts like a spreadsheet formula"


@dataclass(frozen=True)
class Problem:
    message: str
    row: int | None = None
    column: str | None = None
    # For the same problem found in several rows: all of them, ascending (`row` is the first), and whether
    # the other rows' messages name other values (another index, another cell). An array of a million
    # rows takes 8 MB, a tuple 44 MB; it takes no part in comparisons.
    rows: Sequence[int] = field(default=(), compare=False)
    varied: bool = False

    def __str__(self) -> str:
        if self.row is None:
            return f"file: {self.message}"
        where = f"row {self.row}" if self.column is None else f"row {self.row}, column {self.column}"
        if len(self.rows) < 2:
            return f"{where}: {self.message}"
        kind = "the same kind of problem" if self.varied else "the same problem"
        values = ", with other values" if self.varied else ""
        return f"{where}: {self.message} — {kind} in {len(self.rows)} rows{values}: {_row_ranges(self.rows)}"


@dataclass
class TaskFileReport:
    errors: list[Problem]
    warnings: list[Problem]
    n_examples: int
    examples: pd.DataFrame | None
    errors_omitted: int = 0
    # Why the column named as the subcategory cannot be one (the form shows these beside its field).
    subcategory_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.subcategory_errors

    def lines(self) -> list[str]:
        lines = [f"warning: {warning}" for warning in self.warnings]
        if self.ok:
            return [*lines, f"OK: {self.n_examples} examples"]
        lines += [str(error) for error in self.errors]
        lines += [f"subcategory: {error}" for error in self.subcategory_errors]
        if self.errors_omitted:
            lines.append(f"... and {self.errors_omitted} more problems")
        return lines


@dataclass
class _Table:
    header: list[str]
    frame: pd.DataFrame  # the data records, all text; column i is the header's column i
    problems: list[Problem]  # from reading the records (too many fields, unclosed quote)
    unreadable: set[int]  # data record indices too malformed to check cell by cell
    _blanks: dict[int, list[int]] = field(default_factory=dict)

    def column(self, position: int) -> pd.Series:
        return self.frame.iloc[:, position]

    def blank(self, position: int) -> list[int]:
        """Positions of the records whose cell in column `position` is empty or only whitespace."""
        if position not in self._blanks:
            self._blanks[position] = _blank_positions(self.column(position))
        return self._blanks[position]


def read_task_file(
    data: bytes,
    *,
    metric: str,
    min_examples: int = MIN_EXAMPLES,
    subsample_cap: int = SUBSAMPLE_CAP,
    max_errors: int = 50,
    filename: str = "",
    subcategory_column: str = "",
) -> TaskFileReport:
    """Check an uploaded task file for `metric`; `filename` only improves the messages.

    With `subcategory_column`, that extra column is read too: each example's subcategory (its cell, stripped;
    an empty cell is the subcategory "(blank)") becomes the examples' column "subcategory".
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    body = _from_utf16(data)
    if isinstance(body, Problem):
        return TaskFileReport(errors=[body], warnings=[], n_examples=0, examples=None)
    utf16 = body is not data
    body = body.removeprefix(_UTF8_BOM)
    unreadable = _not_text(body, filename) or _empty(body) or _too_wide(body)
    if unreadable is not None:
        return TaskFileReport(errors=[unreadable], warnings=[], n_examples=0, examples=None)
    table = _read_table(body)
    if isinstance(table, Problem):
        return TaskFileReport(errors=[table], warnings=[], n_examples=0, examples=None)
    separator = _wrong_separator(table.header, utf16=utf16)
    if separator is not None:
        # Every row then looks broken in the same way: the one diagnosis explains them all.
        return TaskFileReport(errors=[separator], warnings=[], n_examples=0, examples=None)

    errors: list[Problem] = []
    warnings: list[Problem] = []
    positions = _check_header(table.header, metric, errors, warnings, used=subcategory_column)
    subcategory_errors = _check_subcategory_column(table.header, metric, subcategory_column)
    kept = _drop_empty_records(table, positions, warnings)
    n_examples = len(kept)
    if n_examples < min_examples:
        errors.append(Problem(f"{n_examples} examples, but at least {min_examples} are required"))
    if n_examples > subsample_cap:
        warnings.append(
            Problem(
                f"{n_examples} examples; a uniformly random sample of {subsample_cap} of them will be used"
            )
        )
    checkable = [i for i in kept if i not in table.unreadable] if table.unreadable else kept
    values, row_problems = _check_cells(table, positions, checkable, metric, warnings)
    row_problems += table.problems
    controls, formulas = _suspicious(body)
    row_problems += _check_characters(table, checkable, controls=controls)
    _warn_of_formulas(table, checkable, warnings, formulas=formulas)
    # Required columns in the metric's order, then the others in the file's order.
    order = {name: rank for rank, name in enumerate(REQUIRED_COLUMNS[metric])}
    order.update({name: len(order) + rank for rank, name in enumerate(table.header) if name not in order})
    row_problems.sort(key=lambda p: (p.row, -1 if p.column is None else order.get(p.column, len(order))))
    errors += _grouped(row_problems)

    examples = None
    if subcategory_column and not subcategory_errors:
        subcategories = _subcategories(table, table.header.index(subcategory_column), checkable)
        subcategory_errors = _too_many_subcategories(subcategory_column, subcategories)
        values["subcategory"] = subcategories
    if not errors and not subcategory_errors:
        examples = _examples(table, positions, checkable, values, metric)
    return TaskFileReport(
        errors=errors[:max_errors],
        warnings=warnings,
        n_examples=n_examples,
        examples=examples,
        errors_omitted=max(0, len(errors) - max_errors),
        subcategory_errors=subcategory_errors,
    )


# --- Whole-file checks -------------------------------------------------------------------------


def _not_text(body: bytes, filename: str) -> Problem | None:
    """Recognise the binary files contestants upload by mistake, and say how to export a CSV."""
    kind = next((kind for magic, kind in _SIGNATURES if body.startswith(magic)), None)
    if body.startswith(b"PK\x03\x04"):
        kind = _zip_kind(body, filename)
    if kind is None and b"\x00" in body:
        # UTF-16 text is full of NUL bytes too, and deserves the encoding message instead.
        encoding = _guess_encoding(body)
        if encoding is not None and encoding.startswith(("utf_16", "utf_32")):
            return Problem(
                f"the file is {encoding.replace('_', '-').upper()} text, not UTF-8. {_EXPORT_HINT}"
            )
        kind = "binary data, not text"
    if kind is None:
        return None
    name = f'"{filename}"' if filename else "the file"
    return Problem(f"{name} looks like {kind}, not a CSV file. {_EXPORT_HINT}")


def _zip_kind(body: bytes, filename: str) -> str:
    try:
        names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        names = []
    for prefix, kind in _ZIP_CONTENTS:
        if any(name.startswith(prefix) for name in names):
            return kind
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return "an Excel workbook (.xlsx)"
    return "a ZIP archive"


def _decode(body: bytes) -> str | Problem:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        row = _row_at(body[: error.start].decode("utf-8"))
        byte = body[error.start]
        encoding = _guess_encoding(body)
        looks = ""
        if encoding == _WINDOWS_1252:
            looks = f" It looks like {encoding} text, in which this byte is {_quote(bytes([byte]).decode('cp1252'))}."
        elif encoding is not None:
            looks = f" It looks like {encoding} text."
        return Problem(
            f"the file is not saved as UTF-8: the byte 0x{byte:02X} in row {row} "
            f"(byte {error.start + 1} of the file) is not valid UTF-8.{looks} "
            f"Save it again as UTF-8: {_EXPORT_STEPS}"
        )


def _guess_encoding(body: bytes) -> str | None:
    """The likeliest encoding of text that is not UTF-8, as a person would recognise its name."""
    # Imported here: it is only needed for broken files, and its import is not free.
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    guess = None if best is None else best.encoding
    if guess == "utf_8":
        return None
    if guess in _OTHER_SCRIPTS:
        return _OTHER_SCRIPTS[guess]
    if guess is not None and guess.startswith(("utf_16", "utf_32")):
        return guess
    try:
        body.decode("cp1252")
    except UnicodeDecodeError:
        return guess
    return _WINDOWS_1252


def _from_utf16(data: bytes) -> bytes | Problem:
    """UTF-16 text with its byte order mark (Excel's "Unicode Text", Notepad's "Unicode") as UTF-8."""
    if not data.startswith(_UTF16_BOMS) or data.startswith(_UTF32_BOMS):
        return data
    try:
        return data.decode("utf-16").encode("utf-8")
    except UnicodeError as error:
        return Problem(
            f"the file starts like UTF-16 text, but from byte {error.start + 1} of the file on it is not "
            f"valid UTF-16. Save it again as UTF-8: {_EXPORT_STEPS}"
        )


def _row_at(prefix: str) -> int:
    """Spreadsheet row of the record in which the text following `prefix` lies."""
    # The sentinel starts a record when the prefix ends with a line break, as the next byte would.
    return sum(1 for _ in _csv_records(prefix + "x"))


def _empty(body: bytes) -> Problem | None:
    # isspace() stops at the first visible byte, where strip() would copy the whole file.
    return Problem("the file is empty") if not body or body.isspace() else None


def _too_wide(body: bytes) -> Problem | None:
    # The header's first line: a name holding a line break is rare, and only the count above the limit matters.
    end = body.find(b"\n")
    line = body if end < 0 else body[:end]
    if line.count(b",") < MAX_COLUMNS:
        return None
    count = len(next(csv.reader([line.decode("utf-8", "replace")]), []))
    if count <= MAX_COLUMNS:
        return None
    return Problem(
        f"row 1 (the header) has {count:,} columns, but a task file may have at most {MAX_COLUMNS:,}; "
        "keep the columns the metric reads (and a subcategory), and delete the others"
    )


# --- Reading the records -----------------------------------------------------------------------


def _read_table(body: bytes) -> _Table | Problem:
    try:
        frame = _read_csv(body, dtype=None)
        header = [frame[column].iat[0] for column in frame.columns]
        # With the header names inside each column, every column is text, unless its name is a number.
        if not all(isinstance(name, str) for name in header):
            frame = _read_csv(body, dtype=str)
            header = [frame[column].iat[0] for column in frame.columns]
    except pd.errors.EmptyDataError:
        return Problem("row 1 is empty, but it must hold the column names (the header)")
    except UnicodeDecodeError:
        # pandas checks the UTF-8 (at no extra cost), but only Python's decoder says where it breaks.
        return _decode(body)
    except pd.errors.ParserError as error:
        text = _decode(body)
        return text if isinstance(text, Problem) else _read_table_with_csv(text, str(error))
    return _Table(header=header, frame=frame.iloc[1:], problems=[], unreadable=set())


def _read_csv(body: bytes, dtype: type | None) -> pd.DataFrame:
    """All records, the header included, as text: na_filter=False keeps "NA" or "None" as written."""
    # header=None keeps the header names as written (duplicates and blanks included), and makes pandas
    # raise on any record longer than the header instead of taking it for an index column. Inferring
    # the types finds only text here and is much quicker than dtype=str when pyarrow is installed;
    # low_memory=False infers them once for the whole file, not per chunk.
    return pd.read_csv(
        io.BytesIO(body),
        header=None,
        dtype=dtype,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        index_col=False,
        low_memory=False,
        engine="c",
    )


def _read_table_with_csv(text: str, pandas_error: str) -> _Table | Problem:
    """Slow path for malformed files: find each bad record by its spreadsheet row."""
    records = list(_csv_records(text))
    header = records[0]
    if not header:
        return Problem("row 1 is empty, but it must hold the column names (the header)")
    width = len(header)
    problems = []
    unreadable = set()
    for index, record in enumerate(records[1:]):
        if len(record) > width:
            unreadable.add(index)
            problems.append(
                Problem(
                    f"this row has {len(record)} fields but the header has {width} columns; "
                    'a cell containing a comma probably lacks the double quotes (") around it',
                    row=index + 2,
                )
            )
    unclosed = _EOF_IN_QUOTES.search(pandas_error)
    if unclosed is not None:
        row = int(unclosed.group(1)) + 1
        if row == 1:
            return Problem('a double quote (") in the header is never closed, so no row can be read')
        unreadable.add(row - 2)
        # The record's last field is the cell that took in the rest of the file.
        last = len(records[row - 1]) - 1 if row - 1 < len(records) else width
        column = _column_name(last, header[last]) if 0 <= last < width else None
        problems.append(
            Problem(
                f'{"this cell" if column else "a cell here"} starts with a double quote (") that is never closed, '
                "so the rest of the file was read as part of this cell",
                row=row,
                column=column,
            )
        )
    if not problems:
        return Problem(f"the file could not be read as CSV ({pandas_error.strip()})")
    padded = [record[:width] + [""] * (width - len(record)) for record in records[1:]]
    frame = pd.DataFrame(padded, columns=range(width), dtype=str)
    return _Table(header=header, frame=frame, problems=problems, unreadable=unreadable)


def _csv_records(text: str) -> Iterator[list[str]]:
    # A prompt may be far longer than the csv module's default 128 KiB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    return csv.reader(io.StringIO(text, newline=""))


# --- Header ------------------------------------------------------------------------------------


def _check_header(
    header: list[str], metric: str, errors: list[Problem], warnings: list[Problem], *, used: str = ""
) -> dict[str, int]:
    """Report header problems; return the position of each required column that is present. `used` is an
    extra column that is read (the subcategory), so not reported as ignored."""
    required = REQUIRED_COLUMNS[metric]
    named = list(enumerate(header))
    if header[0] in _INDEX_HEADERS:
        named = named[1:]
    positions: dict[str, list[int]] = {}
    for position, name in named:
        positions.setdefault(name, []).append(position)

    for name, found in positions.items():
        # Spreadsheets often export empty columns after the last one: those only get the warning below.
        if len(found) > 1 and name.strip():
            columns = _listed([str(position + 1) for position in found])
            errors.append(
                Problem(
                    f"the column name {_quote(name)} appears {len(found)} times (columns {columns}); "
                    "each column needs a different name",
                    column=name,
                )
            )
    for name in required:
        if name not in positions:
            errors.append(Problem(_missing_column(name, header)))

    extra = [
        _column_label(position, name)
        for position, name in named
        if name not in required and not (used and name == used)
    ]
    if extra:
        warnings.append(Problem(f"these columns are not used and will be ignored: {_listed(extra)}"))
    return {name: positions[name][0] for name in required if name in positions}


def _check_subcategory_column(header: list[str], metric: str, name: str) -> list[str]:
    """Why `name` cannot be the file's subcategory column (empty when it can, or when none is named)."""
    if not name:
        return []
    if name in REQUIRED_COLUMNS[metric]:
        return [
            f"{_quote(name)} is a column the {metric} metric reads; the subcategory must be another column "
            "(e.g. category or template)"
        ]
    named = [column for column in header if column.strip() and column not in _INDEX_HEADERS]
    if name in named:
        return []  # a name appearing twice is the header's error already
    missing = f"the file has no column {_quote(name)}; its columns are {', '.join(map(_quote, named))}"
    if all(column in REQUIRED_COLUMNS[metric] for column in named):
        missing += f", all read by the {metric} metric: add a column that names each example's subcategory"
    return [missing]


def _subcategories(table: _Table, position: int, rows: Sequence[int]) -> np.ndarray:
    """Each row's subcategory: its cell without the surrounding whitespace, "(blank)" for an empty cell."""
    codes, cells = _distinct(table.column(position), rows)
    names = np.empty(len(cells), dtype=object)
    names[:] = [cell.strip() or BLANK_SUBCATEGORY for cell in cells]
    return names[codes]


def _too_many_subcategories(name: str, subcategories: np.ndarray) -> list[str]:
    count = len(set(subcategories.tolist()))
    if count <= MAX_SUBCATEGORIES:
        return []
    return [
        f"column {name} has {count} different values; at most {MAX_SUBCATEGORIES} make readable subcategories"
    ]


def _wrong_separator(header: list[str], *, utf16: bool) -> Problem | None:
    if len(header) != 1:
        return None
    if utf16 and "\t" in header[0]:
        return Problem(
            'the file is tab-separated UTF-16 text, as Excel saves its "Unicode Text" format, '
            f"not a CSV file. {_EXPORT_HINT}"
        )
    for separator, label, why in (
        (";", "semicolons", " (Excel does so where a comma is the decimal separator)"),
        ("\t", "tabs", ""),
        ("|", "vertical bars", ""),
    ):
        if separator in header[0]:
            return Problem(
                f"the columns seem to be separated by {label} rather than commas{why}, so no row could be "
                f"read. {_EXPORT_HINT}"
            )
    return None


def _missing_column(name: str, header: list[str]) -> str:
    near = [found for found in header if _normalise(found) == name]
    if near:
        return (
            f"missing column {_quote(name)} (found {_quote(near[0])}; column names must match exactly, "
            "in lower case and without spaces)"
        )
    return f"missing column {_quote(name)}"


def _listed(items: list[str]) -> str:
    """The first of `items`, comma-separated, and a count of the others: a message stays a line long."""
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _normalise(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _column_label(position: int, name: str) -> str:
    return _quote(name) if name.strip() else f"column {position + 1} (no name)"


def _drop_empty_records(table: _Table, positions: dict[str, int], warnings: list[Problem]) -> Sequence[int]:
    """Indices of the data records to keep; records with nothing in them are skipped with a warning."""
    first_position = 1 if table.header[0] in _INDEX_HEADERS else 0
    if first_position == len(table.header):
        return []
    # Start from the prompt column: it is seldom empty, so usually no other column needs a look.
    empty = table.blank(positions.get("prompt", first_position))
    everything = range(len(table.frame))
    if not empty:
        return everything
    for position in range(first_position, len(table.header)):
        cells = table.column(position).iloc[empty].tolist()
        empty = [i for i, cell in zip(empty, cells, strict=True) if not cell.strip()]
    if not empty:
        return everything
    rows = [i + 2 for i in empty]
    more = f" (so will {len(rows) - 1} more: {_row_list(rows[1:])})" if len(rows) > 1 else ""
    warnings.append(Problem(f"this row is empty and will be skipped{more}", row=rows[0]))
    skipped = set(empty)
    return [i for i in everything if i not in skipped]


def _blank_positions(column: pd.Series) -> list[int]:
    """Positions of the cells that are empty or only whitespace."""
    if getattr(column.dtype, "storage", None) == "pyarrow":
        # Vectorised: turning long texts into Python strings would take longer than reading the file.
        return np.flatnonzero((column.str.len().to_numpy() == 0) | column.str.isspace().to_numpy()).tolist()
    cells = column.tolist()
    if all(map(str.strip, cells)):
        return []
    return [i for i, cell in enumerate(cells) if not cell.strip()]


def _grouped(problems: list[Problem]) -> list[Problem]:
    """One problem per column and kind of message, naming all its rows, in the order of their first rows."""
    groups: dict[tuple[str | None, str, int], list[Problem]] = {}
    kinds: dict[str, str] = {}  # a file repeats its messages: abstract each once
    for problem in problems:
        if problem.message not in kinds:
            kinds[problem.message] = _VALUES.sub("_", problem.message)
        kind = (problem.column, kinds[problem.message])
        # A row with two problems of one kind (two repeated classes) joins two groups: the first of
        # each row's, and the second of each row's.
        key = (*kind, 0)
        while key in groups and groups[key][-1].row == problem.row:
            key = (*kind, key[2] + 1)
        groups.setdefault(key, []).append(problem)
    return [
        found[0]
        if len(found) == 1
        else Problem(
            found[0].message,
            row=found[0].row,
            column=found[0].column,
            # A problem may name its rows already (the same cell in many rows).
            rows=np.sort(np.concatenate([np.asarray(p.rows if len(p.rows) else [p.row]) for p in found])),
            varied=any(p.message != found[0].message for p in found),
        )
        for found in groups.values()
    ]


def _row_ranges(rows: Sequence[int], limit: int = 4) -> str:
    """Sorted row numbers as ranges, e.g. "2–40, 45, 50–737", the first `limit` of them and a count of the rest."""
    ascending = np.asarray(rows, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(ascending) != 1)
    firsts = ascending[np.r_[0, breaks + 1]].tolist()
    lasts = ascending[np.r_[breaks, len(ascending) - 1]].tolist()
    ranges = list(zip(firsts, lasts, strict=True))
    shown = ", ".join(str(first) if first == last else f"{first}–{last}" for first, last in ranges[:limit])
    rest = sum(last - first + 1 for first, last in ranges[limit:])
    return shown + (f" and {rest} more rows" if rest else "")


def _row_list(rows: Sequence[int], limit: int = 5) -> str:
    shown = ", ".join(f"row {row}" for row in rows[:limit])
    return shown + (f" and {len(rows) - limit} others" if len(rows) > limit else "")


# --- Cells -------------------------------------------------------------------------------------
# The checks look at each column's distinct values (a file repeats its class lists and indices many
# times), in bulk where they can, and turn to single rows only to locate the problems they found:
# 10,000 rows must take little longer than reading them.


def _check_cells(
    table: _Table, positions: dict[str, int], rows: Sequence[int], metric: str, warnings: list[Problem]
) -> tuple[dict[str, np.ndarray], list[Problem]]:
    """Check the required columns' cells in `rows`; return the parsed classes and answer_index cells."""
    problems: list[Problem] = []
    for name in _TEXT_COLUMNS:
        if name in positions:
            problems += _check_text(name, table, positions[name], rows)
    values: dict[str, np.ndarray] = {}
    counts = np.zeros(len(rows), dtype=np.int64)  # the number of classes in each row (0: unusable)
    if "classes" in positions:
        codes, cells = _distinct(table.column(positions["classes"]), rows)
        class_lists = _parse_class_lists(cells)
        found = _check_classes(codes, cells, class_lists, rows, metric, warnings)
        problems += found
        usable = [classes or [] for classes in class_lists]
        if (
            not found
        ):  # each row's own list, for the examples (a refused file has none: a million rows, no lists)
            per_row = map(usable.__getitem__, codes.tolist())
            # Rows with the same cell must not share one mutable list: copy, unless every cell is different.
            if len(usable) < len(codes):
                per_row = map(list, per_row)
            values["classes"] = np.fromiter(per_row, dtype=object, count=len(codes))
        counts = np.array(list(map(len, usable)), dtype=np.int64)[codes]
    if "answer_index" in positions:
        codes, cells = _distinct(table.column(positions["answer_index"]), rows)
        answers = list(map(_parse_answer_index, cells))
        # Non-integers, and integers outside 0 to 2**62, become -1: wrong wherever a range is checked.
        numbers = np.array(
            [a if isinstance(a, int) and 0 <= a < 2**62 else -1 for a in answers], dtype=np.int64
        )
        problems += _check_answer_index(codes, answers, numbers, counts, rows)
        values["answer_index"] = numbers[codes]
    return values, problems


def _distinct(column: pd.Series, rows: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """The distinct cells of `column` in `rows`, and for each row the position of its cell among them."""
    # `rows` is sorted and duplicate-free, so equal lengths mean every row.
    codes, cells = pd.factorize(column if len(rows) == len(column) else column.iloc[rows])
    return codes, cells.tolist()


def _check_text(name: str, table: _Table, position: int, rows: Sequence[int]) -> list[Problem]:
    blank = table.blank(position)
    if not blank:
        return []
    checked = set(rows)
    found = [
        (i, bool(cell))
        for i, cell in zip(blank, table.column(position).iloc[blank].tolist(), strict=True)
        if i in checked
    ]
    if not found:
        return []
    # One problem for the empty cells and one for those of only whitespace, each naming all their rows.
    where = np.array([i for i, _ in found], dtype=np.int64) + 2
    kinds = np.array([spaces for _, spaces in found], dtype=np.int64)
    return [
        _in_rows(
            f"the {name.replace('_', ' ')} is {'only whitespace' if spaces else 'empty'}", where[ks], name
        )
        for spaces, ks in _by_code(kinds, np.arange(len(found)))
    ]


def _check_classes(
    codes: np.ndarray,
    cells: list[str],
    class_lists: list[list[str] | None],
    rows: Sequence[int],
    metric: str,
    warnings: list[Problem],
) -> list[Problem]:
    problems = []
    classes = list(chain.from_iterable(filter(None, class_lists)))
    if not _class_lists_certainly_fine(class_lists, classes, metric):
        errors = [
            _class_list_errors(cell, parsed, metric) for cell, parsed in zip(cells, class_lists, strict=True)
        ]
        flagged = np.flatnonzero(np.array(list(map(bool, errors)), dtype=bool)[codes])
        where = np.asarray(rows, dtype=np.int64) + 2
        for code, ks in _by_code(codes, flagged):
            problems += [_in_rows(message, where[ks], "classes") for message in errors[code]]
    # Every (non-empty) class starts with a space iff a space follows each separator (no cell holds a NUL).
    if ("\x00" + "\x00".join(classes)).count("\x00 ") < len(classes) - classes.count(""):
        unspaced = [[c for c in parsed or () if c and not c.startswith(" ")] for parsed in class_lists]
        flagged = _rows_with(codes, list(map(bool, unspaced)))
        first = flagged[0]
        more = f", nor do classes in {len(flagged) - 1} more rows" if len(flagged) > 1 else ""
        warnings.append(
            Problem(
                f"the class {_quote(unspaced[codes[first]][0])} does not start with a space{more}; "
                'class tokens should almost always start with a space, e.g. " Yes" not "Yes"',
                row=rows[first] + 2,
                column="classes",
            )
        )
    return problems


def _by_code(codes: np.ndarray, positions: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Each distinct value of `codes` at `positions`, with those of `positions` where it is, in order."""
    if not len(positions):
        return
    selected = codes[positions]
    order = np.argsort(selected, kind="stable")
    ordered = selected[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]).tolist()
    for start, end in zip(starts, [*starts[1:], len(order)], strict=True):
        yield int(ordered[start]), positions[order[start:end]]


def _in_rows(message: str, where: np.ndarray, column: str) -> Problem:
    """One problem found in the spreadsheet rows `where` (ascending): a file of a million broken rows makes one
    object per kind of problem, not one per row."""
    return Problem(message, row=int(where[0]), column=column, rows=where.copy() if len(where) > 1 else ())


def _rows_with(codes: np.ndarray, flags: list[bool]) -> list[int]:
    """Positions of the rows whose distinct cell is flagged."""
    return np.flatnonzero(np.array(flags, dtype=bool)[codes]).tolist()


def _class_lists_certainly_fine(lists: list[list[str] | None], classes: list[str], metric: str) -> bool:
    """Whether no list has a problem, found with bulk operations over all the lists at once."""
    if not lists:
        return True
    if None in lists or "" in classes or _FORBIDDEN.search("\n".join(classes)):
        return False
    lengths = list(map(len, lists))
    shortest, longest = min(lengths), max(lengths)
    if shortest < 2 or (metric in LOGODDS_METRICS and longest != 2):
        return False
    if longest == 2:  # the usual case, where `classes` holds the pairs one after the other
        return not any(map(operator.eq, classes[0::2], classes[1::2]))
    return lengths == list(map(len, map(set, lists)))


def _class_list_errors(cell: str, classes: list[str] | None, metric: str) -> list[str]:
    if classes is None:
        return [f"{_quote(cell)} is not a list of strings written in Python syntax, {_CLASSES_EXAMPLE}"]
    errors = []
    if len(classes) < 2:
        errors.append(f"there must be at least 2 classes, but there {_is_are(len(classes))}")
    elif metric in LOGODDS_METRICS and len(classes) != 2:
        errors.append(f"{metric} tasks need exactly 2 classes, but there are {len(classes)}")
    if "" in classes:
        errors.append(f'class {classes.index("") + 1} is an empty string ""')
    repeated = sorted({c for c in classes if classes.count(c) > 1}, key=classes.index)
    errors += [f"the class {_quote(c)} appears more than once" for c in repeated if c]
    # Escapes such as "\x00" or "\ud800" reach characters that the file's own bytes cannot hold.
    errors += [f"class {k} {_holds_forbidden(c)}" for k, c in enumerate(classes, 1) if _FORBIDDEN.search(c)]
    return errors


def _parse_class_lists(cells: list[str]) -> list[list[str] | None]:
    """The classes in each cell, or None where the cell is not a list of strings."""
    # The plain cells are parsed in one call: with no quote inside a class, ' and " mean the same, and
    # there is neither an escape nor a control character on which JSON and Python could differ.
    if _PLAIN_LISTS.fullmatch("\x00".join(cells)):
        return json.loads("[" + ",".join(cells).replace("'", '"') + "]")
    plain = list(map(_ONE_PLAIN_LIST.fullmatch, cells))
    parsed = iter(json.loads("[" + ",".join(compress(cells, plain)).replace("'", '"') + "]"))
    return [
        next(parsed) if match else _read_list_of_strings(cell.strip())
        for cell, match in zip(cells, plain, strict=True)
    ]


def _read_list_of_strings(text: str) -> list[str] | None:
    if _SIMPLE_LIST.fullmatch(text):
        return [single or double for single, double in _SIMPLE_ITEM.findall(text)]
    try:
        # A contestant's "\[" is not our code's invalid escape: keep Python's warning about it out of the logs.
        with catch_warnings():
            simplefilter("ignore")
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    # [' Yes' ' No'] (as numpy prints arrays) is valid Python, but means [' Yes No'].
    return None if _joins_adjacent_strings(text) else value


def _joins_adjacent_strings(text: str) -> bool:
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    kinds = [t.type for t in tokens if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)]
    return any(a == b == tokenize.STRING for a, b in zip(kinds, kinds[1:], strict=False))


def _check_answer_index(
    codes: np.ndarray, answers: list[int | str], numbers: np.ndarray, counts: np.ndarray, rows: Sequence[int]
) -> list[Problem]:
    """Check each row's index (`answers`, `numbers` by distinct cell) against its number of classes."""
    is_integer = np.array([isinstance(a, int) for a in answers], dtype=bool)
    indices = numbers[codes]
    wrong = ~is_integer[codes] | ((counts > 0) & ((indices < 0) | (indices >= counts)))
    problems = []
    flagged = np.flatnonzero(wrong)
    if not len(flagged):
        return problems
    # The message depends on the cell and the number of classes: one problem per pair, naming all its rows.
    pairs = codes[flagged].astype(np.int64) * (int(counts.max()) + 1) + counts[flagged]
    where = np.asarray(rows, dtype=np.int64) + 2
    for pair, ks in _by_code(pairs, np.arange(len(flagged))):
        code, count = divmod(pair, int(counts.max()) + 1)
        message = _answer_problem(answers[code], count)
        if message is not None:
            problems.append(_in_rows(message, where[flagged[ks]], "answer_index"))
    return problems


def _answer_problem(answer: int | str, count: int) -> str | None:
    if isinstance(answer, str):
        return answer
    # Without a usable class list (count 0), the classes cell has its own error already.
    if count and not 0 <= answer < count:
        return f"answer_index {answer} is out of range for {count} classes (0 to {count - 1})"
    return None


def _parse_answer_index(cell: str) -> int | str:
    """The index, or a message saying why it is not one."""
    text = cell.strip()
    if not text:
        return "the cell is empty; answer_index must be the position of the correct class, counting from 0"
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        number = 0.5
    if number.is_integer():
        return int(number)
    return (
        f"{_quote(cell)} is not a whole number; answer_index must be the position of the correct class, "
        "counting from 0"
    )


# --- Characters and formulas, in every column -------------------------------------------------
# A file with no control character, and no cell that starts with a formula character, costs one scan of
# its bytes (_suspicious) and nothing more; otherwise each column is scanned with one regex.


def _suspicious(body: bytes) -> tuple[bool, bool]:
    """Whether the file may hold a control character, and a cell that starts like a formula."""
    scan = body.translate(_SCAN, b'"')
    controls = b"\x00" in scan or (b"\x01" in scan and _C1_BYTES.search(body) is not None)
    # A search for one byte is much quicker than for two: most files have no formula character at all.
    return controls, b"=" in scan and b"\n=" in scan


def _check_characters(table: _Table, rows: Sequence[int], *, controls: bool) -> list[Problem]:
    """Refuse the control characters that no page, e-mail or database field can carry, cell by cell."""
    problems = [
        Problem(f"the name of column {position + 1} {_holds_forbidden(name)}", row=1)
        for position, name in enumerate(table.header)
        if _FORBIDDEN.search(name)
    ]
    if not controls:
        return problems
    for position, label in _data_columns(table):
        # "\n" may be in any cell, so it separates them without matching.
        for k, cell in _cells_matching(_FORBIDDEN, table.column(position), rows, "\n"):
            problems.append(Problem(f"the cell {_holds_forbidden(cell)}", row=rows[k] + 2, column=label))
    return problems


def _holds_forbidden(text: str) -> str:
    description = describe_forbidden(text)
    if _FORBIDDEN.search(text).group() >= "\ud800":  # a lone surrogate: the description says what to do
        return description
    return (
        f"{description}; remove it (tabs and line breaks are fine; a line break pasted from a word processor "
        "is often U+000B)"
    )


def _warn_of_formulas(table: _Table, rows: Sequence[int], warnings: list[Problem], *, formulas: bool) -> None:
    """One warning naming the first cells that a spreadsheet would run as formulas (the file is kept as is)."""
    found: list[tuple[int, int, str, str]] = [
        (1, position, str(position + 1), name)
        for position, name in enumerate(table.header)
        if _FORMULA.match("\x00" + name)
    ]
    if formulas:
        for position, label in _data_columns(table):
            # No cell holds a NUL (such files are refused as binary), so it marks where each cell starts.
            found += [
                (rows[k] + 2, position, label, cell)
                for k, cell in _cells_matching(_FORMULA, table.column(position), rows, "\x00")
            ]
    if not found:
        return
    found.sort(key=operator.itemgetter(0, 1))
    row, _, label, cell = found[0]
    others = [f"row {r} ({name})" for r, _, name, _ in found[1:6]]
    more = ""
    if others:
        rest = len(found) - 1 - len(others)
        more = f"; so do {len(found) - 1} more cells: {', '.join(others)}" + (
            f" and {rest} others" if rest else ""
        )
    warnings.append(
        Problem(
            f"{_quote(cell)} {FORMULA_WARNING}, which a spreadsheet opening the file would run{more}. "
            "The file is kept exactly as written; reviewers are warned before they download it",
            row=row,
            column=None if row == 1 else label,
        )
    )


def _data_columns(table: _Table) -> list[tuple[int, str]]:
    """Each column's position and the name messages give it (its number when it has none)."""
    first = 1 if table.header[0] in _INDEX_HEADERS else 0
    return [
        (position, _column_name(position, name))
        for position, name in enumerate(table.header)
        if position >= first
    ]


def _column_name(position: int, name: str) -> str:
    """How a message names a column: by its name, quoted and shortened where it holds a line break or a control
    character or is long (a message stays one printable line), and by its number when it has no name."""
    if not name.strip():
        return str(position + 1)
    if len(name) > _SHOWN_CHARS or FORBIDDEN_IN_LINE.search(name):
        return _quote(name)
    return name


def _cells_matching(
    pattern: re.Pattern, column: pd.Series, rows: Sequence[int], separator: str
) -> list[tuple[int, str]]:
    """(position in `rows`, cell) of each cell in which `pattern` matches, with one regex scan of the column."""
    cells = (column if len(rows) == len(column) else column.iloc[rows]).tolist()
    text = separator + separator.join(cells)
    starts = [m.start() for m in pattern.finditer(text)]
    if not starts:
        return []
    # Cell k starts just after the separator at offsets[k].
    offsets = np.cumsum([0, *(len(cell) + 1 for cell in cells)])[:-1]
    positions = np.unique(np.searchsorted(offsets, starts, side="right") - 1).tolist()
    return [(k, cells[k]) for k in positions]


# --- Output ------------------------------------------------------------------------------------


def _examples(
    table: _Table, positions: dict[str, int], rows: Sequence[int], values: dict[str, np.ndarray], metric: str
) -> pd.DataFrame:
    # Arrays, not Series, so that pandas neither aligns indexes nor infers types from 10,000 objects;
    # text columns are the arrays read from the file.
    everything = len(rows) == len(table.frame)
    columns = {"row": (np.arange(len(rows)) if everything else np.asarray(rows, dtype=np.int64)) + 2}
    for name in REQUIRED_COLUMNS[metric]:
        if name in values:
            columns[name] = values[name]
        else:
            text = table.column(positions[name])
            columns[name] = (text if everything else text.iloc[rows]).array
    if "subcategory" in values:
        columns["subcategory"] = values["subcategory"]
    return pd.DataFrame(columns, copy=False)


def _quote(text: str) -> str:
    """A cell's text for a one-line message: quoted, with line breaks and control characters visible, and
    shortened."""
    shown = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    shown = _FORBIDDEN.sub(lambda found: escape(found.group()), shown)
    if len(shown) > _SHOWN_CHARS:
        shown = shown[: _SHOWN_CHARS - 1] + "…"
    return f'"{shown}"'


def _is_are(count: int) -> str:
    return f"is {count}" if count == 1 else f"are {count}"
