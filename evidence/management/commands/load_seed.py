from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recommendations.seed import SeedError

from ...seed import load_seed


class Command(BaseCommand):
    help = (
        "Load the paper's pillars, measures, risks, scenarios, institutions, sources and "
        "evidence from fixtures/. Changes only what still holds the value the seed last gave "
        "it: people's edits are reported as conflicts and kept. A second run changes nothing. "
        "Never touches status history beyond giving a new measure its first entry."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="Folder of the seed files (default: settings.SEED_DIR).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what the load would do, and the conflicts it would leave, writing nothing.",
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Fail, writing nothing, if any field or link conflicts with people's edits.",
        )

    def handle(self, *args, dir=None, dry_run=False, strict=False, **options):
        seed_dir = dir or settings.SEED_DIR
        verbose = options["verbosity"] >= 1
        try:
            load = load_seed(
                seed_dir,
                progress=lambda name: verbose and self.stdout.write(f"  loaded {name}"),
                dry_run=dry_run,
                strict=strict,
            )
        except SeedError as error:
            raise CommandError(f"Nothing was loaded: {error}") from None
        tally = load.tally
        if verbose:
            for kind, counts in sorted(tally.counts.items(), key=lambda item: str(item[0])):
                removed = f", {counts['removed']} removed" if counts["removed"] else ""
                self.stdout.write(
                    f"  {kind}: {counts['created']} created, {counts['updated']} updated, "
                    f"{counts['unchanged']} unchanged{removed}"
                )
        if load.conflicts:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(load.conflicts)} conflicts: kept as people made them, not loaded "
                    "(the seed's value, then the stored one):"
                )
            )
            for conflict in load.conflicts:
                self.stdout.write(self.style.WARNING(f"  {conflict}"))
        summary = (
            f"{tally.total('created')} created, {tally.total('updated')} updated, "
            f"{tally.total('unchanged')} unchanged, {tally.total('removed')} removed, "
            f"{len(load.conflicts)} conflicts."
        )
        if strict and load.conflicts and not dry_run:
            raise CommandError(f"Nothing was loaded (--strict): {summary}")
        if dry_run:
            self.stdout.write(f"Dry run, nothing written. Loading {seed_dir} would give: {summary}")
        else:
            self.stdout.write(self.style.SUCCESS(f"Seed loaded from {seed_dir}: {summary}"))
