"""The status report, checked section by section against a small history worked out by hand.

    measure  target      history (effective date: status progress)     06-30 → 09-30
    1.1      2026-12-31  05-01 planned 10, 07-10 in_progress 40,
                         08-01 and 08-20 in_progress 40 (re-confirmed),
                         09-01 partially 70                             planned → partially
    1.2      2026-06-30  06-01 in_progress 50, 07-01 in_progress 50
                         (re-confirms the state on 06-30), 08-15 planned 20
                                                                        in_progress → planned
    1.3                  02-01 planned 10, 04-01 stalled 10 ("budget")  stalled → stalled
    2.1                  03-01 in_progress 30, 09-20 implemented 100,
                         08-01 partially 60 recorded last (back-dated)  in_progress → implemented
    2.2 (archived)       07-05 planned 5                                left out of states
    2.3      2026-09-30  never assessed                                 not_assessed throughout

Every history starts, not assessed, on 2025-01-01. Risk r1 is mitigated by 1.1 and 2.1, r2 by
1.2, r3 by nothing. The period is (2026-06-30, 2026-09-30].
"""

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import date, datetime
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from markdown_it import MarkdownIt
from rest_framework.test import APIClient

from evidence.choices import SourceKind
from recommendations import services
from recommendations.choices import Status
from recommendations.models import MeasureRisk, ReportSnapshot, StatusUpdate
from recommendations.reports.charts import LABEL_GAP, thinned_labels
from recommendations.reports.render import (
    render_csv,
    render_html,
    render_json,
    render_markdown,
)
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import (
    build_status_report,
    last_complete_period,
    month_end,
    series_dates,
)
from tests.factories import (
    EvidenceFactory,
    MeasureFactory,
    PillarFactory,
    RiskFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db

SINCE, UNTIL = date(2026, 6, 30), date(2026, 9, 30)
START = date(2025, 1, 1)
TODAY = date(2026, 11, 26)


def record(measure, status, progress, day, **kwargs):
    kwargs.setdefault("by", None)
    return services.record_status_update(
        measure=measure,
        status=status,
        progress=progress,
        effective_date=day,
        today=TODAY,
        **kwargs,
    )


@pytest.fixture
def history():
    one, two = PillarFactory(number=1), PillarFactory(number=2)
    m = {
        "1.1": MeasureFactory(
            code="1.1", pillar=one, starts_on=START, target_date=date(2026, 12, 31)
        ),
        "1.2": MeasureFactory(
            code="1.2", pillar=one, starts_on=START, target_date=date(2026, 6, 30)
        ),
        "1.3": MeasureFactory(code="1.3", pillar=one, starts_on=START),
        "2.1": MeasureFactory(code="2.1", pillar=two, starts_on=START),
        "2.2": MeasureFactory(code="2.2", pillar=two, starts_on=START),
        "2.3": MeasureFactory(
            code="2.3", pillar=two, starts_on=START, target_date=date(2026, 9, 30)
        ),
    }
    record(m["1.1"], Status.PLANNED, 10, date(2026, 5, 1))
    record(m["1.1"], Status.IN_PROGRESS, 40, date(2026, 7, 10))
    record(m["1.1"], Status.IN_PROGRESS, 40, date(2026, 8, 1))
    record(m["1.1"], Status.IN_PROGRESS, 40, date(2026, 8, 20))
    record(m["1.1"], Status.PARTIALLY_IMPLEMENTED, 70, date(2026, 9, 1))
    record(m["1.2"], Status.IN_PROGRESS, 50, date(2026, 6, 1))
    record(m["1.2"], Status.IN_PROGRESS, 50, date(2026, 7, 1))
    record(m["1.2"], Status.PLANNED, 20, date(2026, 8, 15), note="Funding cut; re-planning.")
    record(m["1.3"], Status.PLANNED, 10, date(2026, 2, 1))
    record(m["1.3"], Status.STALLED, 10, date(2026, 4, 1), note="Waiting for the budget.")
    record(m["2.1"], Status.IN_PROGRESS, 30, date(2026, 3, 1))
    proof = EvidenceFactory(claim_en="Rules in force")
    record(m["2.1"], Status.IMPLEMENTED, 100, date(2026, 9, 20), evidence=[proof])
    record(m["2.1"], Status.PARTIALLY_IMPLEMENTED, 60, date(2026, 8, 1))  # back-dated
    record(m["2.2"], Status.PLANNED, 5, date(2026, 7, 5))
    services.update_measure(measure=m["2.2"], changes={"archived": True})
    r1, r2 = RiskFactory(key="r1", order=1), RiskFactory(key="r2", order=2)
    RiskFactory(key="r3", order=3)
    for code, risk in (("1.1", r1), ("2.1", r1), ("1.2", r2)):
        MeasureRisk.objects.create(measure=m[code], risk=risk)
    return m


@pytest.fixture
def report(history):
    return build_status_report(since=SINCE, until=UNTIL)


def by_status(**counts):
    return {status: counts.get(status, 0) for status in Status.values}


def test_the_overview_counts_measures_as_of_since_and_until(report):
    overview = report.overview

    assert (overview.since.measures, overview.until.measures) == (5, 5)
    assert overview.since.by_status == by_status(
        planned=1, in_progress=2, stalled=1, not_assessed=1
    )
    assert overview.until.by_status == by_status(
        partially_implemented=1, planned=1, stalled=1, implemented=1, not_assessed=1
    )
    assert (overview.since.mean_progress, overview.until.mean_progress) == (25.0, 50.0)
    assert (overview.since.assessed, overview.until.assessed) == (4, 4)
    assert overview.change.mean_progress == 25.0
    assert overview.change.by_status["in_progress"] == -2


def test_each_pillar_stands_where_its_measures_do(report):
    first, second = report.pillars

    assert (first.since.mean_progress, first.until.mean_progress) == (23.3, 33.3)
    assert first.until.by_status == by_status(partially_implemented=1, planned=1, stalled=1)
    assert second.until.by_status == by_status(implemented=1, not_assessed=1)
    assert second.change.mean_progress == 70.0


def test_changes_are_the_updates_of_the_period_that_moved_status_or_progress(report):
    changes = [
        (c.measure, c.effective_date.isoformat(), c.from_status, c.to_status, c.progress_change)
        for group in report.changes
        for c in group.updates
    ]

    assert changes == [
        ("1.1", "2026-07-10", "planned", "in_progress", 30),
        ("1.1", "2026-09-01", "in_progress", "partially_implemented", 30),
        ("1.2", "2026-08-15", "in_progress", "planned", -30),
        ("2.1", "2026-08-01", "in_progress", "partially_implemented", 30),
        ("2.1", "2026-09-20", "partially_implemented", "implemented", 40),
        ("2.2", "2026-07-05", "not_assessed", "planned", None),
    ]
    assert [group.pillar for group in report.changes] == [1, 2]


def test_re_confirmations_are_counted_per_measure_not_listed(report):
    listed = [(c.measure, c.effective_date) for g in report.changes for c in g.updates]

    assert ("1.1", date(2026, 8, 1)) not in listed and ("1.2", date(2026, 7, 1)) not in listed
    assert report.reconfirmations.total == 3
    assert [(r.measure, r.pillar, r.count, r.latest) for r in report.reconfirmations.measures] == [
        ("1.1", 1, 2, date(2026, 8, 20)),
        ("1.2", 1, 1, date(2026, 7, 1)),
    ]


def changes_and_reconfirmations(measure_code, since=SINCE, until=UNTIL):
    report = build_status_report(since=since, until=until)
    changes = [
        (c.effective_date, c.from_status, c.from_progress, c.to_status, c.to_progress)
        for g in report.changes
        for c in g.updates
        if c.measure == measure_code
    ]
    counted = [
        (r.count, r.latest) for r in report.reconfirmations.measures if r.measure == measure_code
    ]
    return changes, counted


def test_the_first_update_of_the_period_compares_with_the_state_on_since(history):
    moved, repeated = MeasureFactory(code="1.8"), MeasureFactory(code="1.9")
    for measure in (moved, repeated):
        record(measure, Status.IN_PROGRESS, 50, date(2026, 6, 1))
    record(moved, Status.IN_PROGRESS, 60, date(2026, 7, 1))
    record(repeated, Status.IN_PROGRESS, 50, date(2026, 7, 1))

    assert changes_and_reconfirmations("1.8") == (
        [(date(2026, 7, 1), "in_progress", 50, "in_progress", 60)],
        [],
    )
    assert changes_and_reconfirmations("1.9") == ([], [(1, date(2026, 7, 1))])


def test_a_back_dated_entry_is_compared_in_the_order_of_effective_dates(history):
    measure = MeasureFactory(code="1.8")
    record(measure, Status.IN_PROGRESS, 30, date(2026, 6, 1))
    record(measure, Status.IN_PROGRESS, 60, date(2026, 8, 1))
    record(measure, Status.IN_PROGRESS, 60, date(2026, 7, 15))  # back-dated: recorded last

    changes, counted = changes_and_reconfirmations("1.8")

    # In recording order the 08-01 entry would be the change; in history order it repeats
    # the back-dated one before it.
    assert changes == [(date(2026, 7, 15), "in_progress", 30, "in_progress", 60)]
    assert counted == [(1, date(2026, 8, 1))]


def test_entries_of_one_effective_date_are_compared_in_commit_order(history):
    measure = MeasureFactory(code="1.8")
    record(measure, Status.PLANNED, 10, date(2026, 5, 1))
    first = record(measure, Status.IN_PROGRESS, 40, date(2026, 8, 1))
    # A correction of the same day, committed at the same instant: the later id comes after.
    StatusUpdate.objects.create(
        measure=measure,
        status=Status.PLANNED,
        progress=10,
        confidence=first.confidence,
        effective_date=date(2026, 8, 1),
        recorded_at=first.recorded_at,
        note="Entered in error.",
    )
    record(measure, Status.PLANNED, 10, date(2026, 8, 10), note="Still planned.")

    changes, counted = changes_and_reconfirmations("1.8")

    assert changes == [
        (date(2026, 8, 1), "planned", 10, "in_progress", 40),
        (date(2026, 8, 1), "in_progress", 40, "planned", 10),
    ]
    assert counted == [(1, date(2026, 8, 10))]


def test_a_change_carries_its_note_and_evidence(report):
    updates = {(c.measure, c.to_status): c for g in report.changes for c in g.updates}

    assert updates[("1.2", "planned")].note == "Funding cut; re-planning."
    assert [e["claim_en"] for e in updates[("2.1", "implemented")].evidence] == ["Rules in force"]


def test_back_dated_news_recorded_after_the_period_shows_in_the_period_it_is_effective_in(
    history,
):
    report = build_status_report(since=date(2026, 7, 31), until=date(2026, 8, 31))

    changes = [(c.measure, c.to_status) for g in report.changes for c in g.updates]

    assert ("2.1", "partially_implemented") in changes
    assert all(c.recorded_after_period for g in report.changes for c in g.updates)


def test_regressions_newly_implemented_and_stalled(report):
    assert [(c.measure, c.from_status, c.to_status) for c in report.regressions] == [
        ("1.2", "in_progress", "planned")
    ]
    assert [(m.measure, m.status_since) for m in report.newly_implemented] == [
        ("2.1", "in_progress")
    ]
    assert [(s.measure, s.status, s.since_date, s.note) for s in report.stalled] == [
        ("1.3", "stalled", date(2026, 4, 1), "Waiting for the budget.")
    ]


def test_reassessment_is_due_where_no_update_came_within_the_review_interval(report):
    due = [
        (r.measure, r.last_update, r.days_since_update, r.never_assessed)
        for r in report.reassessment_due
    ]

    assert due == [("1.3", date(2026, 4, 1), 182, False), ("2.3", START, 637, True)]


def test_overdue_measures_are_past_their_target_and_not_implemented(report):
    assert [(d.measure, d.days_overdue, d.status) for d in report.overdue] == [
        ("1.2", 92, "planned"),
        ("2.3", 0, "not_assessed"),
    ]


def test_the_mean_progress_says_how_many_measures_it_is_over(report):
    markdown = render_markdown(report)
    html = render_html(report, "zh")

    assert "| mean progress | 25% over 4 of 5 assessed | 50% over 4 of 5 assessed | +25 |" in (
        markdown
    )
    assert "50%（已评估 5 项中的 4 项）" in html


def test_coverage_and_the_uncovered_flag_follow_one_rule_stated_on_the_page(history):
    record(history["1.2"], Status.IN_PROGRESS, 30, date(2026, 9, 25))
    report = build_status_report(since=SINCE, until=UNTIL)
    markdown = render_markdown(report)
    risks = {r.key: r for r in report.risks}

    assert [m.status for m in risks["r2"].measures] == ["in_progress"]
    assert (risks["r2"].coverage, risks["r2"].uncovered) == (0.0, True)
    assert all(r.uncovered == (not r.coverage) for r in report.risks)
    assert "A mitigating measure covers its risk once it is partially implemented" in markdown
    assert "⚠ uncovered: no mitigating measure is partially implemented or implemented yet" in (
        markdown
    )


def test_risk_coverage_flags_risks_no_measure_is_working_against(report):
    risks = {r.key: r for r in report.risks}

    assert [m.measure for m in risks["r1"].measures] == ["1.1", "2.1"]
    assert (risks["r1"].coverage, risks["r1"].uncovered) == (1.0, False)
    assert (risks["r2"].coverage, risks["r2"].uncovered) == (0.0, True)
    assert (risks["r3"].coverage, risks["r3"].uncovered, risks["r3"].measures) == (None, True, [])


def test_evidence_added_in_the_period_is_counted_by_source_kind(history):
    zone = timezone.get_current_timezone()
    survey = SourceFactory(kind=SourceKind.SURVEY)
    EvidenceFactory(source=survey, created_at=datetime(2026, 8, 1, 9, tzinfo=zone))
    EvidenceFactory(source=survey, created_at=datetime(2026, 9, 30, 23, 59, tzinfo=zone))
    EvidenceFactory(created_at=datetime(2026, 6, 30, 23, 59, tzinfo=zone))  # before the period

    added = build_status_report(since=SINCE, until=UNTIL).evidence_added

    assert (added.total, added.by_source_kind) == (2, {"survey": 2})


@pytest.mark.parametrize(("lang", "kind"), [("en", "Survey: 2"), ("zh", "调查: 2")])
def test_evidence_added_is_listed_by_the_kinds_name_in_the_reports_language(history, lang, kind):
    survey = SourceFactory(kind=SourceKind.SURVEY)
    zone = timezone.get_current_timezone()
    EvidenceFactory.create_batch(2, source=survey, created_at=datetime(2026, 8, 1, tzinfo=zone))
    report = build_status_report(since=SINCE, until=UNTIL)

    markdown, html = render_markdown(report, lang), render_html(report, lang)

    assert f"- {kind}" in markdown and f"<li>{kind}</li>" in html


def test_progress_over_time_is_the_mean_at_each_month_end(report):
    series = [(p.date, p.overall, p.pillars["1"]) for p in report.progress_over_time]

    assert series == [
        (SINCE, 25.0, 23.3),
        (date(2026, 7, 31), 32.5, 33.3),
        (date(2026, 8, 31), 32.5, 23.3),
        (UNTIL, 50.0, 33.3),
    ]


def test_every_state_agrees_with_the_api_as_of_listing(report, admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)

    def listed(day):
        rows = api.get(
            reverse("measure-list"),
            {"as_of": day.isoformat(), "archived": "false", "page_size": 500},
        ).json()["results"]
        return {row["code"]: (row["status"], row["progress"]) for row in rows}

    assert listed(SINCE) == {
        m.measure: (m.status_since, m.progress_since) for m in report.measures if m.status_since
    }
    assert listed(UNTIL) == {m.measure: (m.status_until, m.progress_until) for m in report.measures}


def test_building_a_report_runs_a_fixed_number_of_queries(history, django_assert_num_queries):
    # 1: measures; 2: pillars; 3–4: states on since and until; 5: the period's changes and
    # re-confirmations, compared by the database; 6: the evidence of the period's updates;
    # 7: evidence added; 8: latest recording; 9–10: risks and their links. The progress
    # series replays the changes: no query.
    with django_assert_num_queries(10):
        small = build_status_report(since=SINCE, until=UNTIL)
    for index in range(10):
        measure = MeasureFactory(code=f"1.{index + 10}", pillar=history["1.1"].pillar)
        record(measure, Status.IN_PROGRESS, 20, date(2026, 7, 1))
        record(measure, Status.IN_PROGRESS, 20, date(2026, 7, 15))
        record(measure, Status.PLANNED, 10, date(2026, 8, 1), note="Back to planning.")
        record(measure, Status.PLANNED, 10, date(2026, 8, 15))

    with django_assert_num_queries(10):
        large = build_status_report(since=date(2025, 12, 31), until=UNTIL)

    assert large.overview.until.measures == small.overview.until.measures + 10
    assert large.reconfirmations.total == small.reconfirmations.total + 20
    assert len(large.progress_over_time) > len(small.progress_over_time)  # a longer period


def test_a_period_must_end_after_it_starts(history):
    with pytest.raises(Exception, match="end after it starts"):
        build_status_report(since=UNTIL, until=SINCE)


@pytest.mark.parametrize(
    ("kind", "today", "expected"),
    [
        ("quarter", date(2026, 11, 26), (date(2026, 6, 30), date(2026, 9, 30))),
        ("quarter", date(2027, 1, 15), (date(2026, 9, 30), date(2026, 12, 31))),
        ("quarter", date(2026, 3, 31), (date(2025, 9, 30), date(2025, 12, 31))),
        ("month", date(2026, 3, 1), (date(2026, 1, 31), date(2026, 2, 28))),
        ("month", date(2026, 1, 10), (date(2025, 11, 30), date(2025, 12, 31))),
        ("year", date(2026, 11, 26), (date(2024, 12, 31), date(2025, 12, 31))),
    ],
)
def test_the_last_complete_period(kind, today, expected):
    assert last_complete_period(kind, today) == expected


def test_the_progress_series_has_every_month_end_of_the_period():
    days = series_dates(date(2025, 10, 15), date(2026, 10, 31))

    assert days[0] == date(2025, 10, 15)
    assert days[1:] == [month_end(2025, m) for m in (10, 11, 12)] + [
        month_end(2026, m) for m in range(1, 11)
    ]


def test_a_period_longer_than_twenty_years_is_thinned_evenly():
    days = series_dates(date(1990, 12, 31), date(2025, 12, 31))

    assert (len(days), days[0], days[-1]) == (241, date(1990, 12, 31), date(2025, 12, 31))


def test_the_time_axis_writes_no_two_date_labels_closer_than_they_fit():
    xs = [10 + 5 * i for i in range(100)]

    chosen = thinned_labels(xs)

    assert chosen[0] == 0 and chosen[-1] == 99
    assert min(xs[b] - xs[a] for a, b in zip(chosen, chosen[1:], strict=False)) >= LABEL_GAP


# Formats


def test_the_json_has_its_documented_top_level_keys_and_is_canonical(report):
    text = render_json(report)
    data = json.loads(text)

    assert {
        "period",
        "overview",
        "pillars",
        "changes",
        "reconfirmations",
        "newly_implemented",
        "regressions",
        "stalled",
        "reassessment_due",
        "overdue",
        "risks",
        "evidence_added",
    } <= set(data)
    assert data["period"] == {"since": "2026-06-30", "until": "2026-09-30"}
    assert data["schema_version"] == 3
    assert data["changes"][0]["updates"][0]["measure"] == "1.1"
    assert data["overview"]["until"]["by_status"]["implemented"] == 1
    assert render_json(build_status_report(since=SINCE, until=UNTIL)) == text


def test_the_csv_has_a_row_per_measure(report):
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))

    assert [row["code"] for row in rows] == ["1.1", "1.2", "1.3", "2.1", "2.3"]
    assert rows[0] | {} == rows[0] and {
        k: rows[0][k]
        for k in (
            "status_since",
            "progress_since",
            "status_until",
            "progress_until",
            "progress_change",
        )
    } == {
        "status_since": "planned",
        "progress_since": "10",
        "status_until": "partially_implemented",
        "progress_until": "70",
        "progress_change": "60",
    }


