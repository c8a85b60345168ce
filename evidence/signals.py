"""What the evidence app announces, inside the transaction that writes it (see
recommendations/signals.py for what receivers may do)."""

from django.dispatch import Signal

# A new piece of evidence was saved: kwargs `evidence`, `by`.
evidence_added = Signal()
