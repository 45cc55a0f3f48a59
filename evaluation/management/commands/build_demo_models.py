"""Train the demo series of small GPT-2 models offline: ``manage.py build_demo_models [--out DIR]`` (default: the
``MODELS_DIR`` setting, where ``seed_demo`` looks for the series)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from evaluation.engine.demo_models import DEMO_SERIES, build_demo_series


class Command(BaseCommand):
    help = (
        f"Train {len(DEMO_SERIES)} GPT-2-architecture models of growing size on Python's documentation text "
        "(offline, CPU, a minute or two) and save them with their parameter counts in OUT/series.json."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out",
            default=None,
            help="output directory (default: the MODELS_DIR setting, var/models unless set)",
        )
        parser.add_argument("--steps", type=int, default=None, help="training steps per model")
        parser.add_argument("--force", action="store_true", help="rebuild even if OUT/series.json exists")

    def handle(self, *args, **options):
        out = Path(options["out"] or settings.MODELS_DIR)
        series = out / "series.json"
        if series.is_file() and not options["force"]:
            names = [m["name"] for m in json.loads(series.read_text())["models"]]
            self.stdout.write(f"{out}: demo series already built ({', '.join(names)}); --force rebuilds it")
            return
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()  # config notices mean nothing to someone starting the demo
        extra = {"steps": options["steps"]} if options["steps"] else {}
        build_demo_series(out, log=self.stdout.write, **extra)
        self.stdout.write(self.style.SUCCESS(f"demo series written to {series}"))
