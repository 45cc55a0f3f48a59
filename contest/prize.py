"""The prize the contest awards: its tiers with their amounts and caps, and the Prize Rubric that reviewers fill
(see ../shared/seeds: "Inverse Scaling Prize information"). Plain Python: the contest page shows these; the
rubric's criteria and levels are in contest/rubric.py."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    key: str
    name: str
    amount_usd: int
    at_most: int  # awarded in the whole contest
    at_most_in_round_1: int
    requirement: str


TIERS = (
    Tier("grand", "Grand Prize", 100_000, 1, 0, "Every criterion at “Grand Prize”."),
    Tier(
        "second",
        "Second Prize",
        20_000,
        5,
        2,
        "Every criterion at least “Accepted Task”, some at “Grand Prize”.",
    ),
    Tier("third", "Third Prize", 5_000, 10, 5, "Every criterion at least “Accepted Task”."),
)
TOTAL_USD = sum(tier.amount_usd * tier.at_most for tier in TIERS)
