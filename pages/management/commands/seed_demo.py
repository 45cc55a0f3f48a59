"""Demo data for the embedded default: accounts for each role, two rounds, real 2022 tasks (CC-BY)."""

import ast
import csv
import datetime as dt
import io
import json
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from accounts.selectors import team_of
from accounts.services import grant_role, join_team, register_contestant, rename_team
from contest import rubric
from evaluation.models import LanguageModel, ModelSeries, Reproduction
from evaluation.services import create_reproduction
from reviews.feedback import is_released, release_feedback
from reviews.models import Assignment, Award, DiscussionPost, Review
from reviews.selectors import round_tally
from reviews.services import ReviewAnswers, assign_reviewer, decide_award, post_to_discussion, save_review
from submissions.models import Round, Submission
from submissions.services import TaskUpload, submit_task

DEMO_PASSWORD = "inverse-scaling"
TASKS_DIR = Path(__file__).resolve().parents[3] / "demo" / "tasks"

DEMO_TASKS = [
    {
        "user": "alice",
        "file": "1-proverb-ending.csv",
        "task_name": "Proverb ending",
        "authors": "Alice Example\nBob Example",
        "metric": "classification",
        "description": "The prompt asks for a famous quote that ends in an unusual word. The model must follow the "
        "instruction instead of completing the memorised proverb.",
        "importance": "Memorised text overriding explicit instructions is a failure that users rarely notice.",
        "expected_inverse_scaling": "Larger models memorise proverbs better, so the pull of the usual ending grows.",
        "data_generation": "Proverbs from public lists; the instruction names a different last word.",
        "annotator_expertise": "Fluent English.",
    },
    {
        "user": "alice",
        "file": "lambada-1k.csv",
        "task_name": "LAMBADA (standard scaling reference)",
        "authors": "Alice Example",
        "metric": "sequence_prob",
        "description": "The last word of a passage from fiction; a reference task that scales normally.",
        "importance": "Shows what standard scaling looks like next to our inverse-scaling task.",
        "expected_inverse_scaling": "We do not: it is a control.",
        "data_generation": "The first 1,000 examples of LAMBADA.",
        "annotator_expertise": "Fluent English.",
    },
    {
        "user": "carol",
        "file": "logic_dataset_full.csv",
        "task_name": "Logic under flattery",
        "authors": "Carol Example",
        "metric": "logodds",
        "description": "Is a syllogism valid? The second prompt first tells the model it never makes reasoning mistakes, "
        "which should not change the answer.",
        "importance": "Prompts that flatter the model are common; answers that change with them mislead users.",
        "expected_inverse_scaling": "Larger models pick up cues in the prompt more readily than they follow logic.",
        "data_generation": "Templates over a vocabulary of statements, checked by hand.",
        "annotator_expertise": "Fluent English.",
    },
]


def _levels(default: str, **levels: str) -> dict[str, str]:
    return dict.fromkeys(rubric.CRITERIA_KEYS, default) | levels


# Round 1's reviews, by task and reviewer: they disagree on the proverbs' coverage (the lower middle level of
# two counts, so the task is not accepted), agree the control task scales normally, and find the flattery task
# of grand importance (a second prize in round 1's tally).
DEMO_REVIEWS = {
    ("Proverb ending", "reviewer1"): ReviewAnswers(
        levels=_levels("accepted", importance="grand", coverage="none"),
        criterion_comments={"coverage": "Every example uses the same template."},
        comment_for_authors="A clear trend on the public series; vary the phrasing to cover the task.",
        confidential_comment="Close to the 2021 memorisation results; check novelty.",
        suggested_tier="third",
    ),
    ("Proverb ending", "reviewer2"): ReviewAnswers(
        levels=_levels("accepted", importance="grand"),
        comment_for_authors="Convincing; the private series agrees.",
        suggested_tier="third",
    ),
    ("LAMBADA (standard scaling reference)", "reviewer1"): ReviewAnswers(
        levels=_levels("none", reproducibility="accepted"),
        criterion_comments={"strength": "Larger models do better: standard scaling, as the authors say."},
        comment_for_authors="A useful control, but it shows no inverse scaling, so it cannot be accepted.",
        suggested_tier="none",
    ),
    ("LAMBADA (standard scaling reference)", "reviewer2"): ReviewAnswers(
        levels=_levels("none", reproducibility="grand"),
        comment_for_authors="Thank you for the reference task; it is not an inverse-scaling task.",
        suggested_tier="none",
    ),
    ("Logic under flattery", "reviewer1"): ReviewAnswers(
        levels=_levels("accepted", importance="grand", novelty="grand"),
        comment_for_authors="Flattery changing a logical judgement matters; the trend holds on every series.",
        confidential_comment="My favourite of the round.",
        suggested_tier="second",
    ),
    ("Logic under flattery", "reviewer2"): ReviewAnswers(
        levels=_levels("accepted", importance="grand"),
        criterion_comments={"coverage": "One template per syllogism form; more forms would help."},
        comment_for_authors="Important and clearly inverse; add syllogism forms for coverage.",
        suggested_tier="second",
    ),
}


