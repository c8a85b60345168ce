"""Followers, subscribed long before the periods the tests read, and a way to say when the
events a block writes happened."""

from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Max

from events.models import Event
from follows import services
from follows.choices import Frequency
from follows.models import DigestSettings
from recommendations import services as recommendations
from recommendations.choices import Status
from tests.conftest import make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The digests are written on Tuesday 30 June 2026: the daily one tells of Monday the 29th,
# a Monday weekly one of the week of 22 to 28 June.
SEND_DAY = date(2026, 6, 30)
YESTERDAY = datetime(2026, 6, 29, 10, 0, tzinfo=SHANGHAI)
LAST_WEEK = datetime(2026, 6, 24, 10, 0, tzinfo=SHANGHAI)
LONG_AGO = datetime(2026, 1, 1, tzinfo=SHANGHAI)


@contextmanager
def happening_at(moment: datetime):
    """The events written inside the block happened at `moment` (the outbox stamps them with
    the database's clock)."""
    last = Event.objects.aggregate(last=Max("id"))["last"] or 0
    yield
    Event.objects.filter(id__gt=last).update(occurred_at=moment)


def subscribe(user, *, frequency=Frequency.DAILY, language="en", weekday=1, email=None):
    """`user`'s digest settings, made long before the periods read."""
    DigestSettings.objects.update_or_create(
        user=user,
        defaults={
            "frequency": frequency,
            "language": language,
            "weekday": weekday,
            "email": f"{user.username}@example.org" if email is None else email,
            "created_at": LONG_AGO,
        },
    )
    return user


def follow(user, **target):
    return services.follow(user=user, **target)


def record(measure, status=Status.IN_PROGRESS, progress=40, day=date(2026, 6, 28), **fields):
    fields.setdefault("note", "Pilots in two banks")
    return recommendations.record_status_update(
        measure=measure,
        status=status,
        progress=progress,
        confidence="medium",
        effective_date=day,
        by=None,
        today=SEND_DAY,
        **fields,
    )


@pytest.fixture
def follower(django_user_model):
    """A viewer with a daily digest in English."""
    return subscribe(make_user(django_user_model, "fay", "viewer"))


@pytest.fixture
def analyst_follower(django_user_model):
    return subscribe(make_user(django_user_model, "abe", "analyst"))
