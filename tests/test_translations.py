"""The admin speaks Chinese from compiled catalogues; they must match their sources."""

from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation

from recommendations.choices import Status

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


DOMAINS = ["django", "djangojs"]  # the pages' catalogue; the admin scripts' one


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_message_is_translated(domain):
    po = polib.pofile(CATALOGUE / f"{domain}.po")

    assert [entry.msgid for entry in po.untranslated_entries()] == []
    assert [entry.msgid for entry in po.fuzzy_entries()] == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_compiled_catalogue_matches_its_source(domain):
    po = polib.pofile(CATALOGUE / f"{domain}.po")
    mo = polib.mofile(CATALOGUE / f"{domain}.mo")

    compiled = {(entry.msgctxt, entry.msgid): entry.msgstr for entry in mo}

    assert {(e.msgctxt, e.msgid): e.msgstr for e in po.translated_entries()} == compiled


def test_statuses_have_the_chinese_labels_the_readme_gives():
    with translation.override("zh-hans"):
        labels = [str(label) for label in Status.labels]

    assert labels == "未评估 未启动 已规划 推进中 部分落实 已落实 停滞 已放弃".split()
