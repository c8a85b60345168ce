"""Every admin changelist filters only by what its admin declares; query strings with null
characters are a 400; a database that is busy is a 503 page, not a 500."""

from datetime import date

import pytest
from django.contrib import admin
from django.db import connection
from django.urls import reverse

from recommendations.admin import StatusUpdateAdmin
from recommendations.models import Measure, ReportSnapshot, StatusUpdate
from tests.factories import MeasureFactory

pytestmark = pytest.mark.django_db


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize(
    ("model", "query"),
    [
        (ReportSnapshot, "report_json__regex=(a%2B)%2B%24"),
        (Measure, "code=%00"),
        (Measure, "target_date__year=-1"),
        (Measure, "title_en__icontains=x"),
        (Measure, "pillar__title_en__startswith=x"),
        (StatusUpdate, "note__regex=.*"),
        (StatusUpdate, "recorded_by__password__startswith=pbkdf2"),
    ],
)
def test_a_filter_the_admin_does_not_declare_is_a_400(viewer_client, model, query):
    MeasureFactory()

    response = viewer_client.get(f"{changelist(model)}?{query}")

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("model", "query", "rows"),
    [
        (Measure, "status__exact=not_assessed", 2),
        (Measure, "archived__exact=1", 0),
        (Measure, "risks__isnull=True", 2),
        (StatusUpdate, "effective_date__year=2025", 2),
        (StatusUpdate, "effective_date__year=-1", None),  # Django's own "?e=1" page
    ],
)
def test_the_declared_filters_still_work(viewer_client, model, query, rows):
    MeasureFactory.create_batch(2, starts_on=date(2025, 4, 15), target_date=None)

    response = viewer_client.get(f"{changelist(model)}?{query}", follow=True)

    assert response.status_code == 200
    if rows is not None:
        assert response.context["cl"].result_count == rows


def test_a_measures_full_history_link_filters_the_status_updates(viewer_client):
    measure, _other = MeasureFactory.create_batch(2)

    response = viewer_client.get(f"{changelist(StatusUpdate)}?measure__id__exact={measure.pk}")

    assert response.status_code == 200
    assert {u.measure_id for u in response.context["cl"].result_list} == {measure.pk}


@pytest.mark.parametrize("query", ["q=%00", "status__exact=%00", "%00=1"])
def test_a_null_character_in_an_admin_query_is_a_400(viewer_client, query):
    response = viewer_client.get(f"{changelist(Measure)}?{query}")

    assert response.status_code == 400


def test_every_registered_admin_filters_only_by_declared_lookups():
    for model, model_admin in admin.site._registry.items():
        assert not model_admin.lookup_allowed("id__regex", ".*", None), model


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: statement timeout")
def test_a_statement_timeout_in_the_admin_is_a_503_page(viewer_client, monkeypatch):
    def slow_queryset(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 50")
            cursor.execute("SELECT pg_sleep(1)")

    monkeypatch.setattr(StatusUpdateAdmin, "get_queryset", slow_queryset)

    response = viewer_client.get(changelist(StatusUpdate))

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
