"""Writes to the log: every change to a record goes through here so that it is
versioned, validated and attributed (who, and the reason given) in its history.

    versioning  the versioned save every record goes through (optimistic
                locking, read-only records, history), with each model's hooks
    services    client_save, engagement_save, disagreement_log/save and the
                disagreement's quick actions (decision, outcome, review, amendment)
    comments    managers' review notes on a disagreement
    choices     who and what a user may choose in a form, an API call or an
                import: leads, teams, colleagues, clients and engagements open for work
"""
