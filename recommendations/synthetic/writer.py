"""Writing rows set-based: COPY on PostgreSQL, batched executemany on SQLite."""

from collections.abc import Callable, Iterable, Iterator
from datetime import date

from django.db import connection
from django.db.models import Model

from evidence.models import EvidenceRevision, StatusUpdateEvidence

from ..models import StatusUpdate
from .histories import CONFIDENCES, EPOCH, NO_PROGRESS, NOTES, STATUSES, Packed


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


class Writer:
    """Inserts rows set-based: COPY on PostgreSQL, batched executemany on SQLite."""

    BATCH = 10_000

    def __init__(self, *, postgres: bool) -> None:
        self.postgres = postgres
        self.written: dict[type[Model], int] = {}
        # Dates and timestamps as the database's text, cached: formatting is the hot path.
        self.zone = "+00" if postgres else ""  # SQLite holds naive UTC, as Django writes it
        self.dates: dict[int, str] = {}
        self.clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]

    def date(self, day: int) -> str:
        text = self.dates.get(day)
        if text is None:
            text = self.dates[day] = date.fromordinal(day + EPOCH).isoformat()
        return text

    def timestamp(self, second: int) -> str:
        """The UTC timestamp `second` seconds after 1970-01-01 00:00 UTC, as text."""
        day, rest = divmod(second, 86400)
        return f"{self.date(day)} {self.clock[rest]}{self.zone}"

    def rows(self, model: type[Model], names: tuple[str, ...], rows: Iterable[tuple]) -> int:
        """Insert `rows` (values in the order of the field `names`, foreign keys as ids)."""
        quote = connection.ops.quote_name
        columns = ", ".join(quote(model._meta.get_field(name).column) for name in names)
        count = self._insert(f"{table(model)} ({columns})", len(names), rows)
        self.written[model] = self.written.get(model, 0) + count
        return count

    def _insert(self, target: str, width: int, rows: Iterable[tuple]) -> int:
        count = 0
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {target} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                return count
            sql = f"INSERT INTO {target} VALUES ({', '.join(['%s'] * width)})"
            for batch in _batches(rows, self.BATCH):
                cursor.executemany(sql, batch)
                count += len(batch)
        return count

    def status_updates(
        self, packed: Packed, ids: list[int], progress: Callable[[str, int], object] | None
    ) -> int:
        """Insert the packed entries in recording order, calling `progress` per batch."""
        target = (
            f"{table(StatusUpdate)} (measure_id, status, progress, confidence, effective_date, "
            "recorded_at, note)"
        )
        count = 0
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {target} FROM STDIN") as copy:
                    for lines in self._lines(packed, ids):
                        copy.write("".join(lines))
                        count += len(lines)
                        if progress:
                            progress("inserting", len(lines))
                return count
            sql = f"INSERT INTO {target} VALUES (%s, %s, %s, %s, %s, %s, %s)"
            for rows in self._rows(packed, ids):
                cursor.executemany(sql, rows)
                count += len(rows)
                if progress:
                    progress("inserting", len(rows))
        return count

    def _lines(self, packed: Packed, ids: list[int]) -> Iterator[list[str]]:
        """Batches of COPY text lines, formatted by hand: this loop runs once per update."""
        percent = [str(n) for n in range(101)] + ["\\N"] * (NO_PROGRESS - 100)
        status, confidence, note = packed.status, packed.confidence, packed.note
        progress, day, second = packed.progress, packed.day, packed.second
        day_text, timestamp = self.date, self.timestamp
        lines = []
        for index, i in packed.in_recording_order():
            lines.append(
                f"{ids[index]}\t{STATUSES[status[i]]}\t{percent[progress[i]]}\t"
                f"{CONFIDENCES[confidence[i]]}\t{day_text(day[i])}\t{timestamp(second[i])}\t"
                f"{NOTES[note[i]]}\n"
            )
            if len(lines) == self.BATCH:
                yield lines
                lines = []
        if lines:
            yield lines

    def _rows(self, packed: Packed, ids: list[int]) -> Iterator[list[tuple]]:
        rows = []
        for index, i in packed.in_recording_order():
            progress = packed.progress[i]
            rows.append(
                (ids[index], STATUSES[packed.status[i]])
                + (None if progress == NO_PROGRESS else progress, CONFIDENCES[packed.confidence[i]])
                + (
                    self.date(packed.day[i]),
                    self.timestamp(packed.second[i]),
                    NOTES[packed.note[i]],
                )
            )
            if len(rows) == self.BATCH:
                yield rows
                rows = []
        if rows:
            yield rows

    def update_evidence(self, attached: list[tuple[int, int, int, int]]) -> int:
        """Attach evidence to updates known by (measure, effective day, recorded second): they
        are staged in a temporary table joined to the history, so ids stay the database's."""
        stage = connection.ops.quote_name("synthetic_update_evidence")
        moment = "timestamptz" if self.postgres else "datetime"
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {stage} (measure_id bigint, effective_date date, "
                f"recorded_at {moment}, evidence_id bigint)"
            )
            rows = (
                (measure, self.date(day), self.timestamp(second), evidence)
                for measure, day, second, evidence in attached
            )
            self._insert(stage, 4, rows)
            # Each cites its evidence's revision 1, written before (generate.py).
            cursor.execute(
                f"INSERT INTO {table(StatusUpdateEvidence)} "
                "(status_update_id, evidence_id, revision_id) "
                f"SELECT u.id, s.evidence_id, r.id FROM {stage} AS s "
                f"JOIN {table(StatusUpdate)} AS u "
                "ON u.measure_id = s.measure_id AND u.effective_date = s.effective_date "
                f"AND u.recorded_at = s.recorded_at JOIN {table(EvidenceRevision)} AS r "
                "ON r.evidence_id = s.evidence_id AND r.version = 1"
            )
            count = cursor.rowcount
            cursor.execute(f"DROP TABLE {stage}")
        return count


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
