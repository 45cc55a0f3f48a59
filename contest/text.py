"""Which characters the platform accepts in what people type or upload, defined once. Plain Python: the
task-file validator uses it outside Django too."""

import re

# Control characters other than tab and line breaks, and lone surrogates (which a task file's classes can
# reach through \u escapes): no page, e-mail or database field can carry them reliably.
FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A single line (a name, which also becomes an e-mail subject) refuses tabs and line breaks too, Unicode's
# line and paragraph separators included.
FORBIDDEN_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

_NAMED = {"\n": "a line break (\\n)", "\r": "a line break (\\r)", "\t": "a tab (\\t)"}


def escape(character: str) -> str:
    """How Python writes a character in a string literal, e.g. \\x07 or \\ud800."""
    return ascii(character)[1:-1]


def describe_forbidden(text: str, pattern: re.Pattern = FORBIDDEN_IN_TEXT) -> str | None:
    """What the first forbidden character of `text` is and where, e.g. "holds ... at character 3"."""
    found = pattern.search(text)
    if found is None:
        return None
    character, at = found.group(), found.start() + 1
    if character in _NAMED:
        return f"holds {_NAMED[character]} at character {at}"
    if "\ud800" <= character <= "\udfff":
        return (
            f"holds {escape(character)} at character {at}, a lone surrogate (half of a character's UTF-16 "
            "code), which is not valid Unicode; write the character itself rather than \\u escapes of its halves"
        )
    return f"holds the control character U+{ord(character):04X} ({escape(character)}) at character {at}"


def one_line(text: str) -> str:
    """`text` on one line: every run of whitespace or forbidden characters becomes one space."""
    return " ".join(FORBIDDEN_IN_LINE.sub(" ", text).split())
