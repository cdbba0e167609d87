"""Notifications: who is told what, once, and how.

preferences  each person's delivery per kind, defaults, unsubscribe tokens
triggers     notify() and the events that call it (band worsened, let-go,
             follow-up and acknowledgment reminders)
digest       the managers' weekly digest
email        sending one notification, or a day's summary, by e-mail
tasks        the e-mail tasks the worker runs, and queueing the daily summaries
"""
