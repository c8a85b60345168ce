from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    verbose_name = _("Recommendations")

    def ready(self) -> None:
        from . import integrity, roles

        # Groups are (re)built after every migrate, once the permissions they need exist.
        post_migrate.connect(roles.ensure_groups_after_migrate, dispatch_uid="ensure_groups")
        # SQLite's append-only triggers ask this function whether maintenance is on.
        connection_created.connect(
            integrity.register_sqlite_function, dispatch_uid="register_sqlite_function"
        )
