"""``manage.py evaluate_task``: validation, JSON output, results cache."""

import ast
import csv
import io
import json
import math

import pytest
from django.core.management import CommandError, call_command

from evaluation.engine import ENGINE_VERSION
from evaluation.management.commands import evaluate_task

from .conftest import reference_logp

KEYS = [
    "metric",
    "model",
    "n_examples",
    "rows",
    "values",
    "mean",
    "stderr",
    "accuracy",
    "subsample_seed",
    "engine_version",
]
WORDS = ["sun", "rain", "café", "日本", "snow 🎉", "wind"]


def write_csv(path, header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def classification_rows(n=300):
    return [
        [f"Q{i}: is the {WORDS[i % 6]} here?\nA:", repr([" Yes", " No", " Maybe not"][: 2 + i % 2]), i % 2]
        for i in range(n)
    ]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EVAL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate_task", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_classification_writes_the_json_the_contest_expects(tmp_path, gpt2_dir, scorers, cache_dir):
    task = write_csv(tmp_path / "task.csv", ["prompt", "classes", "answer_index"], classification_rows())
    output = tmp_path / "result.json"
    _, err = run(
        task, "--metric", "classification", "--model", gpt2_dir, "--output", output, "--batch-size", "7"
    )
    assert "OK: 300 examples" in err
    result = json.loads(output.read_text())
    assert list(result) == KEYS
    assert result["metric"] == "classification" and result["model"] == str(gpt2_dir)
    assert result["n_examples"] == 300 and result["rows"] == list(range(2, 302))
    assert result["subsample_seed"] is None and result["engine_version"] == ENGINE_VERSION
    assert 0 <= result["accuracy"] <= 1
    # The cache keeps per-example correctness too, for the platform's pages (not part of the contest's JSON).
    (cached,) = [json.loads(p.read_text()) for p in cache_dir.glob("*.json")]
    assert len(cached["correct"]) == 300 and sum(cached["correct"]) / 300 == result["accuracy"]
    # Spot-check one row against the definition.
    prompt, classes, answer = classification_rows()[5]
    logps = [reference_logp(scorers["gpt2"], prompt, c) for c in ast.literal_eval(classes)]
    expected = -(logps[answer] - math.log(sum(math.exp(lp) for lp in logps)))
    assert result["values"][5] == pytest.approx(expected, abs=1e-4)


def test_second_identical_run_comes_from_the_cache(tmp_path, gpt2_dir, cache_dir, monkeypatch):
    task = write_csv(
        tmp_path / "task.csv",
        ["prompt", "completion"],
        [[f"Line {i} ends with", " a word"] for i in range(300)],
    )
    first, _ = run(task, "--metric", "sequence_prob", "--model", gpt2_dir)
    assert len(list(cache_dir.glob("*.json"))) == 1

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(evaluate_task, "load_scorer", no_model)
    second, err = run(task, "--metric", "sequence_prob", "--model", gpt2_dir)
    assert "cache: hit" in err and json.loads(second) == json.loads(first)
    assert json.loads(first)["accuracy"] is None
    with pytest.raises(AssertionError, match="was loaded"):
        run(task, "--metric", "sequence_prob", "--model", gpt2_dir, "--no-cache")


def test_logodds_metrics_through_the_command(tmp_path, llama_dir, cache_dir):
    rows = [
        [f"Is {WORDS[i % 6]} good?", f"Isn't {WORDS[i % 6]} bad?", "[' Yes', ' No']", i % 2]
        for i in range(300)
    ]
    task = write_csv(tmp_path / "task.csv", ["prompt", "other_prompt", "classes", "answer_index"], rows)
    signed = json.loads(run(task, "--metric", "logodds", "--model", llama_dir)[0])
    absolute = json.loads(run(task, "--metric", "absolute_logodds", "--model", llama_dir)[0])
    assert absolute["values"] == pytest.approx([abs(v) for v in signed["values"]], abs=1e-9)
    assert signed["accuracy"] == absolute["accuracy"] is not None


def test_invalid_file_prints_the_validator_messages_and_exits_1(tmp_path, gpt2_dir, cache_dir):
    task = write_csv(tmp_path / "task.csv", ["prompt", "classes", "answer_index"], classification_rows(10))
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "evaluate_task", str(task), "--metric", "classification", "--model", str(gpt2_dir), stderr=err
        )
    assert raised.value.returncode == 1
    assert "10 examples, but at least 300 are required" in err.getvalue()


def test_not_a_model_directory_is_a_clear_error(tmp_path, cache_dir):
    task = write_csv(tmp_path / "task.csv", ["prompt", "classes", "answer_index"], classification_rows())
    with pytest.raises(CommandError, match="not a Hugging Face model directory"):
        run(task, "--metric", "classification", "--model", tmp_path)
    with pytest.raises(CommandError, match="--api-base"):
        run(task, "--metric", "classification", "--model", "openai:tiny")
    with pytest.raises(CommandError, match="batch-size"):
        run(task, "--metric", "classification", "--model", tmp_path, "--batch-size", "0")
