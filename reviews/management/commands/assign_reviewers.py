"""Assign reviewers to a round: `python manage.py assign_reviewers --round NAME [--per-submission 3] [--dry-run]`."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviews.services import DEFAULT_REVIEWERS_PER_SUBMISSION, AssignmentPlan, assign_reviewers_automatically
from submissions.models import Round


class Command(BaseCommand):
    help = (
        "Give every submission of a round reviewers without a conflict of interest, keeping the existing "
        "assignments and balancing the reviewers' loads. Prints the load per reviewer and every submission "
        "it could not cover, with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--round", required=True, help="the round's name, as on the home page")
        parser.add_argument(
            "--per-submission",
            type=int,
            default=DEFAULT_REVIEWERS_PER_SUBMISSION,
            help=f"reviewers per submission (default: {DEFAULT_REVIEWERS_PER_SUBMISSION})",
        )
        parser.add_argument("--dry-run", action="store_true", help="show the plan and write nothing")
        parser.add_argument(
            "--seed", type=int, default=0, help="breaks ties between equal choices (default: 0)"
        )

    def handle(self, *args, round: str, per_submission: int, dry_run: bool, seed: int, **options) -> None:
        rounds = list(Round.objects.filter(name=round))
        if len(rounds) != 1:
            names = ", ".join(f"“{r.name}”" for r in Round.objects.all()) or "none yet"
            found = "No round is" if not rounds else f"{len(rounds)} rounds are"
            raise CommandError(f"{found} called “{round}”. Rounds: {names}.")
        try:
            plan = assign_reviewers_automatically(
                round=rounds[0], by=None, per_submission=per_submission, dry_run=dry_run, seed=seed
            )
        except ValidationError as refused:
            raise CommandError(" ".join(refused.messages)) from None
        self._report(plan, dry_run=dry_run)

    def _report(self, plan: AssignmentPlan, *, dry_run: bool) -> None:
        out = self.stdout.write
        verb = "Would assign" if dry_run else "Assigned"
        out(f"{plan.round.name}: {plan.submissions} submissions, {plan.per_submission} reviewers for each.")
        out(f"{verb} {len(plan.new)} new reviewer{'s' if len(plan.new) != 1 else ''}.")
        if dry_run:
            out("Dry run: nothing was written.")
        if plan.load:
            out(f"Load per reviewer (assignments in {plan.round.name}{', planned' if dry_run else ''}):")
            width = max(len(r.get_username()) for r in plan.load)
            for reviewer, count in plan.load.items():
                out(f"  {reviewer.get_username():<{width}}  {count}")
        else:
            out("No reviewers: give people the reviewer role first.")
        if plan.uncovered:
            out(f"Could not cover {len(plan.uncovered)} submission{'s' if len(plan.uncovered) != 1 else ''}:")
            for submission, reason in plan.uncovered:
                out(f"  #{submission.pk} {submission}: {reason}")
        else:
            out(f"Every submission has {plan.per_submission} reviewers without a conflict of interest.")
        if plan.conflicted:
            out("Assignments with a conflict of interest (kept and not counted; remove them in the admin):")
            for assignment, reason in plan.conflicted:
                out(f"  #{assignment.submission_id} {assignment.reviewer.get_username()}: {reason}")
