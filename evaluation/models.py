from django.conf import settings
from django.db import models
from django.utils import timezone


class ModelSeries(models.Model):
    """Language models of growing size from one family, evaluated together and plotted as one curve."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public: contestants see results at once"
        PRIVATE = "private", "Private: hidden from contestants until released for a round"

    class Backend(models.TextChoices):
        HUGGING_FACE = "hf", "Hugging Face causal LM (GPU workers)"
        OPENAI = "openai", "OpenAI-compatible endpoint"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    backend = models.CharField(max_length=10, choices=Backend.choices, default=Backend.HUGGING_FACE)
    is_active = models.BooleanField(
        "active", default=True, help_text="New task versions are evaluated on it."
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "model series"

    def __str__(self) -> str:
        return self.name

    @property
    def is_private(self) -> bool:
        return self.visibility == self.Visibility.PRIVATE

    @property
    def queue(self) -> str:
        """The Celery queue whose workers may run this series' models."""
        return queue_name(backend=self.backend, visibility=self.visibility)


def queue_name(*, backend: str, visibility: str) -> str:
    if backend == ModelSeries.Backend.OPENAI:
        return "api"
    return "gpu-private" if visibility == ModelSeries.Visibility.PRIVATE else "gpu"


class LanguageModel(models.Model):
    series = models.ForeignKey(ModelSeries, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=100)
    parameter_count = models.PositiveBigIntegerField(help_text="Number of parameters, for the x axis.")
    location = models.CharField(
        max_length=500,
        help_text="Hugging Face: a local directory or object-storage URI of save_pretrained files. "
        "OpenAI-compatible: the model name the endpoint serves.",
    )
    api_base = models.URLField("API base URL", blank=True, help_text="OpenAI-compatible endpoints only.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["series", "order", "parameter_count"]
        constraints = [models.UniqueConstraint(fields=["series", "name"], name="one_name_per_series")]

    def __str__(self) -> str:
        return f"{self.series.name} / {self.name}"


class Reproduction(models.Model):
    """A task file re-created from a version's description by someone other than its authors (the rubric's
    Reproducibility question), evaluated on the models the version was evaluated on and compared with it.

    Organizers and the submission's assigned reviewers see it; its team never does. It carries what the
    evaluation reads of a version's file (``task_file``, ``original_filename``, ``sha256``, ``preview``, and
    ``metric``, ``subcategory_column``, ``task_name``, ``submission`` below), so the runs, the charts and the
    trends are computed by the same code as a version's."""

    version = models.ForeignKey(
        "submissions.SubmissionVersion", on_delete=models.PROTECT, related_name="reproductions"
    )
    number = models.PositiveIntegerField(help_text="1, 2, … within the version: “Reproduction 1”.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True, help_text="How the file was made from the description.")
    task_file = models.FileField(max_length=200)
    original_filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    example_count = models.PositiveIntegerField()
    preview = models.JSONField(default=list, blank=True, help_text="The first examples, as validated.")

    class Meta:
        ordering = ["version", "number"]
        constraints = [
            models.UniqueConstraint(fields=["version", "number"], name="one_reproduction_number_per_version")
        ]

    def __str__(self) -> str:
        return f"reproduction {self.number} of {self.version}"

    @property
    def label(self) -> str:
        """How every page names it: never after who made it (reviewers are blind to each other)."""
        return f"Reproduction {self.number}"

    @property
    def metric(self) -> str:
        return self.version.metric  # validated and evaluated with the metric of the version it reproduces

    @property
    def subcategory_column(self) -> str:
        return ""

    @property
    def task_name(self) -> str:
        return f"{self.version.task_name} ({self.label.lower()})"

    @property
    def submission(self):
        return self.version.submission


class EvaluationRun(models.Model):
    """One task version (or one reproduction of a version) evaluated on one model. Claimed by exactly one worker
    at a time (compare-and-set).

    A reproduction's runs have no ``version``: whatever reads a version's runs never finds them."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    version = models.ForeignKey(
        "submissions.SubmissionVersion", on_delete=models.PROTECT, related_name="runs", null=True, blank=True
    )
    reproduction = models.ForeignKey(
        Reproduction, on_delete=models.PROTECT, related_name="runs", null=True, blank=True
    )
    model = models.ForeignKey(LanguageModel, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    # When the run's task was last sent to the broker: the sweeper sends a run still queued long after again.
    sent_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    # What went wrong inside, for organizers only (contestants see failure_reason).
    failure_exception = models.CharField(max_length=200, blank=True)
    failure_message = models.TextField(blank=True)
    failure_traceback = models.TextField(blank=True)

    n_examples = models.PositiveIntegerField(null=True, blank=True)
    mean = models.FloatField(null=True, blank=True)
    stderr = models.FloatField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    subsample_seed = models.BigIntegerField(null=True, blank=True)
    engine_version = models.CharField(max_length=40, blank=True)
    # How many evaluated examples have classes of different token counts on the model's tokenizer (the rules
    # ask for equal lengths); null when unknown: a backend without a tokenizer, or a result cached before.
    unequal_class_tokens = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["model__series__order", "model__order", "model__parameter_count"]
        constraints = [
            models.UniqueConstraint(fields=["version", "model"], name="one_run_per_version_and_model"),
            models.UniqueConstraint(
                fields=["reproduction", "model"], name="one_run_per_reproduction_and_model"
            ),
            models.CheckConstraint(
                condition=models.Q(version__isnull=False, reproduction__isnull=True)
                | models.Q(version__isnull=True, reproduction__isnull=False),
                name="run_of_a_version_or_a_reproduction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluated} on {self.model}"

    @property
    def evaluated(self):
        """The version, or the reproduction, whose file this run evaluates."""
        return self.version if self.version_id else self.reproduction

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


# The runs, of a version or of a reproduction, whose submission is not withdrawn (those a worker may start).
OF_SUBMISSIONS_NOT_WITHDRAWN = models.Q(version__submission__withdrawn_at__isnull=True) & models.Q(
    reproduction__version__submission__withdrawn_at__isnull=True
)


class ExampleResult(models.Model):
    """The value of one example of a run, with what the model gave each class."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="examples")
    row = models.PositiveIntegerField(help_text="Spreadsheet row of the example (header = row 1).")
    value = models.FloatField()
    correct = models.BooleanField(null=True)
    class_logprobs = models.JSONField(default=list)

    class Meta:
        ordering = ["run", "row"]
        constraints = [models.UniqueConstraint(fields=["run", "row"], name="one_result_per_row")]

    def __str__(self) -> str:
        return f"row {self.row} of {self.run}"


class SeriesRelease(models.Model):
    """A private series' results made visible to the contestants of one round."""

    series = models.ForeignKey(ModelSeries, on_delete=models.CASCADE, related_name="releases")
    round = models.ForeignKey("submissions.Round", on_delete=models.CASCADE, related_name="series_releases")
    released_at = models.DateTimeField(default=timezone.now)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "round"], name="one_release_per_round")]

    def __str__(self) -> str:
        return f"{self.series} released for {self.round}"


