from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from io import StringIO
from statistics import median

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.urls import reverse

from evidence.choices import Stance
from evidence.models import (
    Evidence,
    EvidenceFigure,
    EvidenceMeasure,
    Source,
    StatusUpdateEvidence,
)
from recommendations import services, synthetic
from recommendations.choices import STOPPED, Status, is_regression
from recommendations.models import Measure, MeasureRisk, Pillar, Risk, Scenario, StatusUpdate
from recommendations.reports.status import build_status_report
from recommendations.selectors import LATEST_FIRST
from tests.conftest import TODAY
from tests.factories import MeasureFactory

pytestmark = pytest.mark.django_db

SMALL = ("--measures", "40", "--updates", "600", "--today", TODAY.isoformat())
SHANGHAI = timezone(timedelta(hours=8))  # the generator's analysts' clock


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_synthetic", *SMALL, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def synthetic_updates():
    return StatusUpdate.objects.filter(measure__code__startswith="SYN-")


def histories() -> dict[str, list[StatusUpdate]]:
    """Each synthetic measure's history, in its order (effective date, recorded at, id)."""
    by_measure = defaultdict(list)
    updates = synthetic_updates().select_related("measure")
    for update in updates.order_by("measure__code", "effective_date", "recorded_at", "id"):
        by_measure[update.measure.code].append(update)
    return by_measure


def content() -> dict[str, list[tuple]]:
    """Every synthetic row, ids left out."""
    return {
        "pillars": list(
            Pillar.objects.filter(number__gt=1000).values_list("number", "title_zh", "title_en")
        ),
        "measures": list(
            Measure.objects.filter(code__startswith="SYN-")
            .order_by("code")
            .values_list(
                "code",
                "pillar__number",
                "title_en",
                "priority",
                "target_date",
                "review_every_days",
                "status",
                "progress",
                "status_effective_date",
                "version",
                "created_at",
                "updated_at",
            )
        ),
        "updates": list(
            synthetic_updates()
            .order_by("measure__code", "recorded_at")
            .values_list(
                "measure__code",
                "status",
                "progress",
                "confidence",
                "effective_date",
                "recorded_at",
                "note",
            )
        ),
        "update evidence": sorted(
            StatusUpdateEvidence.objects.values_list(
                "status_update__measure__code", "status_update__recorded_at", "evidence__key"
            )
        ),
        "evidence links": sorted(
            EvidenceMeasure.objects.values_list("measure__code", "evidence__key", "stance")
        ),
        "risk links": sorted(MeasureRisk.objects.values_list("measure__code", "risk__key")),
        "scenario links": sorted(
            Measure.scenarios.through.objects.values_list("measure__code", "scenario__key")
        ),
        "sources": sorted(
            Source.objects.values_list("key", "kind", "year", "reliability", "created_at")
        ),
        "evidence": sorted(
            Evidence.objects.values_list("key", "source__key", "date", "date_precision")
        ),
        "figures": sorted(
            EvidenceFigure.objects.values_list("evidence__key", "order", "value", "unit")
        ),
    }


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app in ("recommendations", "evidence")
        for model in apps.get_app_config(app).get_models(include_auto_created=True)
    }


def test_the_same_seed_gives_the_same_data():
    generate("--seed", "7")
    first = content()

    call_command("generate_synthetic", "--delete", stdout=StringIO())
    generate("--seed", "7")

    assert content() == first
    assert len(first["updates"]) == 600


def test_another_seed_gives_other_data():
    generate("--seed", "7")
    first = content()

    generate("--seed", "8", "--replace")

    assert content()["updates"] != first["updates"]


def test_each_measure_stores_the_state_of_its_latest_entry_and_counts_its_updates():
    generate()

    for measure in Measure.objects.filter(code__startswith="SYN-"):
        latest = measure.status_updates.order_by(*LATEST_FIRST).first()
        updates = measure.status_updates.aggregate(n=Count("id"), last=Max("recorded_at"))
        assert (measure.status, measure.progress, measure.status_effective_date) == (
            latest.status,
            latest.progress,
            latest.effective_date,
        )
        assert measure.version == updates["n"]
        assert measure.updated_at == updates["last"]