def test_every_format_shows_the_re_confirmations_of_each_measure(report):
    data = json.loads(render_json(report))
    rows = {row["code"]: row for row in csv.DictReader(io.StringIO(render_csv(report)))}
    markdown, markdown_zh = render_markdown(report, "en"), render_markdown(report, "zh")
    page, page_zh = render_html(report, "en"), render_html(report, "zh")

    assert data["reconfirmations"] == {
        "total": 3,
        "measures": [
            {
                "measure": "1.1",
                "pillar": 1,
                "title_zh": report.measures[0].title_zh,
                "title_en": report.measures[0].title_en,
                "count": 2,
                "latest": "2026-08-20",
            },
            {
                "measure": "1.2",
                "pillar": 1,
                "title_zh": report.measures[1].title_zh,
                "title_en": report.measures[1].title_en,
                "count": 1,
                "latest": "2026-07-01",
            },
        ],
    }
    assert [(rows[c]["reconfirmations"], rows[c]["last_reconfirmed"]) for c in rows] == [
        ("2", "2026-08-20"),
        ("1", "2026-07-01"),
        ("0", ""),
        ("0", ""),
        ("0", ""),
    ]
    assert "3 updates in the period re-confirmed the status and progress in force." in markdown
    assert f"| **1.1** {report.measures[0].title_en} | 2 | 2026-08-20 |" in markdown
    assert "报告期内有 3 条更新再确认了当时有效的状态和进度。" in markdown_zh
    assert "| **1.2** " in markdown_zh.split("## 再确认")[1]
    assert (
        '<td class="n">2</td><td class="n">2026-08-20</td>' in page
        and "3 updates in the period re-confirmed" in page
    )
    assert "报告期内有 3 条更新再确认了" in page_zh and "2026-07-01</td>" in page_zh


