"""Helpers for pages, not the domain: nothing outside views, forms, filters and
the API imports them.

    page_cache          whole-page cache, retired by any write
    context_processors  the bell's unread count
    widgets             selects that cap long choice lists
    ids                 record ids typed in URLs and forms
"""
