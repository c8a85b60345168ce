import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError
from tqdm import tqdm

from recommendations import synthetic


class Command(BaseCommand):
    help = (
        "Generate deterministic synthetic measures and status history for performance work "
        "(pillars 1001+, codes SYN-…, keys syn-…), or remove them with --delete. Never touches "
        "the paper's seed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--size",
            choices=sorted(synthetic.SIZES),
            help="Preset: S = 1,000 measures / 50,000 updates, M = 20,000 / 2,000,000 "
            "(default S; --measures and --updates override it).",
        )
        parser.add_argument("--measures", type=int, help="Number of measures.")
        parser.add_argument("--updates", type=int, help="Number of status updates in all.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=synthetic.DEFAULT_TODAY,
            help=f"Latest effective date, YYYY-MM-DD (default {synthetic.DEFAULT_TODAY}).",
        )
        parser.add_argument(
            "--replace", action="store_true", help="Delete existing synthetic data first."
        )
        parser.add_argument("--delete", action="store_true", help="Only delete the synthetic data.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        if options["delete"]:
            try:
                counts = synthetic.delete_synthetic()
            except IntegrityError as error:
                raise CommandError(f"Nothing was deleted: {error}") from None
            self.stdout.write(f"Deleted synthetic data: {counts.summary()}.")
            return
        try:
            measures, updates = synthetic.sizes(
                size=options["size"], measures=options["measures"], updates=options["updates"]
            )
        except ValueError as error:
            raise CommandError(str(error)) from None

        stream = options.get("stderr") or sys.stderr
        quiet = options["no_progress"] or not stream.isatty()
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int) -> None:
            # One bar per stage (generating, then inserting), each counting status updates.
            if stage not in bars:
                for bar in bars.values():
                    bar.close()
                bars[stage] = tqdm(
                    total=updates, desc=stage, unit=" updates", file=stream, disable=quiet
                )
            bars[stage].update(done)

        try:
            counts = synthetic.generate_synthetic(
                measures=measures,
                updates=updates,
                seed=options["seed"],
                today=options["today"],
                replace=options["replace"],
                progress=progress,
            )
        except synthetic.SyntheticDataExists as error:
            raise CommandError(str(error)) from None
        except IntegrityError as error:
            raise CommandError(f"Nothing was generated: {error}") from None
        finally:
            for bar in bars.values():
                bar.close()
        self.stdout.write(
            f"Generated synthetic data (seed {options['seed']}, today {options['today']}): "
            f"{counts.summary()}."
        )
