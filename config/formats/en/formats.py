"""How Candor writes dates and times: one way, everywhere.

Django looks formats up in the active language's format module before the
settings (DATE_FORMAT in settings.py alone would be ignored under en-gb, whose
own DATETIME_FORMAT says "2:05 p.m."), so they are defined here and found
through FORMAT_MODULE_PATH. This module is `en`, so it holds for en-gb and any
other English. Input formats are not defined here: forms keep Django's.

Templates say `{{ value|date }}` (a day), `{{ value|date:"DATETIME_FORMAT" }}`
(a moment) or one of the names below, never a format string of their own;
Python code calls `django.utils.formats.date_format(value, "DATE_FORMAT")`.
`<time datetime="…">` attributes keep their machine form (ISO 8601), and CSV
exports and the evidence pack keep ISO dates.

The forms that exist:
- a day: "7 Dec 2026"
- a moment: "7 Dec 2026, 14:05" (24-hour clock, local time)
- a month (charts, the score by month, an engagement's span): "Dec 2026"
- a day within a stated range (the weekly digest): "30 Nov"
- a day in a dense list of the coming weeks (the dashboard's follow-up and
  override panels): "Mon 30 Nov"
The disengagement letter alone writes the month in full ("7 December 2026"),
as formal letters do.
"""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "M Y"
MONTH_DAY_FORMAT = "j M"
SHORT_DATE_FORMAT = "D j M"
SHORT_DATETIME_FORMAT = "D j M, H:i"
