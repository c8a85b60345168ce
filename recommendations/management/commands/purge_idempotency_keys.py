from django.core.management.base import BaseCommand
from django.utils import timezone

from recommendations.models import IdempotencyKey


class Command(BaseCommand):
    help = "Delete expired Idempotency-Keys (run daily, e.g. from cron)."

    def handle(self, *args, **options):
        deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
        self.stdout.write(f"Deleted {deleted} expired idempotency keys.")
