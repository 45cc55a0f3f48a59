import copy

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contest import rubric


class Assignment(models.Model):
    """A reviewer asked to review one submission. Reviews are blind: the reviewer never sees who submitted."""

    class Method(models.TextChoices):
        BY_HAND = "by_hand", "By hand"
        AUTOMATIC = "automatic", "Automatic"

    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="assignments"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_assignments"
    )
    # Empty when the assign_reviewers command made it: it runs from a shell, not as a person of the site.
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.BY_HAND)

    class Meta:
        ordering = ["-assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "reviewer"], name="one_assignment_per_reviewer")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} reviews {self.submission}"


def rubric_2022() -> list[dict]:
    return copy.deepcopy(rubric.CRITERIA_2022)


class Rubric(models.Model):
    """One wording of the Prize Rubric. Organizers add a new version to change the wording between rounds; a
    review keeps the version it was started with, so a changed wording never rewrites a judged review."""

    version = models.PositiveIntegerField(unique=True, editable=False)
    criteria = models.JSONField(
        default=rubric_2022,
        help_text="Six criteria (strength, generality, importance, novelty, coverage, reproducibility), each "
        "with a name, a question and a description per level (none, accepted, grand).",
    )
    note = models.CharField(max_length=300, blank=True, help_text="What changed from the version before.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Rubric version {self.version}"


class Tier(models.TextChoices):
    """What a reviewer suggests a submission wins (the rules' prize tiers, and acceptance without a prize)."""

    GRAND = "grand", "Grand prize"
    SECOND = "second", "Second prize"
    THIRD = "third", "Third prize"
    ACCEPTED = "accepted", "Accepted (benchmark and co-authorship, no prize)"
    NONE = "none", "Not accepted"


class Review(models.Model):
    """A reviewer's judgement of one assigned submission against one rubric version, made on one version."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="review")
    # The task version the reviewer judged: the current one when they last saved; fixed once submitted.
    version = models.ForeignKey(
        "submissions.SubmissionVersion", on_delete=models.PROTECT, related_name="reviews"
    )
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT, related_name="reviews")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    levels = models.JSONField(default=dict, blank=True, help_text="Criterion key → none, accepted or grand.")
    criterion_comments = models.JSONField(default=dict, blank=True, help_text="Criterion key → comment.")
    comment_for_authors = models.TextField(blank=True)
    confidential_comment = models.TextField(blank=True, help_text="For organizers only.")
    suggested_tier = models.CharField(max_length=10, choices=Tier.choices, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assignment__submission", "pk"]

    def __str__(self) -> str:
        return f"Review of {self.assignment.submission} by {self.assignment.reviewer}"

    @property
    def is_locked(self) -> bool:
        return self.status == self.Status.SUBMITTED

    def judged(self) -> list[dict]:
        """Per criterion of its rubric: the name, the level given (or None) and its wording, the comment."""
        return [
            {
                "key": c["key"],
                "name": c["name"],
                "level": self.levels.get(c["key"]),
                "level_name": rubric.LEVEL_NAMES.get(self.levels.get(c["key"]), "—"),
                "description": c["levels"].get(self.levels.get(c["key"]), ""),
                "comment": self.criterion_comments.get(c["key"], ""),
            }
            for c in self.rubric.criteria
        ]


class ReviewUnlock(models.Model):
    """An organizer reopened a submitted review, with the reason: the record of every unlock."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="unlocks")
    unlocked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unlocked_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()

    class Meta:
        ordering = ["-unlocked_at"]

    def __str__(self) -> str:
        return f"{self.review} unlocked by {self.unlocked_by}"


class DiscussionPost(models.Model):
    """A message in a submission's discussion: read by its reviewers who have submitted, and by organizers."""

    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="discussion_posts"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author} on {self.submission}"


class SpotCheck(models.Model):
    """One example a reviewer labels without seeing the file's answer, to check the task's labels.

    For classification and log-odds tasks the label is the class the reviewer picks for the prompt; for
    sequence_prob tasks (the completion is the answer) it is 1 when the reviewer finds the completion right, 0
    when not.
    """

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="spot_checks")
    version = models.ForeignKey("submissions.SubmissionVersion", on_delete=models.PROTECT, related_name="+")
    row = models.PositiveIntegerField(help_text="Spreadsheet row of the example (header = row 1).")
    # The example as shown (texts, classes), copied when the sample is drawn so the page need not re-read the file.
    example = models.JSONField(default=dict)
    answer = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The file's answer_index.")
    label = models.PositiveSmallIntegerField(null=True, blank=True)
    labelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assignment", "version", "row"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "version", "row"], name="one_spot_check_per_row")
        ]

    def __str__(self) -> str:
        return f"row {self.row} checked by {self.assignment.reviewer}"

    def _option(self, index: int | None) -> str:
        if index is None:
            return ""
        if self.answer is None:  # sequence_prob: the reviewer judged the completion
            return "the completion is right" if index == 1 else "the completion is wrong"
        classes = self.example.get("classes", [])
        return repr(classes[index]) if index < len(classes) else f"class {index}"

    @property
    def answer_text(self) -> str:
        return self._option(1 if self.answer is None else self.answer)

    @property
    def label_text(self) -> str:
        return self._option(self.label)

    @property
    def agrees(self) -> bool | None:
        """Whether the reviewer's label agrees with the file's answer; None while unlabelled."""
        if self.label is None:
            return None
        return self.label == 1 if self.answer is None else self.label == self.answer


