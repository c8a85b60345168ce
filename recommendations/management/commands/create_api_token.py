from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print USERNAME's API token on the last line, creating one if the user has none. "
        "Use it as `Authorization: Token <key>`; revoke it with revoke_api_token."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        if not user.is_active:
            raise CommandError(f"{username!r} is deactivated; a token would not work.")
        token, created = Token.objects.get_or_create(user=user)
        groups = ", ".join(user.groups.values_list("name", flat=True)) or "no group"
        role = "superuser" if user.is_superuser else groups
        self.stderr.write(f"{'Created' if created else 'Existing'} token for {username} ({role}):")
        self.stdout.write(token.key)
