"""The REST API under /api/ (Django REST framework, described by drf-spectacular).

It is another way into the same records as the pages: every queryset comes
from `Model.objects.visible_to(user)` (an outsider's id answers 404), every
write goes through advisory.records.services with `by=request.user`, and an edit based
on an old `version` is refused with 409, as the forms do.
"""
