"""Contest-scale data for bench/web.py, made fast with bulk_create (no signals, no Celery, no per-row services).

A contest of two rounds: teams of one contestant with one submission in each round, three model series of five
models (two public, one private) with a succeeded run of every version on every model, reviewers assigned three
per submission (and a fourth, not started, on every tenth) with a draft or submitted review each, and one
organizer. Every version shares one stored 300-example classification file. The versions whose pages the
benchmark fetches get per-example results and their evidence computed and cached as the worker does
(``precompute_evidence``); every other version's evidence entries are copies of a computed one stored under
their own keys, so lists that read the cache (the overview) read entries of the real size.
"""

import datetime as dt
import hashlib
import io
import random
from dataclasses import dataclass

import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Role, Team
from accounts.services import grant_role
from contest import rubric
from evaluation import evidence
from evaluation.models import EvaluationRun, ExampleResult, LanguageModel, ModelSeries
from reviews.models import Assignment, Review, Tier
from reviews.services import current_rubric
from submissions.models import Round, Submission, SubmissionVersion, task_file_name
from submissions.taskfile import read_task_file

PASSWORD = "bench-password"
EXAMPLES = 300
SERIES = (("Open A", "public"), ("Open B", "public"), ("Closed C", "private"))
SIZES = (10_000_000, 30_000_000, 100_000_000, 300_000_000, 1_000_000_000)
REVIEWERS_PER_SUBMISSION = 3
BATCH = 2_000


@dataclass
class BenchData:
    contestant_ids: list[int]  # the measured contestants, each with a version whose evidence is cached
    version_paths: list[str]  # their version pages, in the same order
    reviewer_ids: list[int]
    organizer_id: int
    round_ids: list[int]
    counts: dict[str, int]


def _task_file() -> tuple[bytes, list[dict]]:
    rows = [
        {
            "prompt": f"Question {i}: is {i} even?\nAnswer:",
            "classes": "[' Yes', ' No']",
            "answer_index": i % 2,
        }
        for i in range(EXAMPLES)
    ]
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    data = buffer.getvalue().encode()
    report = read_task_file(data, metric="classification", min_examples=0, filename="bench.csv")
    preview = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
        for record in report.examples.head(5).to_dict("records")
    ]
    return data, preview


def _users(prefix: str, n: int, password: str) -> list:
    user_model = get_user_model()
    return user_model.objects.bulk_create(
        [
            user_model(username=f"{prefix}{i}", email=f"{prefix}{i}@bench.example", password=password)
            for i in range(n)
        ],
        batch_size=BATCH,
    )


def _grant(users: list, role: Role) -> None:
    """The role's group for every user at once (grant_role for the first makes the group and its rights)."""
    grant_role(user=users[0], role=role)
    group = users[0].groups.get(name=role.value)
    through = get_user_model().groups.through
    through.objects.bulk_create(
        [through(user_id=u.pk, group_id=group.pk) for u in users[1:]], batch_size=BATCH
    )


def _values(rng: random.Random, model_index: int) -> list[float]:
    """Per-example losses that grow with the model: an inverse-scaling task."""
    return [max(0.01, rng.gauss(0.6 + 0.05 * model_index, 0.2)) for _ in range(EXAMPLES)]


