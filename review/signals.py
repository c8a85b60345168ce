"""What the review app announces, inside the transaction that writes it (see
recommendations/signals.py for what receivers may do)."""

from django.dispatch import Signal

# A proposal was decided on (approved, rejected, changes requested) or withdrawn: kwargs
# `proposal` (in its new state), `decision` (the ProposalDecision appended).
proposal_decided = Signal()
