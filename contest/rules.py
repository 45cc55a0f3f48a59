"""The Inverse Scaling Prize's rules that code enforces, defined once (see ../shared/seeds: "Submission guidelines"
and "Evaluation metrics"). Plain Python: the engine and the task-file validator use them outside Django too."""

CLASSIFICATION = "classification"
SEQUENCE_PROB = "sequence_prob"
LOGODDS = "logodds"
ABSOLUTE_LOGODDS = "absolute_logodds"
METRICS = (CLASSIFICATION, SEQUENCE_PROB, LOGODDS, ABSOLUTE_LOGODDS)
# Metrics whose value is a loss (lower is better); the log-odds metrics compare exactly two classes.
LOSS_METRICS = (CLASSIFICATION, SEQUENCE_PROB)
LOGODDS_METRICS = (LOGODDS, ABSOLUTE_LOGODDS)

# "Tasks must contain at least 300 examples"; "we may uniformly subsample up to 10,000 examples".
MIN_EXAMPLES = 300
SUBSAMPLE_CAP = 10_000