def generate(
    *, submissions: int = 2_000, reviews: int = 6_000, measured: int = 20, seed: int = 0
) -> BenchData:
    """Fill an empty, migrated database. ``measured`` contestants get their versions' evidence computed."""
    rng = random.Random(seed)
    now = timezone.now()
    n_teams = (submissions + 1) // 2
    password = make_password(PASSWORD)  # hashed once, shared: logging in through the form works too

    with transaction.atomic():
        organizer = _users("organizer", 1, password)[0]
        grant_role(user=organizer, role=Role.ORGANIZER)
        n_reviewers = max(REVIEWERS_PER_SUBMISSION + 1, reviews // 40)
        reviewers = _users("reviewer", n_reviewers, password)
        _grant(reviewers, Role.REVIEWER)
        contestants = _users("contestant", n_teams, password)
        _grant(contestants, Role.CONTESTANT)
        teams = Team.objects.bulk_create(
            [Team(name=f"Team {i}", invite_code=f"bench{i}") for i in range(n_teams)]
        )
        Membership.objects.bulk_create(
            [Membership(user=u, team=t) for u, t in zip(contestants, teams, strict=True)], batch_size=BATCH
        )

        rounds = [
            Round.objects.create(
                name="Round 1",
                opens_at=now - dt.timedelta(days=30),
                deadline=now.date() + dt.timedelta(days=30),
            ),
            Round.objects.create(
                name="Round 2",
                opens_at=now - dt.timedelta(days=20),
                deadline=now.date() + dt.timedelta(days=90),
            ),
        ]
        models = []
        for order, (name, visibility) in enumerate(SERIES):
            series = ModelSeries.objects.create(name=name, visibility=visibility, order=order)
            models += [
                LanguageModel.objects.create(
                    series=series, name=f"{name} {i}", parameter_count=size, location=f"/bench/{i}", order=i
                )
                for i, size in enumerate(SIZES)
            ]

        data, preview = _task_file()
        sha256 = hashlib.sha256(data).hexdigest()
        name = task_file_name(sha256)
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))

        owners = [(contestants[i // 2], teams[i // 2], rounds[i % 2]) for i in range(submissions)]
        made = Submission.objects.bulk_create(
            [Submission(round=r, team=t, created_by=u, created_at=now) for u, t, r in owners],
            batch_size=BATCH,
        )
        versions = SubmissionVersion.objects.bulk_create(
            [
                SubmissionVersion(
                    submission=s,
                    number=1,
                    created_by=u,
                    task_name=f"Bench task {s.pk}",
                    authors=f"Author of {s.pk}",
                    metric="classification",
                    description="A generated task. " * 20,
                    importance="It matters. " * 20,
                    expected_inverse_scaling="Larger models overthink. " * 20,
                    data_generation="A loop. " * 20,
                    annotator_expertise="Arithmetic.",
                    task_file=name,
                    original_filename="bench.csv",
                    sha256=sha256,
                    size_bytes=len(data),
                    example_count=EXAMPLES,
                    preview=preview,
                    changes={"first": True},
                )
                for s, (u, _, _) in zip(made, owners, strict=True)
            ],
            batch_size=BATCH,
        )
        for s, v in zip(made, versions, strict=True):
            s.current_version = v
        Submission.objects.bulk_update(made, ["current_version"], batch_size=BATCH)

        # The measured contestants: the first of round 1's teams, whose versions get per-example results.
        measured_versions = [v for v, (_, _, r) in zip(versions, owners, strict=True) if r == rounds[0]][
            :measured
        ]
        values = {(v.pk, m.pk): _values(rng, m.order) for v in measured_versions for m in models}
        runs = EvaluationRun.objects.bulk_create(
            [
                EvaluationRun(
                    version=v,
                    model=m,
                    status=EvaluationRun.Status.SUCCEEDED,
                    attempts=1,
                    worker="bench",
                    started_at=now,
                    heartbeat_at=now,
                    finished_at=now,
                    progress_done=EXAMPLES,
                    progress_total=EXAMPLES,
                    n_examples=EXAMPLES,
                    **_summary(values.get((v.pk, m.pk)) or _values(rng, m.order)[:30]),
                    engine_version="bench",
                )
                for v in versions
                for m in models
            ],
            batch_size=BATCH,
        )

        the_rubric = current_rubric()
        assignments, review_rows = [], []
        for i, s in enumerate(made):
            for k in range(REVIEWERS_PER_SUBMISSION + (i % 10 == 0)):  # a fourth, not started, on every tenth
                assignment = Assignment(
                    submission=s, reviewer=reviewers[(i * 7 + k) % n_reviewers], assigned_at=now
                )
                assignments.append(assignment)
                if k < REVIEWERS_PER_SUBMISSION and len(review_rows) < reviews:
                    submitted = rng.random() < 0.8
                    review_rows.append(
                        Review(
                            assignment=assignment,
                            version=s.current_version,
                            rubric=the_rubric,
                            status=Review.Status.SUBMITTED if submitted else Review.Status.DRAFT,
                            levels={key: rng.choice(rubric.LEVELS) for key in rubric.CRITERIA_KEYS},
                            criterion_comments={key: "A comment." for key in rubric.CRITERIA_KEYS},
                            comment_for_authors="Thank you.",
                            suggested_tier=rng.choice(Tier.values),
                            submitted_at=now if submitted else None,
                        )
                    )
        Assignment.objects.bulk_create(assignments, batch_size=BATCH)
        Review.objects.bulk_create(review_rows, batch_size=BATCH)

        ExampleResult.objects.bulk_create(
            (
                ExampleResult(
                    run=run, row=row, value=value, correct=value < 0.69, class_logprobs=[[-value, -0.7]]
                )
                for run in runs
                if (run.version_id, run.model_id) in values
                for row, value in enumerate(values[run.version_id, run.model_id], start=2)
            ),
            batch_size=BATCH * 5,
        )

    # As the worker does when a run succeeds: the evidence of each measured version, computed and cached.
    for version in measured_versions:
        evidence.precompute_evidence(version_id=version.pk)
    _copy_evidence(
        template=measured_versions[0], versions=[v for v in versions if v not in measured_versions]
    )

    return BenchData(
        contestant_ids=[v.created_by_id for v in measured_versions],
        version_paths=[f"/submissions/{v.submission_id}/v{v.number}/" for v in measured_versions],
        reviewer_ids=[r.pk for r in reviewers],
        organizer_id=organizer.pk,
        round_ids=[r.pk for r in rounds],
        counts={
            "submissions": len(made),
            "runs": len(runs),
            "example results": ExampleResult.objects.count(),
            "assignments": len(assignments),
            "reviews": len(review_rows),
        },
    )


def _summary(values: list[float]) -> dict:
    """A run's stored summary of its per-example values, as the worker writes it."""
    n = len(values)
    mean = sum(values) / n
    return {
        "mean": mean,
        "stderr": (sum((v - mean) ** 2 for v in values) / n) ** 0.5 / n**0.5,
        "accuracy": sum(v < 0.69 for v in values) / n,
    }


def _copy_evidence(*, template, versions: list) -> None:
    """Store, under each version's own keys, a copy of the template's cached entries per series."""
    from evaluation import selectors

    def keyed(version) -> dict[int, str]:
        by_series = {
            e.series.pk: e for e in evidence._by_series(version, list(selectors.runs_of(version=version)))
        }
        return {pk: evidence._series_key(version, e) for pk, e in by_series.items()}

    template = SubmissionVersion.objects.select_related("submission__round").get(pk=template.pk)
    entries = {
        pk: (cache.get(key), cache.get(evidence._trend_key(key))) for pk, key in keyed(template).items()
    }
    by_version: dict[int, list] = {}
    # The runs as the overview reads them, so the keys are those its pages look up.
    for run in selectors.listed_runs_of_versions(version_ids=[v.pk for v in versions]):
        by_version.setdefault(run.version_id, []).append(run)
    batch: dict[str, dict] = {}
    for version in SubmissionVersion.objects.filter(pk__in=by_version).select_related("submission__round"):
        for e in evidence._by_series(version, by_version[version.pk]):
            key = evidence._series_key(version, e)
            batch[key], batch[evidence._trend_key(key)] = entries[e.series.pk]
        if len(batch) >= 300:
            cache.set_many(batch, evidence.CACHE_SECONDS)
            batch = {}
    if batch:
        cache.set_many(batch, evidence.CACHE_SECONDS)
