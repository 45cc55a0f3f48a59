import datetime as dt

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team
from contest import rules

ANYWHERE_ON_EARTH = dt.timezone(dt.timedelta(hours=-12), "AoE")


class Metric(models.TextChoices):
    CLASSIFICATION = rules.CLASSIFICATION, "Classification loss (classification)"
    SEQUENCE_PROB = rules.SEQUENCE_PROB, "Completion sequence loss (sequence_prob)"
    LOGODDS = rules.LOGODDS, "Signed difference in log-odds (logodds)"
    ABSOLUTE_LOGODDS = rules.ABSOLUTE_LOGODDS, "Absolute difference in log-odds (absolute_logodds)"


class Round(models.Model):
    """A submission round. Its deadline is a date Anywhere on Earth: it closes at 23:59:59 UTC−12 that day."""

    name = models.CharField(max_length=100)
    opens_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateField(help_text="Last day for submissions, Anywhere on Earth (UTC−12).")
    review_deadline = models.DateField(
        null=True, blank=True, help_text="Last day for reviews, Anywhere on Earth (UTC−12)."
    )
    feedback_date = models.DateField(
        null=True,
        blank=True,
        help_text="When reviewer feedback and results on the private models are returned (the contest page "
        "shows it in the timeline).",
    )
    max_submissions_per_team = models.PositiveIntegerField(
        "submissions per team",
        null=True,
        blank=True,
        help_text="At most this many submissions per team in this round; empty for no limit.",
    )
    min_examples = models.PositiveIntegerField(default=rules.MIN_EXAMPLES)
    subsample_cap = models.PositiveIntegerField(
        default=rules.SUBSAMPLE_CAP,
        help_text="Tasks with more examples are evaluated on a uniform random subsample of this size.",
    )

    class Meta:
        ordering = ["deadline", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def closes_at(self) -> dt.datetime:
        """The last instant that still counts: 23:59:59 of the deadline date at UTC−12."""
        return dt.datetime.combine(self.deadline, dt.time(23, 59, 59), tzinfo=ANYWHERE_ON_EARTH)

    @property
    def reviews_close_at(self) -> dt.datetime | None:
        """The last instant of the review deadline, Anywhere on Earth; None while no review deadline is set."""
        if self.review_deadline is None:
            return None
        return dt.datetime.combine(self.review_deadline, dt.time(23, 59, 59), tzinfo=ANYWHERE_ON_EARTH)

    def has_opened(self, now: dt.datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.opens_at

    def has_closed(self, now: dt.datetime | None = None) -> bool:
        # Whole seconds count: 23:59:59.999 AoE is still on time, 00:00:00 the next day is not.
        return (now or timezone.now()) >= self.closes_at + dt.timedelta(seconds=1)

    def is_open(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.has_opened(now) and not self.has_closed(now)


class Submission(models.Model):
    """A team's task in a round. Its content lives in immutable versions; the newest one is current."""

    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="submissions")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="submissions")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    current_version = models.OneToOneField(
        "SubmissionVersion", on_delete=models.PROTECT, null=True, related_name="+", editable=False
    )
    # A withdrawn submission is kept for the record: its team and organizers still see it, marked withdrawn;
    # reviewers no longer do, and it is neither edited nor evaluated further.
    withdrawn_at = models.DateTimeField(null=True, blank=True, editable=False)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", editable=False
    )
    withdrawal_reason = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.current_version.task_name if self.current_version_id else f"Submission {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("submission_detail", args=[self.pk])

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None


# How the version history names the answers that changed, in the order of the form.
ANSWER_LABELS = {
    "task_name": "task name",
    "authors": "authors",
    "description": "description",
    "importance": "importance",
    "expected_inverse_scaling": "why inverse scaling",
    "data_generation": "data generation",
    "annotator_expertise": "annotator expertise",
    "license": "licence",
    "subcategory_column": "subcategory column",
    "few_shot": "few-shot question",
    "fine_tuning": "fine-tuning question",
    "rlhf": "RLHF question",
    "hide_authors_in_benchmark": "authors in the benchmark",
}


def task_file_name(sha256: str) -> str:
    return f"tasks/{sha256[:2]}/{sha256}.csv"


