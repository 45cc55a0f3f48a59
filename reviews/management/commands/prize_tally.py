"""Print a round's prize tally: `python manage.py prize_tally --round 1|2 [--scores FILE.csv] [--ranks FILE.csv]
[--rule median|minimum] [--format table|csv|json]`."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contest import tally
from reviews import selectors


class Command(BaseCommand):
    help = (
        "Print the prize tally of round 1 or of the final round (2), as the organizer's tally page proposes it: "
        "from the database (submitted reviews, the organizers' ranks and rule, round 1's confirmed awards as "
        "floors), or from a scores file (submission,round,reviewer,criterion,level; round 1's proposed awards "
        "are then the floors). A bad file gets one 'row R, column C: message' line per problem and exit 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--round", type=int, required=True, choices=tally.ROUNDS, help="1, or 2 (final)")
        parser.add_argument("--scores", type=Path, help="CSV: submission,round,reviewer,criterion,level")
        parser.add_argument("--ranks", type=Path, help="CSV: submission,rank (1 = best)")
        parser.add_argument(
            "--rule", choices=tally.RULES, help="how levels combine (default: the round's rule, or median)"
        )
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")

    def handle(self, *args, round: int, scores, ranks, rule, format: str, **options) -> None:
        rank_of = None
        if ranks is not None:
            rank_of = self._read(ranks, tally.read_ranks).ranks
        if scores is not None:
            candidates = self._read(scores, tally.read_scores).candidates
            if rank_of is not None:
                candidates = tally.with_ranks(candidates, rank_of)
            rule = rule or tally.MEDIAN
            floors = {}
            if round == 2:
                floors = tally.round1_floors(tally.tally(candidates, round=1, rule=rule))
            result = tally.tally(candidates, round=round, rule=rule, round1_awards=floors)
        else:
            rounds = selectors.tally_rounds()
            if len(rounds) < round:
                raise CommandError(f"There is no round {round} yet ({len(rounds)} round(s) in the database).")
            result = selectors.round_tally(round=rounds[round - 1], rule=rule, ranks=rank_of).tally
        if format == "json":
            self.stdout.write(json.dumps(result.as_json(), indent=2))
        elif format == "csv":
            self.stdout.write(tally.as_csv(result), ending="")
        else:
            self.stdout.write(tally.as_table(result))

    def _read(self, path: Path, reader):
        try:
            data = path.read_bytes()
        except OSError as error:
            self.stdout.write(f"file: cannot read {path}: {error.strerror or error}")
            sys.exit(1)
        report = reader(data)
        if not report.ok:
            for line in report.problems:
                self.stdout.write(line)
            sys.exit(1)
        return report
