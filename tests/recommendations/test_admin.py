from datetime import date

import pytest
from django.contrib import admin
from django.urls import reverse

from evidence.models import EvidenceRevision
from recommendations.choices import Status
from recommendations.models import IdempotencyKey, Measure, ReportSnapshot, StatusUpdate
from tests.conftest import empty_inlines
from tests.factories import EvidenceFactory, MeasureFactory, RiskFactory

pytestmark = pytest.mark.django_db


def record_url(measure=None):
    url = reverse("admin:recommendations_statusupdate_add")
    return f"{url}?measure={measure.pk}" if measure else url


def post_update(client, measure, **fields):
    data = {
        "measure": measure.pk,
        "status": Status.IN_PROGRESS,
        "progress": 40,
        "confidence": "high",
        "effective_date": "2026-01-10",
        "note": "",
        "expected_version": measure.version,
        **fields,
    }
    return client.post(record_url(), data)


@pytest.mark.parametrize(
    "model", list(admin.site._registry), ids=lambda model: model._meta.label_lower
)
def test_every_admin_list_and_add_page_renders(admin_client, model):
    MeasureFactory()
    opts = model._meta

    listing = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    adding = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))

    assert listing.status_code == 200
    # Published reports come from the status_report command, keys from API requests.
    # Sign-in records are django-axes's own, read-only; so is the audit trail; evidence
    # revisions come from saves; proposals are added by those whose updates go to review
    # (never a superuser, who records); the digests sent come from the sending service, and
    # webhook deliveries from the events they announce.
    read_only = (
        model in (ReportSnapshot, IdempotencyKey, EvidenceRevision)
        or opts.app_label in ("axes", "audit")
        or opts.label_lower in ("review.proposal", "follows.digestsent", "webhooks.delivery")
    )
    assert adding.status_code == (403 if read_only else 200)


def test_admin_search_finds_measures_in_chinese_and_english(admin_client):
    MeasureFactory(code="3.2", title_zh="推广隐私计算技术", title_en="Promote privacy computing")
    MeasureFactory(code="4.1", title_zh="推行监管沙盒机制", title_en="Introduce a sandbox")
    url = reverse("admin:recommendations_measure_changelist")

    chinese = admin_client.get(url, {"q": "隐私计算"})
    english = admin_client.get(url, {"q": "sandbox"})

    assert [m.code for m in chinese.context["cl"].result_list] == ["3.2"]
    assert [m.code for m in english.context["cl"].result_list] == ["4.1"]


def test_a_measure_page_shows_its_history_latest_first(analyst_client):
    measure = MeasureFactory(starts_on=date(2025, 4, 15))
    post_update(
        analyst_client,
        measure,
        status=Status.PLANNED,
        progress=10,
        effective_date="2026-02-01",
        expected_version=1,
    )
    post_update(
        analyst_client,
        measure,
        status=Status.IN_PROGRESS,
        progress=30,
        effective_date="2026-01-01",
        expected_version=2,
        note="Started in January; re-planned in February.",
    )

    page = analyst_client.get(reverse("admin:recommendations_measure_change", args=[measure.pk]))

    history = page.context["inline_admin_formsets"][-1].formset.queryset
    assert [(u.status, u.effective_date) for u in history] == [
        (Status.PLANNED, date(2026, 2, 1)),
        (Status.IN_PROGRESS, date(2026, 1, 1)),
        (Status.NOT_ASSESSED, date(2025, 4, 15)),
    ]
    assert "Record a status update" in page.content.decode()


def test_a_long_history_shows_its_latest_entries_and_links_to_all(analyst_client):
    from datetime import timedelta

    from recommendations import services
    from recommendations.admin import HISTORY_SHOWN

    measure = MeasureFactory(starts_on=date(2025, 4, 15))
    for day in range(HISTORY_SHOWN + 5):
        services.record_status_update(
            measure=measure,
            status=Status.IN_PROGRESS,
            progress=day,
            effective_date=date(2026, 1, 1) + timedelta(days=day),
            by=None,
            today=date(2026, 6, 30),
        )

    page = analyst_client.get(reverse("admin:recommendations_measure_change", args=[measure.pk]))

    shown = [form.instance for form in page.context["inline_admin_formsets"][-1].formset.forms]
    assert len(shown) == HISTORY_SHOWN
    assert shown[0].progress == HISTORY_SHOWN + 4  # the latest first
    link = reverse("admin:recommendations_statusupdate_changelist")
    assert f'{link}?measure__id__exact={measure.pk}">All 56 entries' in page.content.decode()
    listing = analyst_client.get(f"{link}?measure__id__exact={measure.pk}")
    assert listing.context["cl"].result_count == HISTORY_SHOWN + 6


