"""fixtures/import-sample.csv imports cleanly into a freshly seeded database, and the seed
loader, which reads fixtures/, leaves it alone."""

from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from intake import services
from recommendations.models import StatusUpdate
from tests.conftest import TODAY

pytestmark = pytest.mark.django_db

SAMPLE = Path(settings.BASE_DIR) / "fixtures" / "import-sample.csv"


def test_the_sample_imports_cleanly_into_a_fresh_seed(analyst):
    out = StringIO()
    call_command("load_seed", stdout=out)  # the sample beside the seed's files changes nothing
    assert "import-sample" not in out.getvalue()
    history = StatusUpdate.objects.count()

    imported = services.check_file(
        data=SAMPLE.read_bytes(), filename=SAMPLE.name, by=analyst, channel="command", today=TODAY
    )
    services.confirm(imported, by=analyst, today=TODAY)

    assert (imported.encoding, imported.rows, imported.errors) == ("utf-8-sig", 7, 0)
    assert StatusUpdate.objects.count() == history + 7
