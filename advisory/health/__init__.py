"""Relationship health: the score (pure), its reads, its writes and the board's rollups.

score      the recipe as pure functions: facts and a date in, score, band and
           explanation out; no ORM (an import-linter contract)
selectors  reads for the client page and the health board
services   writes: stored health, snapshots, overrides, the nightly recompute
rollups    the board's per-client and per-month counts, kept with each write
"""