@pytest.mark.parametrize(("lang", "heading"), [("en", "## Risk coverage"), ("zh", "## 风险覆盖")])
def test_the_markdown_reads_in_either_language(report, lang, heading):
    text = render_markdown(report, lang)

    assert heading in text
    assert "**1.2**" in text and "Funding cut; re-planning." in text


HOSTILE = {
    "title": '=HYPERLINK("http://evil.example","x")',
    "note": "Fine.\n## Injected heading\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>"
    "\n- fake item\n1. fake step\n[link](http://evil.example) | cell | `code` **bold**",
}


@pytest.fixture
def hostile_report(history):
    measure = history["1.1"]
    services.update_measure(measure=measure, changes={"title_en": HOSTILE["title"]})
    record(measure, Status.IN_PROGRESS, 60, date(2026, 9, 10), note=HOSTILE["note"])
    record(history["1.3"], Status.ABANDONED, 10, date(2026, 9, 12), note=HOSTILE["note"])
    return build_status_report(since=SINCE, until=UNTIL)


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(hostile_report):
    rows = list(csv.DictReader(io.StringIO(render_csv(hostile_report))))

    title = next(row["title_en"] for row in rows if row["code"] == "1.1")
    assert title == "'" + HOSTILE["title"]
    texts = [row[name] for row in rows for name in ("code", "title_zh", "title_en")]
    assert not [text for text in texts if text.startswith(("=", "+", "-", "@", "\t", "\r"))]


