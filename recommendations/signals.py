"""What the recommendations app announces, inside the transaction that writes it.

Receivers run before the writer's transaction commits and write in it: whatever they write
commits with the change or not at all (the events app's outbox is written this way). They
must not read the network or take long. The app knows nothing of its receivers."""

from django.dispatch import Signal

# New entries of history, in the order they were written: kwargs `updates` (StatusUpdates
# with their measure loaded). Sent once per statement batch, so a spreadsheet of 10,000 rows
# sends about twenty.
status_updates_recorded = Signal()

# A measure was created or its descriptive fields (or links) changed: kwargs `measure`,
# `created` (bool), `by`.
measure_changed = Signal()

# A status report was published as a snapshot: kwargs `snapshot`.
report_published = Signal()