def test_a_few_measures_have_many_updates_and_most_have_few():
    generate()

    counts = sorted(
        Measure.objects.filter(code__startswith="SYN-")
        .annotate(n=Count("status_updates"))
        .values_list("n", flat=True)
    )

    assert sum(counts) == 600
    assert counts[-1] >= 4 * median(counts)


def test_about_one_update_in_twenty_is_recorded_after_a_later_one():
    generate()

    back_dated = 0
    for entries in histories().values():
        latest_seen = date.min
        for update in sorted(entries, key=lambda update: update.recorded_at):
            back_dated += update.effective_date < latest_seen
            latest_seen = max(latest_seen, update.effective_date)

    assert 0.03 <= back_dated / 600 <= 0.08


def test_ids_follow_the_order_updates_were_recorded_in_across_measures():
    generate()

    recorded = list(synthetic_updates().order_by("id").values_list("recorded_at", flat=True))

    assert recorded == sorted(recorded)


def test_some_measures_have_several_updates_on_one_day():
    generate()

    same_day = (
        synthetic_updates().values("measure", "effective_date").annotate(n=Count("id"))
    ).filter(n__gt=1)

    assert same_day.exists()


def test_histories_start_not_assessed_and_nothing_happens_after_today():
    generate()

    end_of_today = datetime.combine(TODAY + timedelta(days=1), time(), SHANGHAI)
    for entries in histories().values():
        statuses = [update.status for update in entries]
        assert statuses[0] == Status.NOT_ASSESSED
        assert Status.NOT_ASSESSED not in statuses[1:]
        assert entries[0].progress is None and entries[0].confidence == ""
        assert max(update.effective_date for update in entries) <= TODAY
        assert max(update.recorded_at for update in entries) < end_of_today


def test_every_regression_and_every_stop_has_a_note():
    generate()

    regressions = stops = 0
    for entries in histories().values():
        for previous, update in zip(entries, entries[1:], strict=False):
            if is_regression(previous.status, update.status):
                regressions += 1
                assert update.note
            if update.status in STOPPED:
                stops += 1
                assert update.note

    assert regressions and stops


def test_every_regression_from_the_state_in_force_when_recorded_has_a_note():
    generate()

    for entries in histories().values():
        recorded = []
        for update in sorted(entries, key=lambda update: update.recorded_at):
            in_force = max(
                (e for e in recorded if e.effective_date <= update.effective_date),
                key=lambda e: (e.effective_date, e.recorded_at),
                default=None,
            )
            if in_force and is_regression(in_force.status, update.status):
                assert update.note
            recorded.append(update)


def test_every_implemented_entry_has_evidence_or_its_measure_a_supporting_link():
    generate()

    supported = set(
        EvidenceMeasure.objects.filter(stance=Stance.SUPPORTS).values_list("measure", flat=True)
    )
    implemented = synthetic_updates().filter(status=Status.IMPLEMENTED)
    unsupported = implemented.exclude(measure__in=supported).annotate(
        evidence_count=Count("evidence_links")
    )

    assert implemented.exists()
    assert not unsupported.filter(evidence_count=0).exists()


def test_synthetic_risks_and_scenarios_are_made_when_the_papers_are_missing():
    generate()

    assert set(Risk.objects.values_list("key", flat=True)) == {
        "syn-risk-1",
        "syn-risk-2",
        "syn-risk-3",
    }
    assert Scenario.objects.filter(key__startswith="syn-").count() == 5
    assert MeasureRisk.objects.exists()


def test_the_papers_risks_and_scenarios_are_used_when_loaded():
    call_command("load_seed", stdout=StringIO())

    generate()

    assert not Risk.objects.filter(key__startswith="syn-").exists()
    assert not Scenario.objects.filter(key__startswith="syn-").exists()
    assert MeasureRisk.objects.filter(measure__code__startswith="SYN-").exists()


