"""The case record: what a case file holds, what a party may take home, and what a purge leaves.

- ``transcript``: the whole discussion in order, shared and private marked, and one party's
  own share of it (what they wrote, what they received, never others' private words).
- ``purge``: deleting a case down to its tombstone (reference, dates, outcome, final hash).
- ``retention``: which closed cases are due for the warning, and for the purge
  (``privacy.retain_days``), asked by the scheduler's sweep with its own clock.
"""

from threads.record.purge import PurgeResult, purge
from threads.record.retention import WARN_DAYS, purge_due, warn_due
from threads.record.transcript import Entry, Transcript, party_transcript, transcript

__all__ = [
    "WARN_DAYS", "Entry", "PurgeResult", "Transcript", "party_transcript", "purge", "purge_due",
    "transcript", "warn_due",
]
