"""What each role may do, where the admin and the API both read it: the groups' permissions."""

import pytest
from django.urls import reverse

from evidence.models import Evidence
from recommendations.models import IdempotencyKey
from tests.factories import EvidenceFactory

pytestmark = pytest.mark.django_db


def test_an_analyst_may_not_delete_evidence_that_history_could_cite(analyst_client, analyst):
    evidence = EvidenceFactory()

    page = analyst_client.get(reverse("admin:evidence_evidence_delete", args=[evidence.pk]))
    post = analyst_client.post(
        reverse("admin:evidence_evidence_delete", args=[evidence.pk]), {"post": "yes"}
    )

    assert not analyst.has_perm("evidence.delete_evidence")
    assert analyst.has_perm("evidence.change_evidence")
    assert (page.status_code, post.status_code) == (403, 403)
    assert Evidence.objects.filter(pk=evidence.pk).exists()


@pytest.mark.parametrize("role", ["viewer_client", "analyst_client"])
def test_only_superusers_see_the_apis_remembered_requests(request, role, admin_client, analyst):
    IdempotencyKey.objects.create(
        user=analyst,
        key="k1",
        fingerprint="f",
        method="POST",
        path="/api/v1/x/",
        expires_at="2030-01-01T00:00:00Z",
    )
    client = request.getfixturevalue(role)
    url = reverse("admin:recommendations_idempotencykey_changelist")

    assert client.get(url).status_code == 403
    assert "idempotencykey" not in client.get(reverse("admin:index")).content.decode()
    assert admin_client.get(url).status_code == 200