def test_a_note_adds_no_structure_or_html_to_the_published_markdown(hostile_report):
    html = MarkdownIt("commonmark").render(render_markdown(hostile_report, "en"))

    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "Injected heading</h2>" not in html and "<code>" not in html
    assert "fake item</li>" not in html and "fake step</li>" not in html
    # The text itself is all there, shown literally, and its lines stay in its item.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "## Injected heading" in html
    assert "<li>Note: Fine.<br />" in html


def test_a_title_cannot_break_the_markdown_tables(hostile_report):
    text = render_markdown(hostile_report, "en")

    assert "=HYPERLINK(" in text
    pillar_rows = [line for line in text.splitlines() if line.startswith("| 1. ")]
    assert all(line.count("|") - line.count("\\|") == 7 for line in pillar_rows)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.svgs, self._svg = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_html_parses_and_holds_its_two_svg_charts(report, lang):
    page = render_html(report, lang)
    parser = Tags()

    parser.feed(page)

    assert parser.tags.count("svg") == 2
    assert parser.tags.count("rect") > 10 and "polyline" in parser.tags
    for chart in page.split("<svg")[1:]:
        ET.fromstring("<svg" + chart.split("</svg>")[0] + "</svg>")  # well-formed XML
    assert ('lang="zh-Hans"' in page) == (lang == "zh")
    assert "@media print" in page
    assert "<script" not in page and "http://" not in page.split("xmlns")[0]


