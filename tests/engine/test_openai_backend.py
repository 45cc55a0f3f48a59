"""The OpenAI-compatible backend, against a local server backed by the tiny models: same numbers as HF."""

import json

import pytest

from evaluation.engine.metrics import ScoringGroup
from evaluation.engine.openai_backend import EndpointError, OpenAIScorer, continuation_logprob

from .openai_server import CompletionsServer

GROUPS = [
    ScoringGroup("Answer:", (" Yes", " No", " Y")),  # the merging tokenizer joins ":" and " Y"
    ScoringGroup("The café is naïve 😀", (" 日本", "🎉 and more", " a")),
    ScoringGroup("Q: what is it?\nA:", (" A", " B")),
    ScoringGroup("one two three four", (" five six seven",)),
]


@pytest.mark.parametrize("name", ["gpt2", "llama", "merge"])
def test_echo_gives_the_same_numbers_as_the_hugging_face_backend(scorers, name):
    hf = scorers[name]
    hf.batch_size = "auto"
    with CompletionsServer(hf.model, hf.tokenizer) as server:
        endpoint = OpenAIScorer("tiny", api_base=server.url, concurrency=3, prompts_per_request=4)
        progress = []
        values = endpoint.score(GROUPS, progress=progress.append)
    assert endpoint.mode == "echo" and sum(progress) == len(GROUPS)
    expected = hf.score(GROUPS)
    flat = [v for vs in values for v in vs]
    assert flat == pytest.approx([v for vs in expected for v in vs], abs=1e-4)


def test_without_echo_single_token_classes_are_read_from_top_logprobs(scorers):
    hf = scorers["gpt2"]
    with CompletionsServer(hf.model, hf.tokenizer, echo=False) as server:
        tokenizer = hf.tokenizer
        context = "The answer is"
        # Two tokens the model ranks highest after the context, so they are surely in the top 5.
        probe = OpenAIScorer("tiny", api_base=server.url, top_logprobs=2)
        top = probe.client.completions.create(model="tiny", prompt=context, max_tokens=1, logprobs=2)
        classes = tuple(top.choices[0].logprobs.top_logprobs[0])
        assert all(len(tokenizer(c, add_special_tokens=False)["input_ids"]) == 1 for c in classes)
        endpoint = OpenAIScorer("tiny", api_base=server.url, top_logprobs=5)
        values = endpoint.score([ScoringGroup(context, classes)])
        assert endpoint.mode == "top_logprobs"
        assert values[0] == pytest.approx(hf.score([ScoringGroup(context, classes)])[0], abs=1e-4)
        with pytest.raises(EndpointError, match="row 9: .*not among its top 5"):
            endpoint.score([ScoringGroup(context, (" a very unlikely multi token class",), row=9)])


def test_rate_limits_are_retried_with_backoff(scorers):
    hf = scorers["gpt2"]
    with CompletionsServer(hf.model, hf.tokenizer, rate_limited_requests=3) as server:
        endpoint = OpenAIScorer(
            "tiny", api_base=server.url, concurrency=1, max_retries=5, backoff_seconds=0.01
        )
        values = endpoint.score(GROUPS[:2])
        assert server.requests >= 4
    assert [v for vs in values for v in vs] == pytest.approx(
        [v for vs in hf.score(GROUPS[:2]) for v in vs], abs=1e-4
    )


def test_gives_up_with_a_clear_error_after_the_retries(scorers):
    hf = scorers["gpt2"]
    with CompletionsServer(hf.model, hf.tokenizer, rate_limited_requests=100) as server:
        endpoint = OpenAIScorer("tiny", api_base=server.url, max_retries=1, backoff_seconds=0.01)
        endpoint.mode = "echo"
        with pytest.raises(EndpointError, match="kept failing after 2 tries"):
            endpoint.score(GROUPS[:1])


def test_token_split_in_one_character_ends_where_the_character_ends():
    # "a😀" + "b": the emoji is two byte tokens sharing offset 1; boundary after the emoji (2 characters).
    assert continuation_logprob([0, 1, 1, 2], [None, -1.0, -2.0, -4.0], boundary=2, length=3) == -4.0
    # Boundary before the emoji: both of its tokens are continuation.
    assert continuation_logprob([0, 1, 1, 2], [None, -1.0, -2.0, -4.0], boundary=1, length=3) == -7.0
    # A generated token after the text is ignored.
    assert continuation_logprob([0, 1, 3], [None, -1.0, -9.0], boundary=1, length=3) == -1.0


def test_evaluate_task_with_an_endpoint_matches_the_local_model(tmp_path, gpt2_dir, scorers, monkeypatch):
    from .test_evaluate_task_command import classification_rows, run, write_csv

    monkeypatch.setenv("EVAL_CACHE_DIR", str(tmp_path / "cache"))
    task = write_csv(tmp_path / "task.csv", ["prompt", "classes", "answer_index"], classification_rows())
    local = json.loads(run(task, "--metric", "classification", "--model", gpt2_dir)[0])
    hf = scorers["gpt2"]
    with CompletionsServer(hf.model, hf.tokenizer) as server:
        remote = json.loads(
            run(task, "--metric", "classification", "--model", "openai:tiny", "--api-base", server.url)[0]
        )
    assert remote["model"] == "openai:tiny" and remote["rows"] == local["rows"]
    assert remote["values"] == pytest.approx(local["values"], abs=1e-4)
    assert remote["accuracy"] == local["accuracy"]
