"""The results cache: keyed by file, metric, model identity and engine version; damaged entries are misses."""

from evaluation.engine import ResultsCache, cache_key, model_identity

BASE = {"file_sha256": "a" * 64, "metric": "classification", "model_identity": "hf:x", "engine_version": "1"}


def test_every_part_of_the_key_matters():
    key = cache_key(**BASE)
    for field, other in [
        ("file_sha256", "b" * 64),
        ("metric", "logodds"),
        ("model_identity", "hf:y"),
        ("engine_version", "2"),
    ]:
        assert cache_key(**{**BASE, field: other}) != key


def test_entries_round_trip_and_damaged_ones_are_misses(tmp_path):
    cache = ResultsCache(tmp_path / "cache")
    assert cache.get("k") is None
    cache.put("k", {"mean": 1.5})
    assert cache.get("k") == {"mean": 1.5}
    (tmp_path / "cache" / "k.json").write_text("{not json")
    assert cache.get("k") is None


def test_model_identity_follows_the_files_and_the_dtype(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    first = model_identity(str(tmp_path))
    assert model_identity(str(tmp_path)) == first
    assert model_identity(str(tmp_path), dtype="bfloat16") != first
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert model_identity(str(tmp_path)) != first
    assert model_identity("openai:m", api_base="http://a/v1") != model_identity(
        "openai:m", api_base="http://b/v1"
    )


def test_get_or_compute_computes_once_and_treats_incomplete_entries_as_misses(tmp_path):
    from dataclasses import fields

    from evaluation.engine import EvaluationResult

    complete = {f.name: None for f in fields(EvaluationResult)}
    cache = ResultsCache(tmp_path / "cache")
    calls = []

    def compute():
        calls.append(1)
        return complete

    assert cache.get_or_compute("k", compute) == (complete, False)
    assert cache.get_or_compute("k", compute) == (complete, True)
    assert len(calls) == 1
    cache.put("k", {"mean": 1.5})  # written by something else: not a whole result
    assert cache.get_or_compute("k", compute) == (complete, False)
    assert len(calls) == 2
