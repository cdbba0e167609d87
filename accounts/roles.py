"""The three roles and their one order.

Each role is a Django group of the same name (data migration 0002); a user in
several groups acts with the highest.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    """The three roles; each is a Django group of the same name (data migration 0002)."""

    ADVISOR = "advisor", "Advisor"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


# Highest first: a user in several groups acts with the highest role.
ROLE_ORDER = [Role.ADMIN, Role.MANAGER, Role.ADVISOR]
