"""Error pages outside the API: in the admin's look and the reader's language, saying what
happened and what to do, and nothing of the server's internals (tests run with DEBUG off)."""

import pytest
from django.test import Client
from django.urls import reverse

from dashboard import views
from tests.factories import MeasureFactory

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
FRAME = 'id="site-name"'  # the admin's header


def test_an_analyst_opening_a_user_page_gets_a_403_page_saying_whom_to_ask(analyst_client, analyst):
    measure = MeasureFactory()
    history = reverse("admin:recommendations_measure_change", args=[measure.pk])
    user_page = reverse("admin:auth_user_change", args=[analyst.pk])

    chinese = analyst_client.get(user_page, HTTP_REFERER=f"http://testserver{history}", **ZH)
    english = analyst_client.get(user_page, **EN)

    assert chinese.status_code == english.status_code == 403
    text = chinese.content.decode()
    assert FRAME in text and "您无权打开此页" in text and "请向管理员申请访问权限" in text
    assert f'href="http://testserver{history}"' in text  # back where the link was
    assert 'aria-pressed="true">中文' in text  # the language switch
    assert "Forbidden" not in text
    assert "You may not open this page" in english.content.decode()


def test_a_viewer_refused_a_form_is_told_to_ask_for_the_analyst_role(viewer_client):
    page = viewer_client.get(reverse("admin:recommendations_statusupdate_add"), **ZH)

    assert page.status_code == 403
    assert "请向管理员申请分析员角色" in page.content.decode()


def test_a_link_to_elsewhere_is_not_offered_as_the_way_back(analyst_client, analyst):
    page = analyst_client.get(
        reverse("admin:auth_user_change", args=[analyst.pk]),
        HTTP_REFERER="https://evil.example/",
    )

    assert "evil.example" not in page.content.decode()


@pytest.mark.parametrize(("headers", "title"), [(ZH, "页面不存在"), (EN, "Page not found")])
def test_a_missing_page_is_a_404_page_in_the_readers_language(analyst_client, headers, title):
    page = analyst_client.get("/admin/recommendations/nothing-here/", **headers)

    assert page.status_code == 404
    assert FRAME in page.content.decode() and title in page.content.decode()


def test_a_404_under_the_api_stays_json(analyst_client):
    page = analyst_client.get("/api/v1/nothing-here/", **ZH)

    assert page.status_code == 404 and page["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("headers", "title"), [(ZH, "服务器出错"), (EN, "Something went wrong on the server")]
)
def test_a_server_error_is_a_500_page_that_shows_nothing_of_it(
    analyst_client, monkeypatch, headers, title
):
    def broken(request):
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(views, "home_page", broken)
    analyst_client.raise_request_exception = False

    page = analyst_client.get(reverse("admin:index"), **headers)

    text = page.content.decode()
    assert page.status_code == 500
    assert FRAME in text and title in text
    assert "secret detail" not in text and "RuntimeError" not in text and "Traceback" not in text


@pytest.mark.parametrize(
    ("headers", "title"), [(ZH, "无法处理此请求"), (EN, "This request cannot be answered")]
)
def test_a_filter_the_list_does_not_offer_is_a_400_page(viewer_client, headers, title):
    changelist = reverse("admin:recommendations_reportsnapshot_changelist")

    page = viewer_client.get(f"{changelist}?report_json__regex=x", **headers)

    assert page.status_code == 400
    assert FRAME in page.content.decode() and title in page.content.decode()


@pytest.mark.parametrize(
    ("headers", "title"), [(ZH, "无法验证此表单"), (EN, "This form could not be checked")]
)
def test_a_form_without_its_csrf_token_is_a_403_page_saying_what_to_do(analyst, headers, title):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)

    page = client.post(reverse("set_language"), {"language": "en"}, **headers)

    assert page.status_code == 403
    assert FRAME in page.content.decode() and title in page.content.decode()
