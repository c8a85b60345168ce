from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recommendations.seed import SeedError

from ...seed import load_seed


class Command(BaseCommand):
    help = (
        "Load the paper's pillars, measures, risks, scenarios, institutions, sources and "
        "evidence from fixtures/. Idempotent: a second run changes nothing. Never touches "
        "status history beyond giving a new measure its first entry."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="Folder of the seed files (default: settings.SEED_DIR).",
        )

    def handle(self, *args, dir=None, **options):
        seed_dir = dir or settings.SEED_DIR
        verbose = options["verbosity"] >= 1
        try:
            tally = load_seed(
                seed_dir,
                progress=lambda name: verbose and self.stdout.write(f"  loaded {name}"),
            )
        except SeedError as error:
            raise CommandError(f"Nothing was loaded: {error}") from None
        if verbose:
            for kind, counts in sorted(tally.counts.items(), key=lambda item: str(item[0])):
                self.stdout.write(
                    f"  {kind}: {counts['created']} created, {counts['updated']} updated, "
                    f"{counts['unchanged']} unchanged"
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seed loaded from {seed_dir}: {tally.total('created')} created, "
                f"{tally.total('updated')} updated, {tally.total('unchanged')} unchanged."
            )
        )
