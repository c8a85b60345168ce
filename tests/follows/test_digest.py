"""What a digest says: the period's changes in what its reader follows (a measure, every
measure of a followed pillar, every measure addressing a followed risk), by pillar and
measure, each status change from what it was to what it became; for analysts, the followed
measures due for reassessment or overdue; in the reader's language."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from follows.choices import Frequency
from follows.digest import build_digest, render_digest
from follows.periods import Period, last_period
from recommendations.choices import Status
from recommendations.models import MeasureRisk
from tests.factories import MeasureFactory, PillarFactory, RiskFactory

from .conftest import LAST_WEEK, SEND_DAY, YESTERDAY, follow, happening_at, record

pytestmark = pytest.mark.django_db

DAILY = last_period(frequency=Frequency.DAILY, today=SEND_DAY)


def codes(digest) -> list[str]:
    return [m.code for pillar in digest.pillars for m in pillar.measures]


def test_the_periods_are_the_day_before_and_the_seven_days_before_the_weekday():
    assert DAILY == Period("daily", date(2026, 6, 29), date(2026, 6, 29))
    # Tuesday the 30th: the latest Monday is the 29th, so the ISO week of 22 to 28 June.
    assert last_period(frequency="weekly", weekday=1, today=SEND_DAY) == Period(
        "weekly", date(2026, 6, 22), date(2026, 6, 28)
    )
    # A Friday reader, on Tuesday: the seven days before last Friday (the 26th).
    assert last_period(frequency="weekly", weekday=5, today=SEND_DAY) == Period(
        "weekly", date(2026, 6, 19), date(2026, 6, 25)
    )


def test_a_followed_measure_s_status_change_is_told_from_what_it_was_to_what_it_became(
    follower,
):
    measure = MeasureFactory(code="3.2")
    follow(follower, measure=measure)
    with happening_at(YESTERDAY):
        record(measure, status=Status.PLANNED, progress=10, day=date(2026, 6, 20))
        record(measure, status=Status.IN_PROGRESS, progress=40, day=date(2026, 6, 28))

    digest = build_digest(user=follower, period=DAILY, today=SEND_DAY)

    [pillar] = digest.pillars
    [news] = pillar.measures
    assert news.code == "3.2"
    assert [
        (c.from_status, c.from_progress, c.to_status, c.to_progress) for c in news.status_changes
    ] == [
        (Status.NOT_ASSESSED, None, Status.PLANNED, 10),
        (Status.PLANNED, 10, Status.IN_PROGRESS, 40),
    ]
    assert digest.changes == 2


def test_a_back_dated_update_moves_from_the_entry_before_it_in_history(follower):
    measure = MeasureFactory()
    follow(follower, measure=measure)
    record(measure, status=Status.IN_PROGRESS, progress=40, day=date(2026, 5, 1))
    with happening_at(YESTERDAY):
        record(measure, status=Status.PLANNED, progress=10, day=date(2026, 3, 1))

    [change] = (
        build_digest(user=follower, period=DAILY, today=SEND_DAY)
        .pillars[0]
        .measures[0]
        .status_changes
    )

    assert (change.from_status, change.to_status) == (Status.NOT_ASSESSED, Status.PLANNED)


def test_every_measure_of_a_followed_pillar_and_of_a_followed_risk_is_in(follower):
    pillar = PillarFactory(number=3)
    in_pillar = MeasureFactory(code="3.1", pillar=pillar)
    risk = RiskFactory(key="data-security")
    addressing = MeasureFactory(code="4.2", pillar=PillarFactory(number=4))
    MeasureRisk.objects.create(measure=addressing, risk=risk)
    elsewhere = MeasureFactory(code="5.1", pillar=PillarFactory(number=5))
    follow(follower, pillar=pillar)
    follow(follower, risk=risk)
    with happening_at(YESTERDAY):
        for measure in (in_pillar, addressing, elsewhere):
            record(measure)

    digest = build_digest(user=follower, period=DAILY, today=SEND_DAY)

    assert [p.number for p in digest.pillars] == [3, 4]
    assert codes(digest) == ["3.1", "4.2"]


def test_what_is_not_followed_or_happened_outside_the_period_is_left_out(
    follower, django_user_model
):
    followed, other = MeasureFactory(code="1.1"), MeasureFactory(code="1.2")
    follow(follower, measure=followed)
    with happening_at(LAST_WEEK):
        record(followed, day=date(2026, 6, 20))
    with happening_at(YESTERDAY):
        record(other)

    digest = build_digest(user=follower, period=DAILY, today=SEND_DAY)

    assert digest.pillars == []
    assert digest.empty


def test_someone_else_s_follows_are_not_mine(follower, analyst_follower):
    measure = MeasureFactory()
    follow(analyst_follower, measure=measure)
    with happening_at(YESTERDAY):
        record(measure)

    assert build_digest(user=follower, period=DAILY, today=SEND_DAY).empty


def test_an_edit_of_a_followed_measure_is_told(follower):
    from recommendations import services

    measure = MeasureFactory()
    follow(follower, measure=measure)
    with happening_at(YESTERDAY):
        services.update_measure(measure=measure, changes={"priority": "high"}, by=None)

    [news] = build_digest(user=follower, period=DAILY, today=SEND_DAY).pillars[0].measures

    assert news.edits == 1


def test_analysts_get_what_is_due_or_overdue_in_what_they_follow_and_viewers_do_not(
    follower, analyst_follower
):
    pillar = PillarFactory(number=2)
    overdue = MeasureFactory(code="2.1", pillar=pillar, target_date=date(2026, 3, 31))
    MeasureFactory(code="2.2", pillar=pillar, starts_on=date(2026, 6, 1))  # looked at lately
    unfollowed = MeasureFactory(code="9.1", target_date=date(2026, 3, 31))
    record(overdue, day=date(2026, 6, 28))
    for reader in (follower, analyst_follower):
        follow(reader, pillar=pillar)

    for_analyst = build_digest(user=analyst_follower, period=DAILY, today=SEND_DAY)
    for_viewer = build_digest(user=follower, period=DAILY, today=SEND_DAY)

    blocks = {block.kind: [item.code for item in block.items] for block in for_analyst.attention}
    assert blocks == {"reassessment_due": [], "overdue": ["2.1"]}
    assert unfollowed.code not in str(blocks)
    assert not for_analyst.empty  # nothing changed, but something is overdue
    assert for_viewer.attention == []
    assert for_viewer.empty


def test_reassessment_due_is_judged_on_the_day_the_digest_is_written(analyst_follower):
    measure = MeasureFactory(code="1.1")
    measure.review_every_days = 30
    measure.save(update_fields=["review_every_days"])
    record(measure, day=date(2026, 5, 1))
    follow(analyst_follower, measure=measure)

    digest = build_digest(user=analyst_follower, period=DAILY, today=SEND_DAY)

    assert [(b.kind, b.count) for b in digest.attention] == [
        ("reassessment_due", 1),
        ("overdue", 0),
    ]


def test_the_digest_reads_in_the_reader_s_language(follower):
    measure = MeasureFactory(code="3.2", title_zh="推广隐私计算技术", title_en="Promote privacy")
    follow(follower, measure=measure)
    with happening_at(YESTERDAY):
        record(measure, status=Status.PLANNED, progress=10)
    digest = build_digest(user=follower, period=DAILY, today=SEND_DAY)

    subject_en, text_en, html_en = render_digest(digest, "en")
    subject_zh, text_zh, html_zh = render_digest(digest, "zh")

    assert subject_en == "Policy tracker: what changed on 2026-06-29"
    assert "3.2 Promote privacy" in text_en
    assert "2026-06-28: Not assessed → Planned (10%)" in text_en
    assert "Promote privacy</a>" in html_en
    assert subject_zh == "政策建议落实追踪：2026-06-29 的变化"
    assert "3.2 推广隐私计算技术" in text_zh
    assert "2026-06-28：未评估 → 已规划（10%）" in text_zh
    assert 'lang="zh-Hans"' in html_zh
    assert "/admin/recommendations/measure/" in text_en


def test_building_a_digest_costs_the_same_queries_for_one_event_or_many(
    analyst_follower, django_assert_num_queries
):
    pillar = PillarFactory(number=1)
    risk = RiskFactory()
    measures = [MeasureFactory(code=f"1.{n}", pillar=pillar) for n in range(1, 7)]
    MeasureRisk.objects.create(measure=measures[0], risk=risk)
    follow(analyst_follower, pillar=pillar)
    follow(analyst_follower, risk=risk)
    follow(analyst_follower, measure=measures[1])
    with happening_at(YESTERDAY):
        record(measures[0])

    with CaptureQueriesContext(connection) as one:
        small = build_digest(user=analyst_follower, period=DAILY, today=SEND_DAY)
    with happening_at(YESTERDAY):
        for measure in measures:
            record(measure, status=Status.PLANNED, progress=10, day=date(2026, 6, 27))
            record(measure, status=Status.IN_PROGRESS, progress=30, day=date(2026, 6, 28))
    # 1: the events with their measures and pillars; 2: each status update's previous entry;
    # 3: whether the reader is an analyst; 4: the followed measures; 5: the measures' states.
    with django_assert_num_queries(len(one.captured_queries)):
        large = build_digest(user=analyst_follower, period=DAILY, today=SEND_DAY)

    assert len(one.captured_queries) == 5
    assert (small.changes, large.changes) == (1, 13)


def test_a_decided_proposal_is_told_with_the_update_it_became(follower, reporter, analyst):
    from review import services as review

    measure = MeasureFactory(code="3.2")
    follow(follower, measure=measure)
    proposal = review.propose(
        measure=measure,
        status=Status.PLANNED,
        progress=10,
        effective_date=date(2026, 6, 28),
        note="Plan adopted",
        by=reporter,
        today=SEND_DAY,
    )
    with happening_at(YESTERDAY):
        review.approve(proposal=proposal, by=analyst, today=SEND_DAY)

    digest = build_digest(user=follower, period=DAILY, today=SEND_DAY)
    _subject, text, _html = render_digest(digest, "en")

    [news] = digest.pillars[0].measures
    assert news.decisions == [("approved", Status.PLANNED)]
    assert "Proposed update to “Planned”: Approved" in text
    assert "2026-06-28: Not assessed → Planned (10%)" in text
