"""The app's settings, plus the benchmark's extra views (bench/urls.py).

Everything else is config.settings as the environment sets it (bench/run.py sets DEBUG=0,
API_BROWSABLE=0, CACHE_URL=locmem:// and the rest)."""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES

ROOT_URLCONF = "bench.urls"

# Parallel query off for the benchmark's connections: a parallel worker is a short-lived
# process of its own whose CPU time /proc cannot show once it has exited, so with it on part
# of a request's database CPU would go uncounted. Every figure is then one backend's work.
if (
    DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    and os.environ.get("BENCH_NO_PARALLEL", "1") == "1"
):
    DATABASES["default"]["OPTIONS"]["options"] += " -c max_parallel_workers_per_gather=0"

# python -m bench.webhooks leaves out the outbox, or its webhooks, for the requests that say so
# in a header, to price them (bench/apps.py).
if os.environ.get("BENCH_OUTBOX_SWITCH"):
    INSTALLED_APPS = [*INSTALLED_APPS, "bench.apps.SwitchConfig"]  # noqa: F405
    MIDDLEWARE = ["bench.apps.OutboxSwitch", *MIDDLEWARE]  # noqa: F405
