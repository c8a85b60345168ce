from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from recommendations.roles import user_has_role
from tokens import services


class Command(BaseCommand):
    help = (
        "Create a new API token for USERNAME and print its key on the last line. The key is "
        "shown this once and never again (only its digest is stored); an existing token is "
        "never printed. Use it as `Authorization: Token <key>`; revoke it with "
        "revoke_api_token."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for (default: its id)")
        parser.add_argument(
            "--days", type=int, default=None, help="how long it lasts (default: API_TOKEN_DAYS)"
        )

    def handle(self, *args, username, name, days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        try:
            token, key = services.create_token(user=user, name=name, days=days, now=timezone.now())
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        groups = ", ".join(user.groups.values_list("name", flat=True)) or "no group"
        role = "superuser" if user.is_superuser else groups
        expires = timezone.localtime(token.expires_at).strftime("%Y-%m-%d %H:%M %Z")
        self.stderr.write(
            f"Created token {token.name!r} ({token.prefix}) for {username} ({role}), valid "
            f"until {expires}. Copy the key now: it cannot be shown again."
        )
        if not user_has_role(user):
            self.stderr.write(
                f"Warning: {username} has no role; the API refuses them (403) until an "
                "administrator makes them a viewer or an analyst."
            )
        self.stdout.write(key)
