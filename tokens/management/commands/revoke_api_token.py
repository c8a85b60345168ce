from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tokens import services
from tokens.models import ApiToken


class Command(BaseCommand):
    help = (
        "Revoke USERNAME's API token named --name, or the one with --prefix, or --all of "
        "them: requests that use it are refused with 401 from now on."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--name", default="", help="the token's name")
        which.add_argument("--prefix", default="", help="the token's prefix, such as pt_k3v9x0q2mz")
        which.add_argument(
            "--all", dest="every", action="store_true", help="every token of the user"
        )

    def handle(self, *args, username, name, prefix, every, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        try:
            revoked = services.revoke_tokens(
                user=user, name=name, prefix=prefix, every=every, now=timezone.now()
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if revoked:
            listed = ", ".join(f"{token.name!r} ({token.prefix})" for token in revoked)
            self.stdout.write(f"Revoked {len(revoked)} API token(s) of {username}: {listed}.")
            return
        if every:
            self.stdout.write(f"{username} had no live API token.")
            return
        live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        names = ", ".join(f"{t.name!r} ({t.prefix})" for t in live) or "none"
        raise CommandError(f"{username} has no such live token. Live tokens: {names}.")
