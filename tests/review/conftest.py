"""Who reviews whom: a reporter, a second analyst, and a measure the reporter's institution
is responsible for."""

from datetime import date

import pytest

from recommendations.models import MeasureInstitution
from recommendations.roles import ANALYST
from review import services
from tests.conftest import TODAY, authenticated_as, make_user
from tests.factories import InstitutionFactory, MeasureFactory


@pytest.fixture
def second_analyst(django_user_model):
    return make_user(django_user_model, "abe", ANALYST)


@pytest.fixture
def reporter_api(api, reporter):
    return authenticated_as(api, reporter)


@pytest.fixture
def institution():
    return InstitutionFactory(key="pboc")


@pytest.fixture
def measure(institution):
    """A measure the institution `pboc` leads, its history starting 2025-01-01."""
    measure = MeasureFactory(code="3.2")
    MeasureInstitution.objects.create(measure=measure, institution=institution, role="lead")
    return measure


def propose(measure, by, status="in_progress", progress=30, day=date(2026, 3, 1), **kwargs):
    kwargs.setdefault("note", "Pilots in two banks")
    return services.propose(
        measure=measure,
        status=status,
        progress=progress,
        effective_date=day,
        by=by,
        today=TODAY,
        **kwargs,
    )
