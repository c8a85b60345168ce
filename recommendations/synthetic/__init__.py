"""Synthetic data at national-programme scale, for performance work.

Deterministic: the same seed, sizes and "today" give the same rows (only database ids
differ); no value comes from the clock. Apart from the paper's seed: synthetic pillars are
numbered from 1001 and titled "Synthetic pillar N", measure codes start with "SYN-", and
sources, evidence and any risks or scenarios created have keys starting with "syn-".
delete_synthetic() removes exactly those rows and the rows that hang off them.

Rows are written set-based, never one save() per row: COPY on PostgreSQL, executemany in
large batches on SQLite. Histories are generated one measure at a time, packed (about 16
bytes an entry) and streamed into the database in the order they were recorded across all
measures, as analysts would have appended them: ids follow recorded_at and each measure's
history is spread over the table, as in real use. One UPDATE then sets every measure's state.
"""

from .generate import DEFAULT_TODAY, SIZES, SyntheticDataExists, generate_synthetic, sizes
from .purge import SyntheticCounts, delete_synthetic, synthetic_exists

__all__ = [
    "DEFAULT_TODAY",
    "SIZES",
    "SyntheticCounts",
    "SyntheticDataExists",
    "delete_synthetic",
    "generate_synthetic",
    "sizes",
    "synthetic_exists",
]