def test_an_analyst_records_an_update_through_the_admin(analyst_client, analyst):
    measure = MeasureFactory()
    proof = EvidenceFactory()

    response = post_update(
        analyst_client, measure, status=Status.IMPLEMENTED, progress=100, evidence=[proof.pk]
    )

    assert response.status_code == 302
    assert response.url == reverse("admin:recommendations_measure_change", args=[measure.pk])
    update = measure.status_updates.get(status=Status.IMPLEMENTED)
    assert (update.recorded_by, list(update.evidence.all())) == (analyst, [proof])
    measure.refresh_from_db()
    assert (measure.status, measure.progress, measure.version) == (Status.IMPLEMENTED, 100, 2)


def test_the_add_form_is_prefilled_from_the_measure(analyst_client):
    measure = MeasureFactory()

    page = analyst_client.get(record_url(measure))

    form = page.context["adminform"].form
    assert form.initial["measure"] == measure.pk
    assert form.initial["expected_version"] == 1


def test_the_admin_shows_a_broken_rule_and_writes_nothing(analyst_client):
    measure = MeasureFactory()

    response = post_update(analyst_client, measure, status=Status.IMPLEMENTED, progress=100)

    assert response.status_code == 200
    assert "Attach at least one piece of evidence" in response.content.decode()
    assert measure.status_updates.count() == 1


def test_the_admin_shows_model_rules_once(analyst_client):
    measure = MeasureFactory()

    response = post_update(analyst_client, measure, status=Status.NOT_STARTED, progress=20)

    assert response.content.decode().count("A measure that has not started is at 0%.") == 1
    assert measure.status_updates.count() == 1


def test_the_admin_refuses_a_stale_form(analyst_client):
    measure = MeasureFactory()
    post_update(analyst_client, measure, expected_version=1)

    response = post_update(
        analyst_client,
        measure,
        status=Status.PLANNED,
        progress=10,
        note="Back to planning",
        expected_version=1,
    )

    assert response.status_code == 200
    assert "has changed since you loaded it" in response.content.decode()
    assert measure.status_updates.count() == 2


def test_history_entries_cannot_be_changed_or_deleted(admin_client):
    measure = MeasureFactory()
    update = measure.status_updates.get()

    change = admin_client.post(
        reverse("admin:recommendations_statusupdate_change", args=[update.pk]),
        {"note": "rewritten"},
    )
    delete = admin_client.post(
        reverse("admin:recommendations_statusupdate_delete", args=[update.pk]), {"post": "yes"}
    )

    assert change.status_code == 403
    assert delete.status_code == 403
    assert StatusUpdate.objects.get(pk=update.pk).note == ""


def test_a_viewer_cannot_record_an_update(viewer_client):
    measure = MeasureFactory()

    page = viewer_client.get(record_url(measure))
    response = post_update(viewer_client, measure)

    assert page.status_code == 403
    assert response.status_code == 403
    assert measure.status_updates.count() == 1


def test_a_viewer_can_read_a_measure(viewer_client):
    measure = MeasureFactory(title_en="Readable")

    page = viewer_client.get(reverse("admin:recommendations_measure_change", args=[measure.pk]))

    assert page.status_code == 200
    assert "Readable" in page.content.decode()
    assert "Record a status update" not in page.content.decode()


def test_editing_a_measure_in_the_admin_bumps_its_version(analyst_client):
    measure = MeasureFactory(title_en="Old")
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    form = analyst_client.get(url).context["adminform"].form
    data = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "title_en": "New",
        "scenarios": [],
        **empty_inlines("institution_links", "risk_links", "status_updates"),
    }

    response = analyst_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    measure.refresh_from_db()
    assert (measure.title_en, measure.version) == ("New", 2)