# Snapshots


def test_saving_a_report_stores_every_format_with_the_digest_of_its_json(report, admin_user):
    snapshot, created = save_report(report=report, by=admin_user)

    assert created and snapshot.version == 1
    assert snapshot.sha256 == ReportSnapshot.digest(snapshot.report_json)
    assert json.loads(snapshot.report_json)["period"]["until"] == "2026-09-30"
    assert snapshot.html_zh.startswith("<!DOCTYPE html>") and "风险覆盖" in snapshot.html_zh
    assert snapshot.csv.startswith("code,pillar")


def test_saving_a_period_again_changes_nothing_without_force(report):
    first, _ = save_report(report=report)

    again, created = save_report(report=report)

    assert (created, again.pk, ReportSnapshot.objects.count()) == (False, first.pk, 1)


def test_forcing_adds_a_new_version_and_keeps_the_old(history, report):
    first, _ = save_report(report=report)
    record(history["1.3"], Status.IN_PROGRESS, 20, date(2026, 9, 15), note="Budget found.")

    second, created = save_report(report=build_status_report(since=SINCE, until=UNTIL), force=True)

    assert created and (first.version, second.version) == (1, 2)
    assert second.sha256 != first.sha256
    assert ReportSnapshot.objects.get(pk=first.pk).report_json == first.report_json


