"""The demo series: GPT-2 models of growing size, trained offline, saved with their parameter counts."""

import io
import json

from django.core.management import call_command

from evaluation.engine.demo_models import (
    DEMO_SERIES,
    DemoSize,
    build_demo_series,
    gpt2_model,
    parameter_count,
)
from evaluation.engine.hf import HFScorer
from evaluation.engine.metrics import ScoringGroup


def test_the_series_spans_at_least_30x_in_parameters():
    counts = [
        parameter_count(
            gpt2_model(vocab_size=4096, n_layer=s.n_layer, n_embd=s.n_embd, n_head=s.n_head, n_positions=512)
        )
        for s in DEMO_SERIES
    ]
    assert len(counts) >= 4 and counts == sorted(counts)
    assert counts[-1] / counts[0] >= 30


def test_build_saves_loadable_models_and_series_json(tmp_path):
    sizes = (DemoSize("a", n_layer=1, n_embd=16, n_head=2), DemoSize("b", n_layer=1, n_embd=32, n_head=2))
    trained = build_demo_series(
        tmp_path, sizes=sizes, steps=2, batch=2, block=16, vocab_size=300, n_positions=64
    )
    series = json.loads((tmp_path / "series.json").read_text())
    assert [m["name"] for m in series["models"]] == ["a", "b"]
    assert [m["n_parameters"] for m in series["models"]] == [t.n_parameters for t in trained]
    assert trained[0].n_parameters < trained[1].n_parameters
    assert (
        json.loads((tmp_path / "b" / "demo_model.json").read_text())["n_parameters"]
        == trained[1].n_parameters
    )
    scorer = HFScorer.from_directory(tmp_path / "b", device="cpu")
    (values,) = scorer.score([ScoringGroup("The function returns", (" None", " a value"))])
    assert all(v < 0 for v in values)


def test_command_does_not_rebuild_an_existing_series(tmp_path):
    (tmp_path / "series.json").write_text(json.dumps({"models": [{"name": "demo-1"}]}))
    out = io.StringIO()
    call_command("build_demo_models", "--out", str(tmp_path), stdout=out)
    assert "already built" in out.getvalue()
