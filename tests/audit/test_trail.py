"""The audit trail is written: each change through the admin, the API or a command is
recorded with its user, channel, and each field before and after."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import Change, Channel
from audit.selectors import trail
from evidence.choices import Attribution, Stance
from evidence.models import EvidenceFigure, EvidenceMeasure
from recommendations import services
from recommendations.choices import Status
from recommendations.models import Measure, MeasureRisk
from tests.conftest import TODAY, api_token, empty_inlines
from tests.factories import (
    EvidenceFactory,
    MeasureFactory,
    RiskFactory,
    ScenarioFactory,
    SourceFactory,
)
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db


def entries(model, object_id=None) -> list[Change]:
    changes = Change.objects.filter(
        content_type__app_label=model._meta.app_label, content_type__model=model._meta.model_name
    )
    if object_id is not None:
        changes = changes.filter(object_id=object_id)
    return list(changes.order_by("id"))


def test_a_measure_edited_in_the_admin_is_recorded_with_its_user_and_values(
    analyst_client, analyst
):
    measure = MeasureFactory(title_en="Old title")
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    form = analyst_client.get(url).context["adminform"].form
    data = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "title_en": "New title",
        "scenarios": [],
        **empty_inlines("institution_links", "risk_links", "status_updates"),
    }

    response = analyst_client.post(url, data)

    assert response.status_code == 302
    change = entries(Measure, measure.pk)[-1]
    assert (change.action, change.channel, change.actor_user_id, change.actor_username) == (
        Change.Action.UPDATE,
        Channel.ADMIN,
        analyst.pk,
        "ana",
    )
    assert change.changes == {"title_en": ["Old title", "New title"]}
    assert change.via == f"POST {url}"


def test_a_link_added_in_the_admin_is_recorded_on_the_measures_trail(analyst_client):
    measure = MeasureFactory()
    risk = RiskFactory()
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    form = analyst_client.get(url).context["adminform"].form
    data = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "scenarios": [],
        **empty_inlines("institution_links", "status_updates"),
        "risk_links-TOTAL_FORMS": 1,
        "risk_links-INITIAL_FORMS": 0,
        "risk_links-0-risk": risk.pk,
        "risk_links-0-rationale_en": "Keeps data at home.",
    }

    analyst_client.post(url, data)

    link = MeasureRisk.objects.get(measure=measure)
    (change,) = entries(MeasureRisk, link.pk)
    assert (change.action, change.channel, change.parent_model, change.parent_id) == (
        Change.Action.CREATE,
        Channel.ADMIN,
        "recommendations.measure",
        measure.pk,
    )
    assert change.changes["rationale_en"] == [None, "Keeps data at home."]
    assert change in trail(Change.objects.all(), "recommendations.measure", measure.pk)


def test_a_measure_patched_over_the_api_with_a_token_is_recorded_with_its_user(analyst):
    measure = MeasureFactory(priority="low")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(analyst)}")
    url = reverse("measure-detail", args=[measure.pk])

    response = client.patch(url, {"priority": "high", "target_date": "2027-06-30"}, format="json")

    assert response.status_code == 200, response.content
    change = entries(Measure, measure.pk)[-1]
    assert (change.channel, change.actor_username, change.via) == (
        Channel.API,
        "ana",
        f"PATCH {url}",
    )
    assert change.changes == {"priority": ["low", "high"], "target_date": [None, "2027-06-30"]}
    assert change.remote_addr == "127.0.0.1"


def test_a_scenario_unlinked_from_a_measure_is_recorded(analyst_api):
    scenario = ScenarioFactory(title_en="Smart advice")
    measure = MeasureFactory()
    measure.scenarios.add(scenario)

    measure.scenarios.remove(scenario)

    change = entries(Measure, measure.pk)[-1]
    assert change.changes == {
        "scenarios": {"type": "m2m", "operation": "delete", "objects": [str(scenario)]}
    }


def test_evidence_posted_over_the_api_records_its_figures_and_links(analyst_api, analyst):
    measure = MeasureFactory()
    body = {
        "source": SourceFactory().pk,
        "attribution": Attribution.CITED,
        "claim_zh": "新的证据",
        "claim_en": "New evidence",
        "figures": [
            {
                "value": "12",
                "unit": "%",
                "qualifier": "exact",
                "measures_zh": "份额",
                "measures_en": "share",
            }
        ],
        "measures": [{"measure": measure.code, "stance": Stance.SUPPORTS}],
    }

    response = analyst_api.post(reverse("evidence-list"), body, format="json")

    assert response.status_code == 201, response.content
    evidence_id = response.json()["id"]
    figure, link = EvidenceFigure.objects.get(), EvidenceMeasure.objects.get()
    (figure_entry,) = entries(EvidenceFigure, figure.pk)
    (link_entry,) = entries(EvidenceMeasure, link.pk)
    assert figure_entry.changes["value"][0] is None
    assert Decimal(figure_entry.changes["value"][1]) == 12
    assert link_entry.changes["stance"] == [None, Stance.SUPPORTS]
    assert {figure_entry.channel, link_entry.channel} == {Channel.API}
    assert {figure_entry.actor_username, link_entry.actor_username} == {"ana"}
    assert {figure_entry.parent_id, link_entry.parent_id} == {evidence_id}


def test_replacing_evidence_figures_records_the_old_ones_deleted_and_the_new_created(analyst_api):
    evidence = EvidenceFactory()
    EvidenceFigure.objects.create(evidence=evidence, order=1, value=Decimal(3), measures_en="old")
    url = reverse("evidence-detail", args=[evidence.pk])

    response = analyst_api.patch(
        url, {"figures": [{"value": "4", "measures_zh": "新", "measures_en": "new"}]}, format="json"
    )

    assert response.status_code == 200, response.content
    figures = [c for c in trail(Change.objects.order_by("id"), "evidence.evidence", evidence.pk)]
    actions = [
        (c.action, [None if v is None else Decimal(v) for v in c.changes["value"]])
        for c in figures
        if c.content_type.model == "evidencefigure"
    ]
    assert actions[-2:] == [
        (Change.Action.DELETE, [Decimal(3), None]),
        (Change.Action.CREATE, [None, Decimal(4)]),
    ]


def test_a_command_records_its_changes_as_a_command_without_the_token(analyst):
    out = StringIO()

    call_command("create_api_token", analyst.username, stdout=out, stderr=StringIO())

    key = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(user=analyst)
    (change,) = entries(ApiToken)
    assert (change.channel, change.via, change.actor_user_id) == (
        Channel.COMMAND,
        "create_api_token",
        None,
    )
    assert change.object_pk == str(token.pk)
    assert key not in f"{change.object_repr} {change.changes} {change.object_pk}"
    assert token.digest not in str(change.changes)
    assert "digest" not in change.changes


def test_a_password_change_is_recorded_without_the_password(admin_user, analyst):
    analyst.set_password("another horse battery staple")
    analyst.save()

    change = entries(type(analyst), analyst.pk)[-1]
    assert change.changes == {"password": ["[redacted]", "[redacted]"]}


def test_group_membership_is_recorded(analyst):
    group = Group.objects.create(name="auditors")

    analyst.groups.add(group)

    change = entries(type(analyst), analyst.pk)[-1]
    assert change.changes["groups"]["objects"] == ["auditors"]


def test_a_deleted_user_leaves_their_changes_and_name_on_record(django_user_model):
    user = django_user_model.objects.create_user(username="gone")
    source = SourceFactory(title="Before")
    client = APIClient()
    client.force_authenticate(user)
    user.is_superuser = True
    user.save()
    client.patch(reverse("source-detail", args=[source.pk]), {"title": "After"}, format="json")

    user.delete()

    change = entries(type(source), source.pk)[-1]
    assert (change.actor_username, change.changes) == ("gone", {"title": ["Before", "After"]})


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_change SET object_repr = 'x'", "DELETE FROM audit_change"]
)
def test_the_database_refuses_to_change_or_delete_the_trail(statement):
    SourceFactory()
    assert Change.objects.exists()

    with pytest.raises((IntegrityError, DatabaseError), match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)

    assert Change.objects.filter(object_repr="x").count() == 0


def test_the_orm_cannot_change_the_trail_either():
    SourceFactory()
    change = Change.objects.first()
    change.object_repr = "rewritten"

    with pytest.raises((IntegrityError, DatabaseError)):
        with transaction.atomic():
            change.save()
    with pytest.raises((IntegrityError, DatabaseError)):
        with transaction.atomic():
            Change.objects.all().delete()


def test_a_status_update_is_left_to_status_history(analyst):
    measure = MeasureFactory()
    before = Change.objects.count()

    services.record_status_update(
        measure=measure,
        status=Status.PLANNED,
        progress=10,
        effective_date=date(2026, 1, 1),
        by=analyst,
        today=TODAY,
    )

    measure.refresh_from_db()
    assert measure.status == Status.PLANNED
    assert Change.objects.count() == before


def test_the_seed_command_records_what_it_loads_as_a_command():
    call_command("load_seed", stdout=StringIO())

    measure = Measure.objects.get(code="3.2")
    (created,) = entries(Measure, measure.pk)
    assert (created.action, created.channel, created.via, created.actor_username) == (
        Change.Action.CREATE,
        Channel.COMMAND,
        "load_seed",
        "",
    )
    assert created.changes["code"] == [None, "3.2"]
    assert "status" not in created.changes  # the current state is status history's


def test_a_token_made_in_the_admin_is_recorded_without_its_key(admin_client, analyst):
    response = admin_client.post(
        reverse("admin:tokens_apitoken_add"), {"user": analyst.pk, "name": "etl", "days": 30}
    )

    assert response.status_code == 200
    token = ApiToken.objects.get(user=analyst)
    (change,) = entries(ApiToken)
    assert (change.channel, change.actor_username, change.object_pk) == (
        Channel.ADMIN,
        "admin",
        str(token.pk),
    )
    assert token.digest not in f"{change.object_repr} {change.changes} {change.via}"
    assert token.prefix in response.content.decode()


def test_a_forged_client_address_behind_a_proxy_is_not_stored(analyst, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    source = SourceFactory(title="Before")
    client = APIClient()
    client.force_authenticate(analyst)

    response = client.patch(
        reverse("source-detail", args=[source.pk]),
        {"title": "After"},
        format="json",
        HTTP_X_FORWARDED_FOR="not-an-address",
    )

    assert response.status_code == 200
    assert entries(type(source), source.pk)[-1].remote_addr is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
@pytest.mark.django_db(transaction=True)  # rows committed: TRUNCATE waits for no deferred check
def test_postgresql_refuses_to_truncate_the_trail():
    SourceFactory()

    with pytest.raises(IntegrityError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_change")

    assert Change.objects.exists()
