from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Delete USERNAME's API token: requests that use it are refused with 401 from now on."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not get_user_model().objects.filter(username=username).exists():
            raise CommandError(f"No user is called {username!r}.")
        deleted, _ = Token.objects.filter(user__username=username).delete()
        self.stdout.write(
            f"Revoked the API token of {username}." if deleted else f"{username} had no API token."
        )
