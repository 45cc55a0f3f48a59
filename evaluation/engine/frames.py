"""The validator's table of examples (a pandas DataFrame) as the engine's examples."""

from __future__ import annotations

from .metrics import Example


def examples_from_frame(frame) -> list[Example]:
    """One Example per row; which columns are present depends on the metric."""
    columns = set(frame.columns)
    return [
        Example(
            row=int(record["row"]),
            prompt=record["prompt"],
            classes=tuple(record["classes"]) if "classes" in columns else (),
            answer_index=int(record["answer_index"]) if "answer_index" in columns else None,
            completion=record["completion"] if "completion" in columns else None,
            other_prompt=record["other_prompt"] if "other_prompt" in columns else None,
        )
        for record in frame.to_dict("records")
    ]
