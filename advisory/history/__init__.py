"""The log as evidence: the History tab's entries and the tamper-evident chain.

entries  a record's history as the History tab shows it (who, when, what changed)
chain    every history entry linked into one SHA-256 chain; verify() checks it
"""
