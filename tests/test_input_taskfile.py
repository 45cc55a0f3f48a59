"""The task-file validator against hostile cells: characters no page can show, and spreadsheet formulas."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from submissions.taskfile import FORMULA_WARNING
from tests.test_taskfile import YES_NO, classification, csv_text, errors, validate


def _lines_are_printable(lines: list[str]) -> None:
    for line in lines:
        line.encode("utf-8")  # no lone surrogate in a message
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in line), line


# --- Characters no page, e-mail or database field can carry ------------------------------------


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        (r"[' Yes', ' \ud800']", r"class 2 holds \ud800 at character 2, a lone surrogate"),
        (r"[' Yes', '\udfff No']", r"class 2 holds \udfff at character 1, a lone surrogate"),
        (r"[' Yes', ' \x00']", r"class 2 holds the control character U+0000 (\x00) at character 2"),
        (r"[' \0', ' No']", r"class 1 holds the control character U+0000 (\x00) at character 2"),
        (r"[' Yes', ' N\x1bo']", r"class 2 holds the control character U+001B (\x1b) at character 3"),
        (r"[' Yes', ' N\x85o']", r"class 2 holds the control character U+0085 (\x85) at character 3"),
    ],
)
def test_classes_escaping_to_invalid_unicode_or_control_characters_are_refused(cell, shown):
    # The case: the six characters \ud800 inside the Python literal, on a row after the preview.
    rows = [["Fine?", YES_NO, "0"]] * 7 + [["Broken?", cell, "0"]]
    problems = errors(classification(*rows))
    assert len(problems) == 1
    assert problems[0].startswith(f"row 9, column classes: {shown}"), problems
    _lines_are_printable(problems)


@pytest.mark.parametrize(
    "character", ["\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]
)
@pytest.mark.parametrize("column", ["prompt", "other_prompt", "classes", "answer_index", "notes"])
def test_control_characters_in_any_cell_are_refused_with_row_and_column(character, column):
    header = ["prompt", "other_prompt", "classes", "answer_index", "notes"]
    good = ["Q?", "Other?", YES_NO, "0", "a note"]
    bad = {"prompt": f"A{character}B?", "other_prompt": f"{character}x", "notes": f"n{character}"}
    bad |= {"classes": f"[' Yes', ' No']{character}", "answer_index": f"1{character}"}
    row = [bad[name] if name == column else value for name, value in zip(header, good, strict=True)]
    report = validate(csv_text(header, [good, good, row]), "logodds")
    found = [str(e) for e in report.errors if e.row == 4 and e.column == column]
    assert any(f"the cell holds the control character U+{ord(character):04X}" in e for e in found), [
        str(e) for e in report.errors
    ]
    _lines_are_printable(report.lines())


def test_tabs_and_line_breaks_are_allowed():
    report = validate(classification(["Line 1\nLine 2\r\n\tindented\rend", "[' Yes',\n\t' No']", "0"]))
    assert report.ok, report.lines()


def test_a_control_character_in_a_column_name_is_refused_on_row_1():
    text = "prompt,classes,answer_index,no\x07te\nQ?,\"[' Yes', ' No']\",0,x\n"
    assert "row 1: the name of column 4 holds the control character U+0007" in " ".join(errors(text))


def test_the_cell_quoted_in_a_message_shows_control_characters_as_escapes():
    problems = errors(classification(["Q?", YES_NO, "1\x07"]))
    assert any(r'"1\x07" is not a whole number' in p for p in problems), problems
    _lines_are_printable(problems)


FORBIDDEN = st.sampled_from([chr(c) for c in [*range(1, 9), 11, 12, *range(14, 32), *range(0x7F, 0xA0)]])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 6),
    st.sampled_from(["prompt", "completion"]),
    st.integers(0, 10),
    FORBIDDEN,
)
def test_a_forbidden_character_anywhere_is_the_one_error_at_its_row_and_column(n, column, at, character):
    rows = [[f"Prompt number {i} here", f" completion {i}"] for i in range(n)]
    target = n // 2
    index = ["prompt", "completion"].index(column)
    text = rows[target][index]
    rows[target][index] = text[:at] + character + text[at:]
    report = validate(csv_text(["prompt", "completion"], rows), "sequence_prob")
    assert [(e.row, e.column) for e in report.errors] == [(target + 2, column)]
    assert f"at character {min(at, len(text)) + 1};" in str(report.errors[0])


# --- Spreadsheet formulas: a warning, never a refusal --------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "=SUM(A1:A3)",
        '=HYPERLINK("http://example.org","click")',
        "+cmd|' /C calc'!A0",
        "@SUM(1)",
        "-2+3+cmd|' /C calc'!A0",
        "=1+1",
    ],
)
def test_a_cell_a_spreadsheet_would_run_gives_a_warning_with_row_and_column(cell):
    report = validate(classification(["Fine?", YES_NO, "0"], [cell, YES_NO, "1"]))
    assert report.ok
    [warning] = report.warnings
    assert report.lines()[0].startswith("warning: row 3, column prompt: "), report.lines()
    assert FORMULA_WARNING in str(warning)
    assert report.examples["prompt"].tolist() == ["Fine?", cell]  # kept exactly as written


@pytest.mark.parametrize(
    "cell", [" Yes", "-5", "- a list item", "+1 (555) 123-4567", "@alice said hi", "==== Part 2 ====", "= 3"]
)
def test_ordinary_text_that_starts_with_an_operator_is_not_flagged(cell):
    report = validate(classification([cell, YES_NO, "0"], ["Q?", YES_NO, "1"]))
    assert report.ok and report.warnings == [], report.lines()


def test_a_formula_in_a_quoted_cell_or_an_unused_column_is_flagged_too():
    text = "prompt,classes,answer_index,notes\n\"=SUM(1,2)\",\"[' Yes', ' No']\",0,x\nQ?,\"[' A', ' B']\",1,@SUM(1)\n"
    warning = [str(w) for w in validate(text).warnings if FORMULA_WARNING in str(w)]
    assert warning == [
        f'row 2, column prompt: "=SUM(1,2)" {FORMULA_WARNING}, which a spreadsheet opening the file would run; '
        "so do 1 more cells: row 3 (notes). The file is kept exactly as written; reviewers are warned before "
        "they download it"
    ]


def test_many_formulas_give_one_warning_naming_the_first_cells_and_counting_the_rest():
    rows = [[f"=A{i}+1", YES_NO, "0"] for i in range(2000)]
    report = validate(classification(*rows))
    formula_warnings = [str(w) for w in report.warnings if FORMULA_WARNING in str(w)]
    assert len(formula_warnings) == 1
    assert formula_warnings[0].startswith('row 2, column prompt: "=A0+1"')
    assert (
        "so do 1999 more cells: row 3 (prompt), row 4 (prompt), row 5 (prompt), row 6 (prompt), "
        in (formula_warnings[0])
    )
    assert "row 7 (prompt) and 1994 others." in formula_warnings[0]
