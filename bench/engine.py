"""Benchmark: this engine against lm-evaluation-harness and a batch-size-1 loop, same model, same task.

    .venv/bin/python bench/engine.py [--model DIR] [--task CSV --metric classification] [--examples 300]
        [--skip-lm-eval] [--skip-loop | --loop-examples N]

Without --model it builds a randomly initialised GPT-2-architecture model of ~86M parameters (12 layers,
768 wide, the demo tokenizer); without --task, a classification task of ``--examples`` short prompts (300 by
default: 912 prompt+class pairs; 10,000, the most a round evaluates: 30,400 pairs). The batch-size-1 loop is
slow (about 0.1 s a prompt+class pair on 2 CPU cores): ``--loop-examples N`` runs it on the first N examples
only and compares it with the engine's values for those. It prints each time, the ratios, and the largest difference between per-example values.
lm-evaluation-harness (0.4.x) runs its HF backend on the same model directory with a custom task over the same
CSV (``target_delimiter: ""``, so it scores exactly prompt + class).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from evaluation.engine import Example, evaluate_examples  # noqa: E402
from evaluation.engine.demo_models import corpus_text, gpt2_model, train_tokenizer  # noqa: E402
from evaluation.engine.frames import examples_from_frame  # noqa: E402
from evaluation.engine.hf import HFScorer  # noqa: E402
from evaluation.engine.metrics import score_example, scoring_groups  # noqa: E402

SUBJECTS = ["the river", "a small dog", "the old clock", "my neighbour", "the red kite", "this function"]
VERBS = ["returns", "sleeps", "ticks", "waits", "flies", "raises"]


SHAPES = {  # GPT-2's sizes: layers, width, heads
    "small": {"n_layer": 12, "n_embd": 768, "n_head": 12},
    "medium": {"n_layer": 24, "n_embd": 1024, "n_head": 16},
}


def build_model(directory: Path, *, vocab_size: int, shape: str = "small") -> Path:
    """GPT-2's shape (small: 12 layers, 768 wide; medium: 24 layers, 1024 wide; 1024 positions), randomly
    initialised. The output layer has ``vocab_size`` entries (GPT-2's 50257 by default, which is what makes
    full-vocabulary logits costly); the demo tokenizer uses the first 4096 of them."""
    paragraphs = [p for p in corpus_text().split("\n\n") if p.strip()]
    tokenizer = train_tokenizer(paragraphs, vocab_size=4096)
    model = gpt2_model(vocab_size=max(vocab_size, len(tokenizer)), n_positions=1024, **SHAPES[shape])
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    total = sum(p.numel() for p in model.parameters())
    embeddings = model.transformer.wte.weight.numel() + model.transformer.wpe.weight.numel()
    print(
        f"model: random GPT-2, {total / 1e6:.1f}M parameters ({(total - embeddings) / 1e6:.1f}M without "
        f"embeddings), vocabulary {model.config.vocab_size}"
    )
    return directory


def task_rows(examples: int = 300):
    """Short classification prompts; 3 single-token classes each, plus a multi-token fourth for every 25th
    (300 examples: 912 prompt+class pairs). The header first."""
    yield ["prompt", "classes", "answer_index"]
    for i in range(examples):
        subject, verb = SUBJECTS[i % 6], VERBS[(i // 6) % 6]
        prompt = f"Q: In example {i}, {subject} {verb}. Is it true that {subject} {VERBS[i % 6]}?\nA:"
        classes = [" True", " False", " None"]
        if i % 25 == 0:
            classes.append(" It does something else entirely.")
        yield [prompt, repr(classes), i % len(classes)]


def build_task(path: Path, examples: int = 300) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(task_rows(examples))
    return path


def read_examples(path: Path, metric: str) -> list[Example]:
    from submissions.taskfile import read_task_file

    report = read_task_file(path.read_bytes(), metric=metric, min_examples=1)
    if not report.ok:
        sys.exit("\n".join(report.lines()))
    return examples_from_frame(report.examples)


def run_engine(model_dir: Path, examples, metric: str, sha: str, repeat: int, *, device: str, dtype: str):
    scorer = HFScorer.from_directory(model_dir, device=device, dtype=dtype)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = evaluate_examples(examples, metric=metric, scorer=scorer, file_sha256=sha)
        times.append(time.perf_counter() - began)
    return min(times), result.values, scorer


def run_one_at_a_time(scorer: HFScorer, examples, metric: str):
    """The definition with no batching at all: one forward pass per prompt+continuation, full logits."""
    began = time.perf_counter()
    values = []
    with torch.inference_mode():
        for example in examples:
            logps = []
            for group in scoring_groups(example, metric):
                group_logps = []
                for continuation in group.continuations:
                    encoded = scorer.encoder.encode(group.context, continuation)
                    ids = torch.tensor([encoded.ids[:-1]], device=scorer.model.device)
                    logits = scorer.model(input_ids=ids).logits[0]
                    logprobs = torch.log_softmax(logits.float(), dim=-1)
                    group_logps.append(
                        sum(
                            float(logprobs[j - 1, encoded.ids[j]])
                            for j in range(encoded.first_scored, len(encoded.ids))
                        )
                    )
                logps.append(group_logps)
            values.append(score_example(example, metric, logps).value)
    return time.perf_counter() - began, values


LM_EVAL_TASK = """\
task: engine_bench
dataset_path: csv
dataset_kwargs:
  data_files:
    test: {csv}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{prompt}}}}"
