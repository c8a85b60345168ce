"""Third-party apps under names people read in the admin."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _
from django_tasks_db.apps import TasksAppConfig as DBTaskAppConfig


class AxesConfig(AxesAppConfig):
    """django-axes (failed sign-ins and lockouts), named in the admin's language rather than
    "Axes"."""

    verbose_name = _("Sign-in attempts")


class TasksDatabaseConfig(DBTaskAppConfig):
    """django-tasks-db (the queue of background tasks in the database), named in the admin's
    language."""

    verbose_name = _("Background tasks")