def test_delete_removes_every_synthetic_row_and_leaves_the_seed_untouched():
    call_command("load_seed", stdout=StringIO())
    before = row_counts()
    seed_measure = Measure.objects.values().get(code="3.2")
    seed_history = list(StatusUpdate.objects.order_by("id").values())
    generate()

    output = StringIO()
    call_command("generate_synthetic", "--delete", stdout=output)

    assert row_counts() == before
    assert Measure.objects.values().get(code="3.2") == seed_measure
    assert list(StatusUpdate.objects.order_by("id").values()) == seed_history
    assert not synthetic.synthetic_exists()
    assert "40 measures, 600 status updates" in output.getvalue()


def test_delete_without_a_seed_also_removes_the_synthetic_risks_and_scenarios():
    generate()

    call_command("generate_synthetic", "--delete", stdout=StringIO())

    assert {label: n for label, n in row_counts().items() if n} == {}


def test_delete_refuses_and_deletes_nothing_while_other_history_cites_synthetic_evidence():
    generate()
    measure = MeasureFactory()
    services.record_status_update(
        measure=measure,
        status=Status.IN_PROGRESS,
        progress=20,
        effective_date=date(2026, 1, 15),
        evidence=[Evidence.objects.filter(key__startswith="syn-").first()],
        by=None,
        today=TODAY,
    )

    with pytest.raises(CommandError, match="Nothing was deleted"):
        call_command("generate_synthetic", "--delete", stdout=StringIO())

    assert synthetic_updates().count() == 600
    assert StatusUpdateEvidence.objects.filter(status_update__measure=measure).exists()


def test_delete_lifts_the_append_only_guard_for_itself_only():
    generate()
    call_command("generate_synthetic", "--delete", stdout=StringIO())
    MeasureFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        StatusUpdate.objects.all().delete()

    assert StatusUpdate.objects.count() == 1


def test_a_second_run_is_refused_unless_asked_to_replace():
    generate()

    with pytest.raises(CommandError, match="--replace"):
        generate()

    assert "600 status updates" in generate("--replace")
    assert synthetic_updates().count() == 600


def test_too_few_updates_for_the_measures_are_refused():
    with pytest.raises(CommandError, match="cannot cover"):
        call_command("generate_synthetic", "--measures", "10", "--updates", "9")

    assert not synthetic.synthetic_exists()


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_is_drawn_only_on_a_terminal():
    quiet, loud = StringIO(), Terminal()

    call_command("generate_synthetic", *SMALL, stdout=StringIO(), stderr=quiet)
    call_command("generate_synthetic", *SMALL, "--replace", stdout=StringIO(), stderr=loud)

    assert quiet.getvalue() == ""
    assert "generating" in loud.getvalue() and "inserting" in loud.getvalue()


def test_the_small_preset_loads_and_the_api_and_reports_keep_their_query_counts(
    analyst_api, django_assert_num_queries
):
    output = StringIO()

    call_command("generate_synthetic", "--size", "S", stdout=output, stderr=StringIO())

    assert "5 pillars, 1000 measures, 50000 status updates" in output.getvalue()
    assert synthetic_updates().count() == 50_000
    # The same counts as on a handful of rows (test_api, test_reports): nothing grows with
    # the data. (Each list's first query reads the change counters, for its ETag.)
    pages = {
        "measure-list": ({"page_size": 100}, 4),
        "status-update-list": ({"page_size": 100}, 3),
    }
    for name, (params, queries) in pages.items():
        for extra in ({}, {"as_of": "2026-06-30"}) if name == "measure-list" else ({},):
            with django_assert_num_queries(queries):
                response = analyst_api.get(reverse(name), {**params, **extra})
            assert len(response.json()["results"]) == 100
    with django_assert_num_queries(10):
        report = build_status_report(since=date(2026, 6, 30), until=date(2026, 9, 30))
    listed = sum(len(group.updates) for group in report.changes)
    # Most synthetic updates re-confirm the state in force: counted, not listed.
    assert 0 < listed < report.reconfirmations.total
    assert listed + report.reconfirmations.total > 1000


@pytest.mark.django_db(transaction=True)
def test_generated_data_passes_the_foreign_key_checks_made_at_commit():
    # Foreign keys are checked when the transaction commits, which other tests never do.
    generate()

    call_command("generate_synthetic", "--delete", stdout=StringIO())

    assert not synthetic.synthetic_exists()