# The command


def run(*args, **kwargs):
    out, err = StringIO(), StringIO()
    call_command("status_report", *args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_the_command_writes_a_format_to_standard_output(history):
    out, _ = run("--since", "2026-06-30", "--until", "2026-09-30", "--format", "json")

    assert json.loads(out)["period"] == {"since": "2026-06-30", "until": "2026-09-30"}


def test_the_command_picks_the_last_complete_quarter_by_default(history):
    out, _ = run("--today", "2026-11-26", "--format", "json")

    assert json.loads(out)["period"] == {"since": "2026-06-30", "until": "2026-09-30"}


def test_the_command_writes_a_file(history, tmp_path):
    target = tmp_path / "report.html"

    run(
        "--period",
        "quarter",
        "--today",
        "2026-11-26",
        "--format",
        "html",
        "--lang",
        "zh",
        "--output",
        str(target),
    )

    assert "<svg" in target.read_text(encoding="utf-8")


def test_the_command_saves_once_and_says_so_the_second_time(history):
    args = ("--since", "2026-06-30", "--until", "2026-09-30", "--save", "--output", "-")
    first_out, first_err = run(*args)

    second_out, second_err = run(*args)
    _, forced_err = run(*args, "--force")

    assert "Saved snapshot" in first_err
    assert "nothing was saved" in second_err
    assert second_out == first_out  # the published text, not a new computation
    assert "v2" in forced_err
    assert list(ReportSnapshot.objects.values_list("version", flat=True)) == [2, 1]


@pytest.mark.parametrize(
    "args",
    [
        ("--since", "2026-09-30", "--until", "2026-06-30"),
        ("--since", "2026-06-31", "--until", "2026-09-30"),
        ("--since", "2026-06-30"),
        ("--since", "2026-06-30", "--until", "2026-09-30", "--period", "month"),
        ("--force",),
    ],
)
def test_the_command_refuses_bad_arguments_and_saves_nothing(history, args):
    with pytest.raises(CommandError):
        run(*args, "--save") if "--force" not in args else run(*args)

    assert not ReportSnapshot.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: the statement timeout")
def test_the_command_computes_without_the_webs_statement_timeout(history, monkeypatch):
    from recommendations.management.commands import status_report

    seen = []

    def build_and_look(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            seen.append(cursor.fetchone()[0])
        return build_status_report(**kwargs)

    monkeypatch.setattr(status_report, "build_status_report", build_and_look)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '30s'")

    run("--since", "2026-06-30", "--until", "2026-09-30", "--format", "csv")

    assert seen == ["0"]


# The API and the admin


def test_the_api_lists_and_fetches_snapshots(report, viewer_api):
    snapshot, _ = save_report(report=report)

    listing = viewer_api.get(reverse("report-list")).json()
    detail = viewer_api.get(reverse("report-detail", args=[snapshot.pk])).json()

    assert [row["version"] for row in listing["results"]] == [1]
    assert detail["sha256"] == snapshot.sha256
    assert detail["report"] == json.loads(snapshot.report_json)


@pytest.mark.parametrize(
    ("params", "media_type", "marker"),
    [
        ({"file": "html", "lang": "zh"}, "text/html", "<svg"),
        ({"file": "csv"}, "text/csv", "code,pillar"),
        ({"file": "markdown"}, "text/markdown", "# Status report"),
        ({}, "application/json", '"schema_version"'),
    ],
)
def test_the_api_downloads_a_snapshots_files(report, viewer_api, params, media_type, marker):
    snapshot, _ = save_report(report=report)

    response = viewer_api.get(reverse("report-download", args=[snapshot.pk]), params)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert marker in response.content.decode()
    assert response["Content-Security-Policy"] == "sandbox"


def test_the_api_previews_a_report_without_saving_it(report, viewer_api):
    response = viewer_api.get(
        reverse("report-preview"), {"since": "2026-06-30", "until": "2026-09-30"}
    )

    assert response.status_code == 200
    assert response.content.decode() == render_json(report)
    assert not ReportSnapshot.objects.exists()


PERIOD = {"since": "2026-06-30", "until": "2026-09-30"}


def changes_in_period():
    report = build_status_report(since=SINCE, until=UNTIL)
    return sum(len(group.updates) for group in report.changes)


def test_a_preview_is_bounded_by_the_changes_it_lists_not_by_the_updates(
    history, viewer_api, settings
):
    listed = changes_in_period()
    updates = StatusUpdate.objects.filter(
        effective_date__gt=SINCE, effective_date__lte=UNTIL
    ).count()

    settings.REPORT_PREVIEW_MAX_UPDATES = listed
    just_fits = viewer_api.get(reverse("report-preview"), PERIOD)
    settings.REPORT_PREVIEW_MAX_UPDATES = listed - 1
    too_large = viewer_api.get(reverse("report-preview"), PERIOD)

    assert (listed, updates) == (6, 9)  # three updates re-confirm and are not listed
    assert just_fits.status_code == 200
    assert too_large.status_code == 400
    assert "status_report" in too_large.json()["until"][0]
    assert "5 changes of status or progress" in too_large.json()["until"][0]
    assert not ReportSnapshot.objects.exists()


def test_an_html_preview_counts_each_change_five_times(history, viewer_api, settings):
    period = {**PERIOD, "file": "html"}
    listed = changes_in_period()

    settings.REPORT_PREVIEW_MAX_UPDATES = listed * 5
    just_fits = viewer_api.get(reverse("report-preview"), period)
    settings.REPORT_PREVIEW_MAX_UPDATES = listed * 5 - 1
    too_large = viewer_api.get(reverse("report-preview"), period)
    as_json = viewer_api.get(reverse("report-preview"), {**period, "file": "json"})

    assert just_fits.status_code == 200
    assert too_large.status_code == 400
    assert as_json.status_code == 200


def test_a_preview_larger_than_its_byte_limit_is_a_400(history, viewer_api, settings):
    period = {"since": "2026-06-30", "until": "2026-09-30", "file": "html", "lang": "zh"}
    size = len(viewer_api.get(reverse("report-preview"), period).content)

    settings.REPORT_PREVIEW_MAX_BYTES = size
    just_fits = viewer_api.get(reverse("report-preview"), period)
    settings.REPORT_PREVIEW_MAX_BYTES = size - 1
    too_large = viewer_api.get(reverse("report-preview"), period)

    assert just_fits.status_code == 200
    assert too_large.status_code == 400
    assert f"{size - 1} bytes" in too_large.json()["until"][0]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-09-30", "until": "2026-06-30"},
        {"since": "2026-06-30"},
        {"until": "tomorrow", "since": "2026-01-01"},
        {"period": "decade"},
        {"file": "pdf"},
        {"colour": "red"},
    ],
    ids=str,
)
def test_a_bad_preview_request_is_a_400(history, viewer_api, params):
    response = viewer_api.get(reverse("report-preview"), params)

    assert response.status_code == 400


