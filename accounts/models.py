from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import NamedTuple

from django.contrib.auth.models import AbstractUser, Group, Permission, UserManager
from django.db import models
from django.db.models import OuterRef, Q, StringAgg, Subquery, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone
from django.utils.functional import cached_property
from django_otp.models import Device

from accounts.roles import ROLE_ORDER, Role
from accounts.scoping import role_of, scope


class UserQuerySet(models.QuerySet):
    def with_role(self, role: Role) -> UserQuerySet:
        return self.filter(groups__name=role)

    def visible_to(self, user: User) -> UserQuerySet:
        """Colleagues a user may see and pick (e.g. as lead advisor).

        Admins see everyone; others see the people on the teams they belong
        to or manage, and themselves.
        """
        role = role_of(user)
        if role is None:
            return self.none()
        if role == Role.ADMIN:
            return self.all()
        teams = Team.objects.visible_to(user)
        return self.filter(
            Q(pk=user.pk) | Q(pk__in=teams.values("members")) | Q(pk__in=teams.values("managers"))
        )

    def with_group_facts(self) -> UserQuerySet:
        """Each user with what `User.group_facts` reads (their groups' names
        and permissions, their own permissions) in the same query, as two
        aggregated subqueries: the request's user then costs one query, not two
        (accounts.backends.RoleBackend.get_user)."""
        groups = (
            Group.objects.filter(user=OuterRef("pk"))
            .order_by()
            .values("user")
            .annotate(
                rows=StringAgg(
                    Concat(
                        "name",
                        Value(_FIELD),
                        Coalesce("permissions__content_type__app_label", Value("")),
                        Value("."),
                        Coalesce("permissions__codename", Value("")),
                    ),
                    Value(_RECORD),
                )
            )
            .values("rows")
        )
        own = (
            Permission.objects.filter(user=OuterRef("pk"))
            .order_by()
            .values("user")
            .annotate(
                rows=StringAgg(
                    Concat("content_type__app_label", Value("."), "codename"), Value(_RECORD)
                )
            )
            .values("rows")
        )
        return self.annotate(facts_groups=Subquery(groups), facts_own=Subquery(own))


# How `with_group_facts` joins its rows: ASCII's unit and record separators,
# which no group name or permission holds in practice (one that does is read
# again with `group_facts`' own query).
_FIELD, _RECORD = "\x1f", "\x1e"


def _read_group_facts(groups: str | None, own: str | None) -> GroupFacts | None:
    rows = []
    for record in filter(None, (groups or "").split(_RECORD)):
        fields = record.split(_FIELD)
        if len(fields) != 2:
            return None
        name, permission = fields
        rows.append((name, None if permission == "." else permission))
    for permission in filter(None, (own or "").split(_RECORD)):
        if _FIELD in permission:
            return None
        rows.append((None, permission))
    return _group_facts(rows)


def _group_facts(rows) -> GroupFacts:
    """From (group name, "app_label.codename" or None) rows; a None name
    marks a permission of the user's own."""
    names, permissions, own_permissions = set(), set(), set()
    for name, permission in rows:
        if name is None:
            own_permissions.add(permission)
            continue
        names.add(name)
        if permission:
            permissions.add(permission)
    return GroupFacts(frozenset(names), frozenset(permissions), frozenset(own_permissions))


class CandorUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class GroupFacts(NamedTuple):
    names: frozenset[str]
    permissions: frozenset[str]  # "app_label.codename"
    own_permissions: frozenset[str]  # granted to the user directly