def test_changing_only_a_measures_links_in_the_admin_is_an_edit(analyst_client):
    measure = MeasureFactory()
    risk = RiskFactory()
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    form = analyst_client.get(url).context["adminform"].form
    before = Measure.objects.get(pk=measure.pk).updated_at
    data = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "scenarios": [],
        **empty_inlines("institution_links", "status_updates"),
        "risk_links-TOTAL_FORMS": 1,
        "risk_links-INITIAL_FORMS": 0,
        "risk_links-0-risk": risk.pk,
        "risk_links-0-rationale_en": "Keeps data at home.",
    }

    response = analyst_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    measure.refresh_from_db()
    assert list(measure.risks.all()) == [risk]
    assert measure.version == 2 and measure.updated_at > before


def test_saving_a_measure_page_unchanged_keeps_its_version(analyst_client):
    measure = MeasureFactory()
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    form = analyst_client.get(url).context["adminform"].form
    data = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "scenarios": [],
        **empty_inlines("institution_links", "risk_links", "status_updates"),
    }

    response = analyst_client.post(url, data)

    assert response.status_code == 302
    assert Measure.objects.get(pk=measure.pk).version == 1


def test_editing_a_measure_with_a_stale_form_writes_nothing(analyst_client):
    measure = MeasureFactory(title_en="Old")
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    form = analyst_client.get(url).context["adminform"].form
    data = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "title_en": "Mine",
        "scenarios": [],
        **empty_inlines("institution_links", "risk_links", "status_updates"),
    }
    post_update(analyst_client, measure, expected_version=1)

    response = analyst_client.post(url, data)

    assert response.status_code == 200
    assert "has changed since you loaded it" in response.content.decode()
    assert Measure.objects.get(pk=measure.pk).title_en == "Old"


def test_a_superuser_adds_a_measure_whose_history_starts_on_the_given_date(admin_client):
    pillar = MeasureFactory().pillar
    data = {
        "pillar": pillar.pk,
        "code": "9.9",
        "title_zh": "新措施",
        "title_en": "New measure",
        "description_zh": "",
        "description_en": "",
        "history_starts_on": "2026-01-05",
        "priority": "",
        "review_every_days": 90,
        **empty_inlines("institution_links", "risk_links", "status_updates"),
    }

    response = admin_client.post(reverse("admin:recommendations_measure_add"), data)

    assert response.status_code == 302
    measure = Measure.objects.get(code="9.9")
    assert list(measure.status_updates.values_list("status", "effective_date")) == [
        (Status.NOT_ASSESSED, date(2026, 1, 5))
    ]


def test_the_admin_refuses_a_history_starting_in_the_future(admin_client):
    pillar = MeasureFactory().pillar
    data = {
        "pillar": pillar.pk,
        "code": "9.9",
        "title_zh": "新措施",
        "title_en": "New measure",
        "history_starts_on": "2999-01-01",
        "priority": "",
        "review_every_days": 90,
        **empty_inlines("institution_links", "risk_links", "status_updates"),
    }

    response = admin_client.post(reverse("admin:recommendations_measure_add"), data)

    assert response.status_code == 200
    assert "cannot start in the future" in str(response.context["adminform"].form.errors)
    assert not Measure.objects.filter(code="9.9").exists()


@pytest.mark.parametrize("measure_param", ["abc", "1.5", "999999"])
def test_a_bad_measure_in_the_add_link_prefills_nothing(analyst_client, measure_param):
    MeasureFactory()

    page = analyst_client.get(f"{record_url()}?measure={measure_param}")

    assert page.status_code == 200
    assert page.context["adminform"].form.initial.get("measure") is None


