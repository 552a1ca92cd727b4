"""Tickets: beads (the ``bd`` CLI) for problems that need a person.

``beads.py`` is the adapter that speaks bd's contract (CONTRACTS.md); ``escalate.py``
is the policy that decides when a bead is created, commented on or closed, and
publishes the matching Relay events (notify/relay.py). cycle.py imports them lazily:
a quiet cycle never loads this package.
"""
