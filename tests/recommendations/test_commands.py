from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_first_local_run_creates_a_superuser_and_prints_its_password(django_user_model):
    output = run("create_local_superuser")

    password = output.split("the password ")[1].split()[0]
    user = django_user_model.objects.get(username="admin")
    assert user.is_superuser and user.check_password(password)


def test_later_runs_create_no_other_superuser(django_user_model):
    run("create_local_superuser")

    output = run("create_local_superuser")

    assert "no new one was created" in output
    assert django_user_model.objects.filter(is_superuser=True).count() == 1


def permissions(group: str) -> set[str]:
    return set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))


def test_viewers_may_only_view():
    perms = permissions("viewer")

    assert {"view_measure", "view_statusupdate", "view_evidence", "view_source"} <= perms
    assert all(codename.startswith("view_") for codename in perms)


def test_analysts_record_updates_and_edit_evidence_but_never_rewrite_history():
    perms = permissions("analyst")

    assert {
        "add_statusupdate",
        "change_measure",
        "add_evidence",
        "change_evidence",
        "add_source",
        "change_source",
    } <= perms
    assert (
        not {
            "change_statusupdate",
            "delete_statusupdate",
            "delete_measure",
            "add_measure",
            "delete_pillar",
        }
        & perms
    )


def test_the_groups_are_rebuilt_by_migrate():
    Group.objects.get(name="analyst").permissions.clear()

    call_command("migrate", verbosity=0)

    assert "add_statusupdate" in permissions("analyst")