class Command(BaseCommand):
    help = "Create the demo accounts, rounds and submissions (safe to run again: nothing is duplicated)."

    @transaction.atomic
    def handle(self, *args, **options):
        today = timezone.now().date()
        round1, _ = Round.objects.get_or_create(
            name="Round 1",
            defaults={
                "opens_at": timezone.now() - dt.timedelta(days=30),
                "deadline": today + dt.timedelta(days=60),
                "feedback_date": today + dt.timedelta(days=75),
            },
        )
        Round.objects.get_or_create(
            name="Round 2",
            defaults={
                "opens_at": timezone.now() + dt.timedelta(days=61),
                "deadline": today + dt.timedelta(days=120),
                "feedback_date": today + dt.timedelta(days=150),
            },
        )

        self._user("organizer", Role.ORGANIZER)
        self._user("reviewer1", Role.REVIEWER)
        self._user("reviewer2", Role.REVIEWER)
        self._user("reviewer3", Role.REVIEWER)
        alice = self._user("alice")
        bob = self._user("bob")
        self._user("carol")
        if team_of(bob) != team_of(alice):
            join_team(user=bob, invite_code=team_of(alice).invite_code)
        if team_of(alice).name.startswith("Team alice"):
            rename_team(user=alice, team=team_of(alice), name="Proverbial")

        self._demo_series()
        for task in DEMO_TASKS:
            self._submit(round1, task)
        organizer = get_user_model().objects.get(username="organizer")
        for submission in Submission.objects.filter(round=round1).select_related("team"):
            for reviewer in get_user_model().objects.filter(username__in=["reviewer1", "reviewer2"]):
                assign_reviewer(submission=submission, reviewer=reviewer, by=organizer)
        self._demo_reviews(round1)
        self._demo_award(round1, organizer)
        self._demo_draft(round1, organizer)
        self._demo_feedback(round1, organizer)
        self._demo_reproduction(round1)

        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for line in (
            "  organizer            organizer (manages rounds, sees every submission)",
            "  reviewer1, reviewer2 reviewers, each assigned the demo submissions (blind), every review",
            "                       submitted; round 1's tally has one award confirmed",
            "  reviewer3            reviewer with one draft review and one not started",
            "  (reviewer1 attached a reproduction of Proverb ending: see Reproducibility on the review page)",
            "  (round 1's feedback is released: its teams read their reviews and the private series)",
            "  alice, bob           contestants in team Proverbial",
            "  carol                contestant in her own team",
        ):
            self.stdout.write(line)

    def _demo_reviews(self, round: Round) -> None:
        """Both reviewers submit their review of every round-1 submission (DEMO_REVIEWS), and reviewer2 starts
        a discussion of the coverage they disagree on. A review already submitted is kept as it is."""
        pending = (
            Assignment.objects.filter(submission__round=round)
            .exclude(review__status=Review.Status.SUBMITTED)
            .select_related("reviewer", "submission__current_version")
            .order_by("submission__pk", "reviewer__username")
        )
        for assignment in pending:
            answers = DEMO_REVIEWS.get(
                (assignment.submission.current_version.task_name, assignment.reviewer.username)
            )
            if answers is not None:
                save_review(assignment=assignment, user=assignment.reviewer, answers=answers, submit=True)
        proverb = Submission.objects.filter(round=round, current_version__task_name="Proverb ending").first()
        if proverb is not None and not DiscussionPost.objects.filter(submission=proverb).exists():
            post_to_discussion(
                submission_id=proverb.pk,
                author=get_user_model().objects.get(username="reviewer2"),
                body="I read coverage more kindly: the proverbs differ a lot. Accepted?",
            )

    def _demo_draft(self, round: Round, organizer) -> None:
        """reviewer3 is assigned two submissions: one review is a draft, the other not started yet."""
        reviewer3 = get_user_model().objects.get(username="reviewer3")
        first, second = Submission.objects.filter(round=round).order_by("pk")[:2]
        drafted = assign_reviewer(submission=first, reviewer=reviewer3, by=organizer)
        assign_reviewer(submission=second, reviewer=reviewer3, by=organizer)
        if not Review.objects.filter(assignment=drafted).exists():
            save_review(
                assignment=drafted,
                user=reviewer3,
                answers=ReviewAnswers(
                    levels={"strength": "accepted", "importance": "grand"},
                    comment_for_authors="Draft: still reading the examples.",
                ),
            )

    def _demo_feedback(self, round: Round, organizer) -> None:
        """The organizer confirms the tally's other proposals and releases round 1's feedback, so the teams read
        their reviews and the private series on their version pages (the e-mails go to the console)."""
        if is_released(round=round):
            return
        tallied = round_tally(round=round)
        for row in tallied.rows:
            if row.award is None:
                decide_award(
                    round=round, submission_id=row.submission.pk, tier=row.line.award, reason="", by=organizer
                )
        release_feedback(round=round, by=organizer)

    def _demo_reproduction(self, round: Round) -> None:
        """reviewer1 attaches a reproduction of "Proverb ending" for its Reproducibility: in this demo, the
        file's second half with the two endings of each proverb swapped (the correct one moves to the other
        place), evaluated by the worker like the original."""
        proverb = Submission.objects.filter(round=round, current_version__task_name="Proverb ending").first()
        if proverb is None or Reproduction.objects.filter(version__submission=proverb).exists():
            return
        with (TASKS_DIR / "1-proverb-ending.csv").open(newline="", encoding="utf-8") as source:
            rows = list(csv.DictReader(source))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["prompt", "classes", "answer_index"])
        writer.writeheader()
        for row in rows[len(rows) // 2 :]:
            classes = ast.literal_eval(row["classes"])
            writer.writerow(
                {
                    "prompt": row["prompt"],
                    "classes": repr(classes[::-1]),
                    "answer_index": len(classes) - 1 - int(row["answer_index"]),
                }
            )
        create_reproduction(
            user=get_user_model().objects.get(username="reviewer1"),
            submission=proverb,
            upload=TaskUpload(name="proverb-ending-remade.csv", data=out.getvalue().encode()),
            note="Demo: the second half of the proverbs, each with its two endings swapped.",
        )

    def _demo_award(self, round: Round, organizer) -> None:
        """The organizer confirms the tally's proposal for one submission, so the tally shows a decision."""
        if Award.objects.filter(round=round).exists():
            return
        logic = Submission.objects.filter(
            round=round, current_version__task_name="Logic under flattery"
        ).first()
        if logic is None:
            return
        line = round_tally(round=round).tally.line_of(logic.pk)
        decide_award(round=round, submission_id=logic.pk, tier=line.award, reason="", by=organizer)

    def _user(self, username: str, role: Role = Role.CONTESTANT, staff: bool = False):
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.org", "is_staff": staff, "is_superuser": staff},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
            if role == Role.CONTESTANT:
                register_contestant(user=user)
            else:
                grant_role(user=user, role=role)
        return user

    def _demo_series(self) -> None:
        """The offline demo models as a public series and, to show the private path, a private one."""
        listing = settings.MODELS_DIR / "series.json"
        if not listing.is_file():
            self.stdout.write(
                f"No demo models in {settings.MODELS_DIR}: run manage.py build_demo_models first."
            )
            return
        models = json.loads(listing.read_text())["models"]
        for name, visibility, description in (
            ("Demo GPT-2", "public", "Small GPT-2 models trained offline on Python's documentation."),
            (
                "Demo GPT-2, held out",
                "private",
                "The same models as a private series, as the prize's held-out ones.",
            ),
        ):
            series, created = ModelSeries.objects.get_or_create(
                name=name, defaults={"visibility": visibility, "description": description}
            )
            if created:
                for order, m in enumerate(models):
                    LanguageModel.objects.create(
                        series=series,
                        name=m["name"],
                        parameter_count=m["n_parameters"],
                        location=m["path"],
                        order=order,
                    )

    def _submit(self, round: Round, task: dict) -> None:
        user = get_user_model().objects.get(username=task["user"])
        if Submission.objects.filter(team=team_of(user), versions__task_name=task["task_name"]).exists():
            return
        answers = {k: v for k, v in task.items() if k not in ("user", "file")} | {"license": "CC-BY-4.0"}
        path = TASKS_DIR / task["file"]
        submit_task(
            user=user, round=round, answers=answers, upload=TaskUpload(name=path.name, data=path.read_bytes())
        )
