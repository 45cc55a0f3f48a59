"""manage.py release_feedback --round NAME [--dry-run] [--by USERNAME]: what the Release button does."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from reviews import feedback
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

    def handle(self, *args, **options):
        round = Round.objects.filter(name=options["round"]).first()
        if round is None:
            names = ", ".join(Round.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No round named {options['round']!r} (rounds: {names}).")
        by = self._organizer(options["by"])
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