def test_snapshots_cannot_be_changed_or_deleted_through_the_api(report, admin_user):
    snapshot, _ = save_report(report=report)
    api = APIClient()
    api.force_authenticate(admin_user)
    url = reverse("report-detail", args=[snapshot.pk])

    responses = [
        api.put(url, {}),
        api.patch(url, {}),
        api.delete(url),
        api.post(reverse("report-list"), {}),
    ]

    assert [r.status_code for r in responses] == [405, 405, 405, 405]


def test_the_admin_lists_shows_and_downloads_snapshots(report, viewer_client):
    snapshot, _ = save_report(report=report)

    listing = viewer_client.get(reverse("admin:recommendations_reportsnapshot_changelist"))
    page = viewer_client.get(
        reverse("admin:recommendations_reportsnapshot_change", args=[snapshot.pk])
    )
    download = viewer_client.get(
        reverse("admin:recommendations_reportsnapshot_download", args=[snapshot.pk, "csv", "en"])
    )

    assert listing.status_code == 200 and snapshot.sha256[:12] in listing.content.decode()
    assert page.status_code == 200 and "<iframe sandbox" in page.content.decode()
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Security-Policy"] == "sandbox"
    assert download.content.decode() == snapshot.csv


def test_the_admin_downloads_each_language_under_its_own_name(report, viewer_client):
    snapshot, _ = save_report(report=report)

    def download(fmt, lang):
        url = reverse(
            "admin:recommendations_reportsnapshot_download", args=[snapshot.pk, fmt, lang]
        )
        return viewer_client.get(url)

    english, chinese = download("markdown", "en"), download("markdown", "zh")
    json_file = download("json", "en")

    stem = f"status-report_{snapshot.since}_{snapshot.until}_v1"
    assert english["Content-Disposition"] == f'attachment; filename="{stem}_en.md"'
    assert chinese["Content-Disposition"] == f'attachment; filename="{stem}_zh.md"'
    assert chinese.content.decode() == snapshot.markdown_zh
    assert json_file["Content-Disposition"] == f'attachment; filename="{stem}.json"'