class Conflict(models.Model):
    """A reviewer must not review the submissions of a team, or of any team a contestant is in.

    The reviewer declares it, or an organizer sets it. Conflicts through a shared institutional e-mail domain
    are not stored: they follow from the addresses and the organizers' list of `InstitutionalDomain`s.
    """

    class Source(models.TextChoices):
        DECLARED = "declared", "Declared by the reviewer"
        ORGANIZER = "organizer", "Set by an organizer"

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_conflicts"
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="review_conflicts"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="review_conflicts_as_person",
        help_text="A contestant: the reviewer is conflicted with whichever team they are in.",
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    reason = models.CharField(max_length=300, blank=True, help_text="E.g. co-author, same lab, advisor.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True, person__isnull=False)
                | Q(team__isnull=False, person__isnull=True),
                name="conflict_with_a_team_or_a_person",
            ),
            models.UniqueConstraint(
                fields=["reviewer", "team"], condition=Q(team__isnull=False), name="one_conflict_per_team"
            ),
            models.UniqueConstraint(
                fields=["reviewer", "person"],
                condition=Q(person__isnull=False),
                name="one_conflict_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} conflicts with {self.team or self.person}"


class InstitutionalDomain(models.Model):
    """An e-mail domain of one institution (a university, a lab, a company): a reviewer and a contestant with
    addresses there (or at a subdomain) are conflicted. Public webmail domains are never listed."""

    domain = models.CharField(max_length=253, unique=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class TallyRule(models.TextChoices):
    """How reviewers' levels of one criterion combine into the submission's level (contest/tally.py)."""

    MEDIAN = "median", "Median (the lower middle one when their number is even)"
    MINIMUM = "minimum", "Minimum"


class TallySetting(models.Model):
    """The rule an organizer chose for a round's tally (the median until one is chosen)."""

    round = models.OneToOneField("submissions.Round", on_delete=models.CASCADE, related_name="tally_setting")
    rule = models.CharField(max_length=10, choices=TallyRule.choices, default=TallyRule.MEDIAN)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.round}: {self.rule}"


class OrganizerRank(models.Model):
    """The organizers' ranking of a submission (1 = best): breaks ties within a tier after grand criteria."""

    submission = models.OneToOneField(
        "submissions.Submission", on_delete=models.CASCADE, related_name="organizer_rank"
    )
    rank = models.PositiveIntegerField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(rank__gte=1), name="rank_from_1")]

    def __str__(self) -> str:
        return f"{self.submission}: rank {self.rank}"


class Award(models.Model):
    """The award an organizer confirmed for a submission in a round's tally: the proposal, or an override of it
    with the reason. Round 1's awards are floors in the final tally."""

    submission = models.ForeignKey("submissions.Submission", on_delete=models.CASCADE, related_name="awards")
    round = models.ForeignKey("submissions.Round", on_delete=models.PROTECT, related_name="awards")
    tier = models.CharField(max_length=10, choices=Tier.choices)
    # The proposed award it replaced, when it is an override; empty when the proposal was confirmed.
    overridden_from = models.CharField(max_length=10, choices=Tier.choices, blank=True)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    # When the round's feedback release told the team (the site and the e-mail say the same from then on); empty
    # until a release covers it: an award confirmed after the release waits for *Release again*. Final once set.
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["round", "submission"]
        constraints = [models.UniqueConstraint(fields=["submission", "round"], name="one_award_per_round")]

    def __str__(self) -> str:
        return f"{self.submission}: {self.tier} ({self.round})"


class TallyDecision(models.Model):
    """The audit log of a round's tally: every award confirmed or overridden, rank set and rule chosen."""

    class Action(models.TextChoices):
        CONFIRMED = "confirmed", "Award confirmed"
        OVERRIDDEN = "overridden", "Award overridden"
        RANKED = "ranked", "Rank set"
        RULE = "rule", "Rule chosen"

    round = models.ForeignKey("submissions.Round", on_delete=models.PROTECT, related_name="tally_decisions")
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    what = models.CharField(max_length=300, help_text="What was decided, e.g. “second (proposed: third)”.")
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-decided_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.what}"


class FeedbackTemplate(models.Model):
    """The contest's wording of the feedback e-mail: a subject, a text body and an HTML body in Django's template
    language with placeholders ({{ task_name }}, {{ tier }}, {{ reviews }}, …). Each save adds a row (the latest
    is in force), so earlier wordings stay on record; without any row the files under templates/emails/ apply."""

    subject = models.CharField(max_length=300)
    text = models.TextField()
    html = models.TextField()
    saved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"Feedback e-mail wording of {self.saved_at:%Y-%m-%d %H:%M}"


class FeedbackRelease(models.Model):
    """A round's feedback released: from then on its contestants read their reviews, tier and the private plots
    on the site, and each of them is sent one e-mail per submission."""

    round = models.OneToOneField(
        "submissions.Round", on_delete=models.CASCADE, related_name="feedback_release"
    )
    released_at = models.DateTimeField(default=timezone.now)
    # Empty when the release_feedback command made it without --by.
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Feedback of {self.round} released"


class FeedbackEmail(models.Model):
    """One feedback e-mail to one contestant about one submission of a round: the log of what was sent, and the
    claim that sends it once. ``queued → sending`` is a compare-and-set: whoever sets it sends; a row left in
    ``sending`` (its worker died mid-send) is never sent again by itself, since it may have gone out."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    round = models.ForeignKey("submissions.Round", on_delete=models.CASCADE, related_name="feedback_emails")
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="feedback_emails"
    )
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    to = models.EmailField()
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The Message-ID header, or the provider's id of the message where an anymail backend reports one.
    provider_id = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["submission", "recipient"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "submission", "recipient"], name="one_feedback_email_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"Feedback on {self.submission} to {self.to} ({self.status})"
