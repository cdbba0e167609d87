"""Helpers for pages, not the domain: the domain packages never import them
(an import-linter contract); pages, forms, filters, the API, the app's start-up
and a few management commands do.

    page_cache          whole-page cache, retired by any write
    context_processors  the bell's unread count
    widgets             selects that cap long choice lists
    ids                 record ids typed in URLs and forms
"""
