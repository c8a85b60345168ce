"""manage.py import_status_updates FILE [--commit] [--user NAME]: a spreadsheet of status
updates, checked row by row in a dry run (nothing recorded) and, with --commit, recorded, or
proposed for review when --user names someone whose updates go to review (a reporter)."""

import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from tqdm import tqdm

from intake import services
from intake.models import Import, ImportRow
from intake.readers import too_large


class Command(BaseCommand):
    help = (
        "Check a CSV or XLSX file of status updates row by row (a dry run: nothing is "
        "recorded), and with --commit record its valid rows in one transaction, or none if "
        "any is refused; a reporter's rows (--user) are proposed for review instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV or XLSX file.")
        parser.add_argument(
            "--commit",
            action="store_true",
            help="Record (or propose) the rows that the dry run found valid (all or none).",
        )
        parser.add_argument(
            "--user",
            help="Import as this user: an analyst's or a superuser's rows are recorded, a "
            "reporter's proposed for review in its name; by default as no user (recorded), as "
            "the other commands write.",
        )
        parser.add_argument("--lang", choices=("en", "zh"), default="en")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        path = Path(options["file"])
        language = "zh-hans" if options["lang"] == "zh" else "en"
        with translation.override(language):
            user = self.user(options["user"])
            data = self.read(path)
            show = not options["no_progress"] and sys.stderr.isatty()
            with tqdm(
                total=None, unit=" rows", desc="checking", disable=not show, file=sys.stderr
            ) as bar:
                try:
                    imported = services.check_file(
                        data=data,
                        filename=path.name,
                        by=user,
                        channel=Import.Channel.COMMAND,
                        progress=bar.update,
                    )
                except (ValidationError, PermissionDenied) as error:
                    raise CommandError(" ".join(messages(error))) from None
            self.report(imported)
            done = "proposed" if imported.proposes else "recorded"
            if not options["commit"]:
                action = (
                    "Propose the valid rows for review"
                    if imported.proposes
                    else "Record the valid rows"
                )
                self.stdout.write(
                    f"Dry run: nothing {done}. {action} with --commit, or "
                    f"confirm import {imported.pk} in the admin or the API."
                )
                return
            try:
                imported = services.confirm(imported, by=user)
            except (ValidationError, PermissionDenied) as error:
                raise CommandError(
                    f"Nothing {done}; rows refused now:\n" + "\n".join(messages(error))
                ) from None
            self.stdout.write(self.style.SUCCESS(self.confirmed(imported)))

    def user(self, username):
        if not username:
            return None
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"There is no user {username!r}.") from None
        try:
            services.route(user)
        except PermissionDenied as error:
            raise CommandError(str(error)) from None
        return user

    def confirmed(self, imported: Import) -> str:
        if imported.proposes:
            return (
                f"Proposed {imported.to_propose} status updates for review "
                f"({imported.already_proposed} already proposed, {imported.already} already "
                f"recorded, {imported.errors} rows with errors left out); import {imported.pk}."
            )
        return (
            f"Recorded {imported.to_record} status updates "
            f"({imported.already} already recorded, {imported.errors} rows with "
            f"errors left out); import {imported.pk}."
        )

    def read(self, path: Path) -> bytes:
        try:
            size = path.stat().st_size
            if size > settings.IMPORT_MAX_BYTES:
                raise CommandError(" ".join(too_large(size).messages))
            return path.read_bytes()
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror or error}") from None

    def report(self, imported: Import) -> None:
        encoding = f", read as {imported.get_encoding_display()}" if imported.encoding else ""
        counted = (
            f"{imported.to_propose} to propose for review, {imported.already_proposed} already "
            f"proposed, "
            if imported.proposes
            else f"{imported.to_record} to record, "
        )
        self.stdout.write(
            f"{imported.filename} ({imported.get_format_display()}{encoding}): "
            f"{imported.rows} rows: {counted}"
            f"{imported.already} already recorded, {imported.errors} with errors."
        )
        errors = imported.row_results.filter(outcome=ImportRow.Outcome.ERROR).order_by("number")
        for row in errors.iterator(chunk_size=services.BATCH):
            for problem in row.problems:
                self.stdout.write(f"  row {row.number}: {services.described(problem)}")


def messages(error) -> list[str]:
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        return [f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items()]
    if isinstance(error, ValidationError):
        return error.messages
    return [str(error)]