@pytest.mark.parametrize(
    ("field", "value"), [("measure", "abc"), ("evidence", "abc"), ("evidence", ["1.5", "x"])]
)
def test_a_hand_made_post_with_an_unparsable_choice_is_a_form_error(analyst_client, field, value):
    measure = MeasureFactory()
    data = {
        "measure": measure.pk,
        "status": Status.PLANNED,
        "progress": 10,
        "confidence": "high",
        "effective_date": "2026-01-10",
        "expected_version": measure.version,
        field: value,
    }

    response = analyst_client.post(record_url(), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert measure.status_updates.count() == 1


def test_measures_cannot_be_deleted_in_the_admin_but_can_be_archived(admin_client):
    measure = MeasureFactory()
    changelist = reverse("admin:recommendations_measure_changelist")

    delete = admin_client.post(
        reverse("admin:recommendations_measure_delete", args=[measure.pk]), {"post": "yes"}
    )
    archive = admin_client.post(changelist, {"action": "archive", "_selected_action": [measure.pk]})

    assert delete.status_code == 403
    assert archive.status_code == 302
    measure.refresh_from_db()
    assert (measure.archived, measure.version) == (True, 2)


def test_the_admin_speaks_chinese_to_a_chinese_browser(admin_client):
    MeasureFactory(title_zh="推广隐私计算技术", title_en="Promote privacy computing")

    page = admin_client.get(
        reverse("admin:recommendations_measure_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    content = page.content.decode()
    assert "推广隐私计算技术" in content
    assert "措施" in content  # the model's name, translated
    assert "Promote privacy computing" not in content


def test_the_record_forms_labels_are_capitalised_like_the_models(analyst_client):
    measure = MeasureFactory()

    page = analyst_client.get(record_url(measure)).content.decode()

    assert '<label for="id_evidence">Evidence:</label>' in page
    assert '<label for="id_note">Note:</label>' in page


def test_the_record_form_offers_only_what_a_new_entry_may_say_and_no_confidence(
    analyst_client,
):
    measure = MeasureFactory()

    form = analyst_client.get(record_url(measure)).context["adminform"].form

    offered = [value for value, _label in form.fields["status"].choices if value]
    assert offered == [s for s in Status.values if s != Status.NOT_ASSESSED]
    assert form.initial.get("confidence") is None
    assert form.fields["confidence"].required


def test_the_record_form_refuses_an_entry_without_a_confidence(analyst_client):
    measure = MeasureFactory()

    response = post_update(analyst_client, measure, confidence="")

    assert response.status_code == 200
    assert "confidence" in response.context["adminform"].form.errors
    assert measure.status_updates.count() == 1


def test_the_record_form_shows_the_state_it_moves_from(analyst_client):
    measure = MeasureFactory()
    post_update(analyst_client, measure, status=Status.PLANNED, progress=10)

    page = analyst_client.get(record_url(measure)).content.decode()

    assert "Now: Planned, progress 10%, since 2026-01-10." in page
    assert "To correct a mistaken entry, record a new one with the same effective date" in page


def test_correct_this_entry_prefills_a_new_entry_that_names_the_one_it_corrects(
    analyst_client,
):
    measure = MeasureFactory()
    post_update(analyst_client, measure, status=Status.IN_PROGRESS, progress=40)
    mistaken = measure.status_updates.get(status=Status.IN_PROGRESS)

    page = analyst_client.get(
        reverse("admin:recommendations_statusupdate_change", args=[mistaken.pk])
    )
    link = page.context["correction_link"]
    form = analyst_client.get(link).context["adminform"].form
    corrected = post_update(
        analyst_client,
        measure,
        status=Status.PLANNED,
        progress=20,
        effective_date=form.initial["effective_date"],
        note=form.initial["note"] + "progress was misread.",
        expected_version=Measure.objects.get(pk=measure.pk).version,
    )

    assert "Correct this entry" in page.content.decode()
    assert (form.initial["status"], form.initial["progress"]) == ("in_progress", "40")
    assert form.initial["note"] == f"Corrects the entry of 2026-01-10 (#{mistaken.pk}): "
    assert corrected.status_code == 302
    measure.refresh_from_db()
    assert (measure.status, measure.progress) == (Status.PLANNED, 20)
    assert measure.status_updates.count() == 3


def test_a_viewer_is_not_offered_to_correct_an_entry(viewer_client):
    measure = MeasureFactory()
    first = measure.status_updates.get()

    page = viewer_client.get(reverse("admin:recommendations_statusupdate_change", args=[first.pk]))

    assert page.status_code == 200
    assert "correction_link" not in page.context