doc_to_choice: "{{{{classes}}}}"
doc_to_target: answer_index
target_delimiter: ""
metric_list:
  - metric: acc
"""


def run_lm_eval(model_dir: Path, task_csv: Path, batch_size: str, repeat: int, *, device: str, dtype: str):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    with tempfile.TemporaryDirectory() as include:
        Path(include, "engine_bench.yaml").write_text(LM_EVAL_TASK.format(csv=task_csv))
        model = HFLM(pretrained=str(model_dir), device=device, dtype=dtype, batch_size=batch_size)
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            output = simple_evaluate(
                model=model,
                tasks=["engine_bench"],
                task_manager=TaskManager(include_path=include),
                log_samples=True,
                verbosity="ERROR",
            )
            times.append(time.perf_counter() - began)
    samples = sorted(output["samples"]["engine_bench"], key=lambda s: s["doc_id"])
    values = []
    for sample in samples:
        logps = [float(resp[0][0]) for resp in sample["resps"]]
        answer = int(sample["target"])
        top = max(logps)
        values.append(-(logps[answer] - top - math.log(sum(math.exp(lp - top) for lp in logps))))
    return min(times), values


def largest_difference(a, b) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, help="a Hugging Face model directory (default: build a random 86M GPT-2)"
    )
    parser.add_argument(
        "--task", type=Path, help="a task CSV (default: a built 300-example classification task)"
    )
    parser.add_argument("--metric", default="classification")
    parser.add_argument(
        "--examples", type=int, default=300, help="examples of the built task (default 300; 10000 at most)"
    )
    parser.add_argument("--vocab-size", type=int, default=50257, help="output size of the built model")
    parser.add_argument(
        "--shape", choices=sorted(SHAPES), default="small", help="GPT-2 shape of the built model"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (both the engine and lm-eval)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--lm-eval-batch-size", default="16")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="runs of the engine and of lm-eval; the fastest counts (shared CPUs)",
    )
    parser.add_argument("--skip-lm-eval", action="store_true")
    parser.add_argument("--skip-loop", action="store_true", help="skip the (slow) batch-size-1 loop")
    parser.add_argument(
        "--loop-examples",
        type=int,
        help="run the batch-size-1 loop on the first N examples only (default: all of them)",
    )
    args = parser.parse_args()
    if not 1 <= args.examples <= 10_000:
        parser.error("--examples must be between 1 and 10000 (a round evaluates 10,000 examples at most)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model_dir = args.model or build_model(scratch / "model", vocab_size=args.vocab_size, shape=args.shape)
        task = args.task or build_task(scratch / "task.csv", args.examples)
        if args.task is None and args.metric != "classification":
            sys.exit("the built task is a classification task")
        examples = read_examples(task, args.metric)
        sha = hashlib.sha256(task.read_bytes()).hexdigest()
        pairs = sum(len(g.continuations) for e in examples for g in scoring_groups(e, args.metric))
        print(f"task: {len(examples)} examples, {pairs} prompt+continuation pairs, metric {args.metric}")

        print(
            f"device {args.device}"
            + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else "")
            + f", dtype {args.dtype}"
        )
        engine_s, engine_values, scorer = run_engine(
            model_dir, examples, args.metric, sha, args.repeat, device=args.device, dtype=args.dtype
        )
        print(f"engine (batch size auto):          {engine_s:8.2f} s   (fastest of {args.repeat})")
        if not args.skip_loop:
            looped = examples[: args.loop_examples] if args.loop_examples else examples
            loop_s, loop_values = run_one_at_a_time(scorer, looped, args.metric)
            if len(looped) < len(examples):
                # The loop's cost per example hardly varies (every prompt is as short): scaled to the whole task.
                whole = loop_s * len(examples) / len(looped)
                print(
                    f"batch-size-1 loop, first {len(looped)} examples: {loop_s:8.2f} s   "
                    f"(x{len(examples) / len(looped):.1f} = {whole:.0f} s for all: engine is "
                    f"{whole / engine_s:.1f}x faster)"
                )
            else:
                print(
                    f"batch-size-1 loop:                 {loop_s:8.2f} s   "
                    f"engine is {loop_s / engine_s:.1f}x faster"
                )
            difference = largest_difference(engine_values[: len(looped)], loop_values)
            print(f"  largest |difference| in values:  {difference:.2e}")
        if not args.skip_lm_eval:
            if args.metric != "classification":
                sys.exit("the lm-evaluation-harness comparison covers classification tasks")
            lm_s, lm_values = run_lm_eval(
                model_dir,
                task.resolve(),
                args.lm_eval_batch_size,
                args.repeat,
                device=args.device,
                dtype=args.dtype,
            )
            print(
                f"lm-evaluation-harness (batch {args.lm_eval_batch_size}): {lm_s:8.2f} s   "
                f"engine is {lm_s / engine_s:.1f}x faster"
            )
            print(f"  largest |difference| in values:  {largest_difference(engine_values, lm_values):.2e}")


if __name__ == "__main__":
    main()