class User(AbstractUser):
    """A person at the firm. The role comes from group membership."""

    objects = CandorUserManager()

    class Meta:
        ordering = ["username"]
        # Capabilities that belong to a role rather than to one model; the
        # role groups receive them in migration 0002.
        permissions = [
            ("view_health_board", "Can see the relationship health board"),
            ("review_letgo", "Can see the let-go review queue"),
            ("decide_letgo", "Can decide let-go proposals and complete offboarding"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs) -> None:
        # set_password() keeps the new password in _password until the save (a
        # login that only rehashes it clears that first): a changed or reset
        # password ends every API token, as whoever knew the old one may hold one.
        changed = self._password is not None and self.pk is not None
        super().save(*args, **kwargs)
        if changed:
            self.api_tokens.active().update(
                revoked_at=timezone.now(), revoked_because=ApiToken.PASSWORD_CHANGED
            )

    @cached_property
    def role(self) -> Role | None:
        """The user's highest role, or None."""
        if self.is_superuser:
            return Role.ADMIN
        names = self.group_facts.names
        return next((role for role in ROLE_ORDER if role in names), None)

    @cached_property
    def group_facts(self) -> GroupFacts:
        """The user's groups, their permissions and the user's own, in one
        query per instance (the role and accounts.backends.RoleBackend read it),
        or none when the user was read `with_group_facts`."""
        if "facts_groups" in self.__dict__:
            facts = _read_group_facts(self.facts_groups, self.facts_own)
            if facts is not None:
                return facts
        groups = self.groups.values_list(
            "name", "permissions__content_type__app_label", "permissions__codename"
        )
        own = Permission.objects.filter(user=self).values_list(
            Value(None, output_field=models.CharField()), "content_type__app_label", "codename"
        )
        groups, own = groups.order_by(), own.order_by()  # no ORDER BY inside a UNION
        return _group_facts(
            (name, f"{app_label}.{codename}" if codename else None)
            for name, app_label, codename in groups.union(own, all=True)
        )


class TeamQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> TeamQuerySet:
        """Admins see every team; others the teams they belong to or manage."""
        return scope(self, user, team="pk", people=["members", "managers"])

    def managed_by(self, user: User) -> TeamQuerySet:
        role = role_of(user)
        if role == Role.ADMIN:
            return self.all()
        if role == Role.MANAGER:
            return self.filter(managers=user)
        return self.none()


class Team(models.Model):
    """A practice group. Clients belong to a team; managers review its relationships."""

    name = models.CharField(max_length=100)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    managers = models.ManyToManyField(User, related_name="managed_teams", blank=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("name"),
                name="team_name_unique_ci",
                violation_error_message="A team with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name


# --- API tokens -----------------------------------------------------------------


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        """Neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )

    def issue(
        self, *, user: User, name: str, lifetime: datetime.timedelta | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token for `user`, valid for `lifetime` (None: until revoked);
        returns it and its secret.

        The secret is shown once: only its SHA-256 is stored, so nobody (the
        database, an admin, a backup) can read it back.
        """
        secret = ApiToken.SECRET_PREFIX + secrets.token_urlsafe(32)
        now = timezone.now()
        token = ApiToken(
            user=user,
            name=name.strip(),
            key_prefix=secret[: ApiToken.PREFIX_LENGTH],
            key_hash=ApiToken.hash(secret),
            created_at=now,
            expires_at=now + lifetime if lifetime is not None else None,
        )
        token.full_clean()
        token.save()
        return token, secret

    def for_secret(self, secret: str) -> ApiToken | None:
        """The token with this secret, revoked or not; None if there is none."""
        return self.select_related("user").filter(key_hash=ApiToken.hash(secret)).first()


class ApiToken(models.Model):
    """A named secret a user creates on their profile page to call the API
    as themselves. Looked up by the hash of the secret; revoked, never deleted."""

    SECRET_PREFIX = "cnd_"
    PREFIX_LENGTH = 8

    user = models.ForeignKey(User, models.CASCADE, related_name="api_tokens")
    name = models.CharField(
        max_length=100, help_text="What the token is for, e.g. “Reporting script”."
    )
    key_prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_because = models.CharField(max_length=100, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    PASSWORD_CHANGED = "the password changed"

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


# --- Two-factor sign-in: recovery codes --------------------------------------------
# The authenticator app itself is django-otp's TOTPDevice (accounts/two_factor.py).


class RecoveryCodeDevice(Device):
    """A user's one-time recovery codes, as one django-otp device so that a
    session verified with a code is `is_verified()` like one verified with the
    app. Only the codes' SHA-256 is stored; each code works once."""

    class Meta(Device.Meta):
        verbose_name = "recovery code set"
        # One set per person, even when "New recovery codes" is sent twice at once.
        constraints = [models.UniqueConstraint(fields=["user"], name="recovery_codes_one_set")]

    def verify_token(self, token: str) -> bool:
        digest = RecoveryCode.hash(token)
        # One UPDATE: two requests racing with the same code cannot both win.
        used = self.codes.filter(code_hash=digest, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        return used == 1

    @property
    def remaining(self) -> int:
        return self.codes.filter(used_at__isnull=True).count()


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeDevice, models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "code_hash"], name="recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"Recovery code of {self.device.user} ({'used' if self.used_at else 'unused'})"

    @staticmethod
    def normalize(code: str) -> str:
        """What the user typed, without spaces, dashes or case."""
        return "".join(c for c in str(code).lower() if c.isalnum())

    @classmethod
    def hash(cls, code: str) -> str:
        return hashlib.sha256(cls.normalize(code).encode()).hexdigest()
