"""Letting a client go, from proposal to offboarding.

services   propose, decide, withdraw, offboarding, complete, reinstate; the letter draft
selectors  the review queue with what an admin needs to decide
"""