class SubmissionVersion(models.Model):
    """One upload of a task with the answers given with it. Never changed after it is created."""

    class License(models.TextChoices):
        CC_BY = "CC-BY-4.0", "CC BY 4.0 (recommended)"
        CC_BY_SA = "CC-BY-SA-4.0", "CC BY-SA 4.0"
        CC0 = "CC0-1.0", "CC0 1.0 (public domain)"
        MIT = "MIT", "MIT"
        APACHE = "Apache-2.0", "Apache 2.0"
        OTHER = "other", "Other (explain in the data generation procedure)"

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    task_name = models.CharField(max_length=200)
    authors = models.TextField(help_text="One author per line, with affiliation if you wish.")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    description = models.TextField("Description of the intended task", help_text="What is the task testing?")
    importance = models.TextField(
        "Why is the task important?",
        help_text="How does it matter to the safe and responsible use of language models? "
        "What does inverse scaling on it teach us about model failures?",
    )
    expected_inverse_scaling = models.TextField(
        "Why do you expect to see inverse scaling?",
        help_text="What led you to suspect the task inverse scales?",
    )
    data_generation = models.TextField(
        "Data generation procedure",
        help_text="How did you construct the dataset, and from which resources (templates, vocabulary, code)?",
    )
    annotator_expertise = models.TextField(
        "Expertise required for human annotators to verify the labels",
        help_text="E.g. knowledge of linguistics, fluency in a language.",
    )
    license = models.CharField("licence", max_length=20, choices=License.choices, default=License.CC_BY)
    subcategory_column = models.CharField(
        "Subcategory column (optional)",
        max_length=200,
        blank=True,
        help_text="The name of one more column of your file that says which subcategory, template or phrasing "
        "each example belongs to (e.g. category): the results then show the trend of each subcategory, as the "
        "rubric's Task Coverage asks. At most 50 different values; subcategories of fewer than 30 examples are "
        "shown together as “other”.",
    )
    # The rules' optional questions ("Answering the below, optional questions ... will make your task stand out").
    few_shot = models.TextField(
        "Does inverse scaling persist even if the model is conditioned with few-shot examples to behave "
        "correctly? (optional)",
        blank=True,
        help_text="If providing enough few-shot examples eliminates inverse scaling, how many examples are "
        "required for that?",
    )
    fine_tuning = models.TextField(
        "Does inverse scaling persist even after fine-tuning on the task? (optional)",
        blank=True,
        help_text="Are there good reasons to think it would persist after fine-tuning?",
    )
    rlhf = models.TextField(
        "Does inverse scaling persist for InstructGPT models trained with Reinforcement Learning from Human "
        "Feedback (RLHF)? (optional)",
        blank=True,
        help_text="To test this, you can use the same code as that for GPT-3 evaluation. The organizers may "
        "also evaluate submissions on private RLHF models of various sizes.",
    )

    # The rules: accepted tasks go into a public benchmark whose authors are named; a team may prefer not to be.
    hide_authors_in_benchmark = models.BooleanField(
        "Leave our names out of the published benchmark",
        default=False,
        help_text="Accepted tasks are published as a benchmark with their authors; tick this to publish the "
        "task without them.",
    )

    task_file = models.FileField(max_length=200)
    original_filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.PositiveBigIntegerField()
    example_count = models.PositiveIntegerField()
    validation_warnings = models.JSONField(default=list, blank=True)
    preview = models.JSONField(
        default=list, blank=True, help_text="The first examples, as the validator read them."
    )
    # What changed from the version before, computed once when the version is created: {"first": true}, or
    # any of {"file": true, "metric": [before, after], "answers": [field names]}.
    changes = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["submission", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "number"], name="one_number_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} v{self.number}"

    def changes_described(self) -> list[str]:
        """What changed from the version before, in a few words per change (for the version history)."""
        if self.changes.get("first"):
            return ["first version"]
        described = []
        if self.changes.get("file"):
            described.append(f"new file ({self.example_count:,} examples)")
        if self.changes.get("metric"):
            before, after = self.changes["metric"]
            described.append(f"metric {before} → {after}")
        if self.changes.get("answers"):
            described.append("answers: " + ", ".join(ANSWER_LABELS[f] for f in self.changes["answers"]))
        return described


class KeepRequest(models.Model):
    """An organizer asks a team to choose which of its submissions to a round to keep (at most ``keep_at_most``).
    The team marks them; every other submission of the team in the round is then "not kept": it stays on the
    site, but is out of the round's reviews and decisions."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="keep_requests")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="keep_requests")
    keep_at_most = models.PositiveIntegerField(default=1)
    note = models.TextField(blank=True, help_text="Why the organizers ask, shown to the team.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    kept = models.ManyToManyField(Submission, blank=True, related_name="+")
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    chosen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["round", "team"]
        constraints = [models.UniqueConstraint(fields=["round", "team"], name="one_keep_request_per_team")]

    def __str__(self) -> str:
        return f"{self.team} chooses what to keep in {self.round}"

    @property
    def is_answered(self) -> bool:
        return self.chosen_at is not None
