"""The seed loaded into an empty database (test_seed.py's tests start from a loaded one)."""

import json
import shutil

import pytest
from django.conf import settings
from django.core.management import CommandError

from recommendations.models import SeedValue
from tests.evidence.test_seed import MODELS, load_seed, seed_file

pytestmark = pytest.mark.django_db


def test_a_malformed_seed_is_refused_and_writes_nothing(tmp_path):
    shutil.copytree(settings.SEED_DIR, tmp_path / "seed")
    evidence = seed_file("evidence.json")
    evidence[-1]["source"] = "no_such_source"
    (tmp_path / "seed" / "evidence.json").write_text(json.dumps(evidence), encoding="utf-8")

    with pytest.raises(CommandError, match="no_such_source"):
        load_seed(dir=tmp_path / "seed")

    assert all(model.objects.count() == 0 for model in MODELS)


def test_a_dry_run_on_an_empty_database_creates_nothing():
    output = load_seed(dry_run=True)

    assert all(model.objects.count() == 0 for model in (*MODELS, SeedValue))
    assert "15 created" in output and "measures: 15 created" in output
