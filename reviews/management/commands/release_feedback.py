"""manage.py release_feedback --round NAME [--dry-run] [--by USERNAME]: what the Release button does.
With --retry-failed: queue every failed e-mail of the round again, as its Retry button in the log does."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from reviews import feedback
from reviews.models import FeedbackEmail
from submissions.models import Round


class Command(BaseCommand):
    help = "Release a round's feedback: each contestant gets one e-mail per submission, sent once."

    def add_arguments(self, parser):
        parser.add_argument("--round", required=True, help="The round's name, e.g. 'Round 1'.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print who would get what; change nothing."
        )
        parser.add_argument(
            "--by", help="The organizer releasing it (username); needed when there is more than one."
        )
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="Send every e-mail that failed (e.g. while the provider was down) again, each once.",
        )

    def handle(self, *args, **options):
        round = Round.objects.filter(name=options["round"]).first()
        if round is None:
            names = ", ".join(Round.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No round named {options['round']!r} (rounds: {names}).")
        by = self._organizer(options["by"])
        if options["retry_failed"]:
            if options["dry_run"]:
                count = FeedbackEmail.objects.filter(round=round, status=FeedbackEmail.Status.FAILED).count()
                verb = "would queue"
            else:
                count = feedback.retry_failed_feedback(round=round, by=by)
                verb = "queued"
            self.stdout.write(f"{verb} {count} failed e-mail{'' if count == 1 else 's'} again")
            return
        try:
            outcome = feedback.release_feedback(round=round, by=by, dry_run=options["dry_run"])
        except ValidationError as refused:
            raise CommandError(" ".join(refused.messages)) from refused
        for to, task, what in outcome.plan:
            shown = "would send" if options["dry_run"] and what == "send" else what
            self.stdout.write(f"{to}\t{task}\t{shown}")
        verb = "would queue" if options["dry_run"] else "queued"
        self.stdout.write(f"{verb} {outcome.queued}, already handled {outcome.already}")

    def _organizer(self, username: str | None):
        organizers = get_user_model().objects.filter(groups__name=Role.ORGANIZER).order_by("pk")
        if username:
            found = organizers.filter(username=username).first()
            if found is None:
                raise CommandError(f"{username!r} is not an organizer.")
            return found
        found = list(organizers[:2])
        if len(found) != 1:
            raise CommandError("Name the organizer releasing it with --by USERNAME.")
        return found[0]