class ExampleText(models.Model):
    """The texts of one example of a version's file, copied into the database the first time someone drills
    down into the version's examples: searching, sorting and paging then stay in SQL (a few queries per page,
    however many examples) instead of reading and parsing the whole file on every request."""

    version = models.ForeignKey(
        "submissions.SubmissionVersion", on_delete=models.CASCADE, related_name="example_texts"
    )
    row = models.PositiveIntegerField(help_text="Spreadsheet row of the example (header = row 1).")
    prompt = models.TextField()
    other_prompt = models.TextField(blank=True)
    completion = models.TextField(blank=True)
    classes = models.JSONField(default=list)
    answer_index = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["version", "row"]
        constraints = [models.UniqueConstraint(fields=["version", "row"], name="one_text_per_version_row")]

    def __str__(self) -> str:
        return f"row {self.row} of {self.version}"


class ResultsEmail(models.Model):
    """The e-mail that tells a team the public results of a version are in, sent once per version: the worker
    whose compare-and-set fills ``claimed_at`` sends it; every other finds it claimed."""

    version = models.OneToOneField(
        "submissions.SubmissionVersion", on_delete=models.CASCADE, related_name="results_email"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    with_charts = models.BooleanField(
        null=True, help_text="Whether the e-mail carried the charts (images need a Chromium on the worker)."
    )

    def __str__(self) -> str:
        return f"results e-mail of {self.version}"