def test_the_admin_lists_snapshots_in_a_fixed_number_of_queries(
    report, viewer_client, django_user_model
):
    url = reverse("admin:recommendations_reportsnapshot_changelist")

    def publish(count):
        for n in range(count):
            author = django_user_model.objects.create(username=f"publisher{count}_{n}")
            save_report(report=report, by=author, force=True)

    publish(1)
    with CaptureQueriesContext(connection) as few:
        viewer_client.get(url)
    publish(4)
    with CaptureQueriesContext(connection) as many:
        listing = viewer_client.get(url)

    assert len(listing.context["cl"].result_list) == 5
    assert len(many) == len(few)
    reads = [
        q["sql"] for q in many.captured_queries if "recommendations_reportsnapshot" in q["sql"]
    ]
    assert reads and not any("html_en" in sql for sql in reads)  # the renderings stay unread
    assert listing.content.decode().count("/download/") == 5 * 6


def test_the_admin_cannot_change_or_delete_snapshots(report, admin_client):
    snapshot, _ = save_report(report=report)

    delete = admin_client.post(
        reverse("admin:recommendations_reportsnapshot_delete", args=[snapshot.pk]),
        {"post": "yes"},
    )

    assert delete.status_code == 403
    assert ReportSnapshot.objects.filter(pk=snapshot.pk).exists()


# A preview computed in a child process (recommendations/reports/preview.py)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite computes in the worker")
@pytest.mark.django_db(transaction=True)  # the child reads what is committed
def test_a_large_preview_comes_from_the_command_in_a_child_with_the_same_bytes(
    history, viewer_api, settings, monkeypatch
):
    import subprocess

    db = settings.DATABASES["default"]
    monkeypatch.setenv(
        "DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    children = []
    run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: children.append(a) or run(*a, **k))
    period = {"since": "2026-06-30", "until": "2026-09-30", "file": "json"}

    settings.REPORT_PREVIEW_CHILD_ABOVE = 1_000_000
    in_worker = viewer_api.get(reverse("report-preview"), period)
    settings.REPORT_PREVIEW_CHILD_ABOVE = 1
    in_child = viewer_api.get(reverse("report-preview"), {**period, "file": "markdown"})
    in_child_json = viewer_api.get(reverse("report-preview"), period)

    assert len(children) == 2 and "status_report" in children[0][0]
    assert in_worker.status_code == in_child_json.status_code == 200
    # The same report: only the moment it was generated differs.
    # The child's file is streamed.
    assert not in_worker.streaming and in_child_json.streaming
    worker = json.loads(in_worker.content)
    child = json.loads(b"".join(in_child_json.streaming_content))
    worker["overview"].pop("generated_at", None)
    child["overview"].pop("generated_at", None)
    assert child == worker
    assert in_child.status_code == 200 and b"1.1" in b"".join(in_child.streaming_content)


def test_a_preview_whose_child_fails_is_a_503_not_a_500(history, viewer_api, monkeypatch):
    import subprocess

    from recommendations.reports import preview

    monkeypatch.setattr(preview, "in_child", lambda since, until: True)
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda *a, **k: subprocess.CompletedProcess(a, 1, b"", b"boom"),
    )

    response = viewer_api.get(
        reverse("report-preview"), {"since": "2026-06-30", "until": "2026-09-30"}
    )

    assert response.status_code == 503
    assert "status_report" in response.json()["detail"]
