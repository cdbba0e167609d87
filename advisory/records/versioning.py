"""The versioned save every record goes through.

`record_save` is the kernel: it locks the stored row, refuses a save based on
an old version (EditConflict), keeps archived records and let-go clients
read-only, validates, and saves with the history entry's author and reason.
What differs per model lives in that model's `SaveHooks` (HOOKS below), not in
branches of the kernel: a client let go stays read-only, an engagement is not
added to a let-go client, and a disagreement locks its client, respects the
facts locked by review and keeps the client's health and counts current.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from accounts.models import User
from advisory.health import rollups
from advisory.health.services import LockedClient, client_lock, health_refresh
from advisory.models import Client, Disagreement, Engagement, LetGoCase

type Versioned = Client | Engagement | Disagreement | LetGoCase
LET_GO = Client.Status.LET_GO


class EditConflict(Exception):
    """Someone saved the record after the form was opened.

    `current` is the record as it is now in the database; nothing was written.
    """

    def __init__(self, current: models.Model) -> None:
        super().__init__(f"{current} was changed by someone else")
        self.current = current


# --- Closed records ---------------------------------------------------------------


def let_go_error(client: Client) -> ValidationError:
    return ValidationError(
        f"{client} has been let go: its records are read-only and nothing new can be added."
    )


def let_go_read_only(client: Client) -> str:
    """What a page or the API answers when asked to change a let-go client's
    disagreement: said before anything sent is looked at."""
    return (
        f"{client} has been let go: its disagreements are read-only, kept as they were; "
        "nothing can be changed or added. An administrator can reinstate the client."
    )


def refuse_if_let_go(client: Client) -> None:
    # Asks the database, not the caller's copy of the client, which may
    # predate the let-go.
    if Client.objects.filter(pk=client.pk, status=LET_GO).exists():
        raise let_go_error(client)


ARCHIVED = "This disagreement is archived: restore it before adding to it."


def refuse_if_closed(disagreement: Disagreement) -> None:
    """Nothing new is attached to an archived disagreement or a let-go client's.

    A first check, before any work. The write itself must call
    `lock_open_disagreement` in its transaction, so that an archive or a
    let-go committed meanwhile is seen."""
    if disagreement.is_archived:
        raise ValidationError(ARCHIVED)
    refuse_if_let_go(disagreement.client)


def lock_open_disagreement(disagreement: Disagreement) -> None:
    """Inside the caller's transaction: lock the disagreement's row and its
    client's, and refuse if either is closed as committed now.

    Archiving the disagreement and letting its client go take the same row
    locks, so a comment or an evidence file added in this transaction lands
    before them or is refused after them, never after them. The locks come in
    the order a disagreement's own save takes them (its row, then its client's).
    """
    current = (
        Disagreement._base_manager.select_for_update(no_key=True)
        .only("is_archived", "client_id")
        .get(pk=disagreement.pk)
    )
    if current.is_archived:
        raise ValidationError(ARCHIVED)
    if client_lock(current.client_id).status == LET_GO:
        raise let_go_error(disagreement.client)


# --- Each model's part of the save -------------------------------------------------


class SaveHooks:
    """What a model adds to `record_save`; the defaults add nothing.

    Called in this order, inside the save's transaction: `refuse_change` (an
    existing record, with its stored row locked), `prepare` (what the save
    needs before it validates; its result is handed to the later hooks),
    `refuse_open` (not for prechecked bulk writes), then the save, then `saved`.
    """

    # Whether full_clean() also checks the model's constraints (a query each).
    validate_constraints = True

    def refuse_change(self, current: Any, instance: Any, *, amending: bool) -> None:
        pass

    def prepare(self, instance: Any, current: Any | None) -> Any:
        return None

    def refuse_open(self, instance: Any, prepared: Any) -> None:
        pass

    def saved(self, instance: Any, prepared: Any) -> None:
        pass


class ClientHooks(SaveHooks):
    def refuse_change(self, current: Client, instance: Client, *, amending: bool) -> None:
        if current.status == instance.status == LET_GO:
            raise ValidationError(
                f"{current} has been let go: its records are read-only. "
                "An administrator can reinstate the client."
            )


class EngagementHooks(SaveHooks):
    def refuse_open(self, instance: Engagement, prepared: None) -> None:
        refuse_if_let_go(instance.client)


class DisagreementHooks(SaveHooks):
    # A disagreement's clean() states its date rules, the same as its
    # CheckConstraints, which Django would check with a query each.
    validate_constraints = False

    def refuse_change(self, current: Disagreement, instance: Disagreement, *, amending: bool):
        if amending or not current.is_reviewed:
            return
        changed = [
            f for f in Disagreement.LOCKED_FACTS if getattr(current, f) != getattr(instance, f)
        ]
        if changed:
            raise ValidationError(
                dict.fromkeys(
                    changed,
                    "Locked since the manager's review: record a correction as an amendment.",
                )
            )

    def prepare(
        self, instance: Disagreement, current: Disagreement | None
    ) -> tuple[LockedClient, list]:
        # Always its engagement's client (as save() sets it), taken from
        # the engagement when that has it loaded: nothing reads it again.
        if instance.client_id != instance.engagement.client_id:
            instance.client = instance.engagement.client
        # Lock the client before writing: writes to its log then score and
        # recount one after the other, each seeing the other's committed
        # change; the let-go check reads the status committed last; and
        # the locks come in the order the client's own saves take them
        # (the client's, then the hash chain's), so the two can't deadlock.
        locked = client_lock(instance.client_id)
        # The old month, recounted after the save with the new one.
        months = [current.occurred_on] if current is not None else []
        return locked, months

    def refuse_open(self, instance: Disagreement, prepared: tuple[LockedClient, list]) -> None:
        locked, _months = prepared
        if locked.status == LET_GO:
            raise let_go_error(instance.client)

    def saved(self, instance: Disagreement, prepared: tuple[LockedClient, list]) -> None:
        locked, months = prepared
        health_refresh(instance.client, locked=locked)
        # Under the client's lock too: a write to its log that committed
        # first is counted with this one.
        rollups.months_refresh(instance.client_id, [*months, instance.occurred_on])


HOOKS: dict[type[models.Model], SaveHooks] = {
    Client: ClientHooks(),
    Engagement: EngagementHooks(),
    Disagreement: DisagreementHooks(),
}
NO_HOOKS = SaveHooks()


def hooks_for(model: type[models.Model]) -> SaveHooks:
    """The model's hooks, or its nearest base's (a proxy or subclass of a
    disagreement is saved like one); none for a model without rules."""
    return next((HOOKS[cls] for cls in model.__mro__ if cls in HOOKS), NO_HOOKS)


# --- The kernel --------------------------------------------------------------------


def record_save[R: Versioned](
    instance: R,
    *,
    by: User,
    reason: str = "",
    expected_version: int | None = None,
    amending: bool = False,
    prechecked: bool = False,
    unchanged: str = "",
) -> R:
    """Validate and save a new or changed record, keeping its history.

    With `unchanged` (a message), saving an existing record that would change
    none of its fields is refused with that message: nothing is written.

    With `expected_version`, the save is refused with EditConflict when the
    stored record has moved on (optimistic locking). Archived records and the
    records of a client let go are read-only. A reviewed disagreement's locked
    facts change only through `disagreement_amend` (`amending=True`).

    `prechecked=True` is for bulk writers (the importer) that have checked, for
    all their rows at once and inside this transaction, what costs a query per
    row here: that related records exist, uniqueness, and that no client
    concerned is let go. The field rules and `clean()` still run, and the
    database's own constraints still refuse anything that slipped through.
    Such a writer must run in a transaction and not go on after an error.
    """
    hooks = hooks_for(type(instance))
    # A bulk writer rolls back as a whole on any error: no savepoint per row.
    with transaction.atomic(savepoint=not prechecked):
        current = None
        if instance.pk:
            # NO KEY: rows referring to this one (evidence, comments) may still be
            # added meanwhile, which also keeps a let-go proposal that holds the
            # client and adds this row as evidence from deadlocking with an edit.
            current = (
                type(instance)._base_manager.select_for_update(no_key=True).get(pk=instance.pk)
            )
            if expected_version is not None and current.version != expected_version:
                raise EditConflict(current)
            if getattr(current, "is_archived", False) and instance.is_archived:
                raise ValidationError("This record is archived: restore it before changing it.")
            hooks.refuse_change(current, instance, amending=amending)
            if unchanged and not changed_fields(current, instance):
                raise ValidationError(unchanged, code="unchanged")
            instance.version = current.version + 1
        prepared = hooks.prepare(instance, current)
        if prechecked:
            relations = [f.name for f in instance._meta.concrete_fields if f.is_relation]
            instance.full_clean(exclude=relations, validate_constraints=False)
        else:
            hooks.refuse_open(instance, prepared)
            instance.full_clean(validate_constraints=hooks.validate_constraints)
        instance._history_user = by
        instance._change_reason = reason.strip() or None
        instance.save()
        hooks.saved(instance, prepared)
        return instance


def changed_fields(current: models.Model, instance: models.Model) -> list[str]:
    """The concrete fields whose values differ, the version and timestamps aside."""
    ignored = {"version", "updated_at"}
    return [
        field.attname
        for field in instance._meta.concrete_fields
        if field.attname not in ignored
        and field.to_python(getattr(current, field.attname))
        != field.to_python(getattr(instance, field.attname))
    ]


def record_set_archived[R: Versioned](
    instance: R, *, by: User, archived: bool, reason: str = "", expected_version: int
) -> R:
    instance.is_archived = archived
    default = "Archived" if archived else "Restored from the archive"
    return record_save(instance, by=by, reason=reason or default, expected_version=expected_version)
