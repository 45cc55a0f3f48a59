"""Evaluate one task file with one model: ``manage.py evaluate_task PATH --metric M --model MODEL``."""

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contest.rules import SUBSAMPLE_CAP
from evaluation.engine import (
    METRICS,
    ContextTooShortError,
    ResultsCache,
    evaluate_task_examples,
    load_scorer,
    model_identity,
)
from evaluation.engine.frames import examples_from_frame
from evaluation.engine.openai_backend import EndpointError
from submissions.taskfile import read_task_file

# The contest's JSON; cached results hold more (per-example correctness and log-probabilities) for the platform's pages.
OUTPUT_KEYS = (
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
)


def cache_directory() -> Path:
    default = (
        getattr(settings, "EVAL_CACHE_DIR", None) or Path(settings.BASE_DIR) / "var" / "cache" / "evaluations"
    )
    return Path(os.environ.get("EVAL_CACHE_DIR", default))


def batch_size_argument(text: str):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"--batch-size must be 'auto' or a whole number of at least 1, not {text!r}")
    return value


class Command(BaseCommand):
    help = (
        "Evaluate a task file (CSV) with a causal language model and write the per-example values as JSON. "
        "MODEL is a local Hugging Face directory, or openai:NAME with --api-base for an OpenAI-compatible "
        "completions endpoint (OPENAI_API_KEY from the environment)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the task file (CSV)")
        parser.add_argument("--metric", required=True, choices=METRICS)
        parser.add_argument("--model", required=True, help="a Hugging Face model directory, or openai:NAME")
        parser.add_argument("--output", help="write the JSON here instead of to standard output")
        parser.add_argument(
            "--batch-size", default="auto", help="'auto' (default) or prompts per forward pass"
        )
        parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
        parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
        parser.add_argument("--api-base", help="the endpoint's base URL, e.g. http://localhost:8000/v1")
        parser.add_argument("--concurrency", type=int, default=8, help="parallel requests to an endpoint")
        parser.add_argument(
            "--no-cache", action="store_true", help="neither read nor write the results cache"
        )

    def handle(self, *args, **options):
        path = Path(options["path"])
        metric, model = options["metric"], options["model"]
        try:
            batch_size = batch_size_argument(options["batch_size"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        if model.startswith("openai:") and not options["api_base"]:
            raise CommandError(
                "an openai:NAME model needs --api-base URL (the endpoint, e.g. http://host:8000/v1)"
            )
        if not model.startswith("openai:") and not (Path(model) / "config.json").is_file():
            raise CommandError(f"{model} is not a Hugging Face model directory (no config.json in it)")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None

        report = read_task_file(data, metric=metric, filename=path.name)
        for line in report.lines():
            self.stderr.write(line)
        if not report.ok:
            raise CommandError(f"{path} is not a valid {metric} task file", returncode=1)

        result, hit = self._evaluate(
            examples_from_frame(report.examples),
            metric=metric,
            file_sha256=hashlib.sha256(data).hexdigest(),
            batch_size=batch_size,
            options=options,
        )
        if hit:
            self.stderr.write("results cache: hit")
        result = {**{key: result[key] for key in OUTPUT_KEYS}, "model": model}
        # One key per line, each list on one line: readable, and short even for 10,000 values.
        text = "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in result.items()) + "\n}\n"
        if options["output"]:
            try:
                Path(options["output"]).write_text(text)
            except OSError as error:
                raise CommandError(f"cannot write {options['output']}: {error.strerror}") from None
        else:
            self.stdout.write(text, ending="")

    def _evaluate(self, examples, *, metric, file_sha256, batch_size, options) -> tuple[dict, bool]:
        """The platform's pipeline (evaluation.engine.pipeline), with a progress bar on a terminal."""
        import openai
        from tqdm import tqdm

        model = options["model"]

        def load():
            if not model.startswith("openai:"):
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # ours is the one that counts
            try:
                return load_scorer(
                    model,
                    device=options["device"],
                    dtype=options["dtype"],
                    batch_size=batch_size,
                    api_base=options["api_base"],
                    concurrency=options["concurrency"],
                )
            except (OSError, ValueError) as error:
                raise CommandError(f"cannot load the model {model}: {error}") from None

        with contextlib.ExitStack() as stack:
            bars = []

            def start(total: int) -> None:
                bars.append(
                    stack.enter_context(
                        tqdm(total=total, unit="prompt", disable=not sys.stderr.isatty(), file=sys.stderr)
                    )
                )

            try:
                return evaluate_task_examples(
                    examples,
                    metric=metric,
                    file_sha256=file_sha256,
                    model=model,
                    model_identity=model_identity(
                        model, dtype=options["dtype"], api_base=options["api_base"]
                    ),
                    load_scorer=load,
                    cache=None if options["no_cache"] else ResultsCache(cache_directory()),
                    cap=SUBSAMPLE_CAP,
                    on_start=start,
                    progress=lambda done: bars[0].update(done),
                )
            except (ContextTooShortError, EndpointError) as error:
                raise CommandError(str(error)) from None
            except openai.APIError as error:
                # Wrong key, unknown model, unreachable server: the endpoint's own words are the clearest.
                raise CommandError(f"the endpoint {options['api_base']} failed: {error}") from None
