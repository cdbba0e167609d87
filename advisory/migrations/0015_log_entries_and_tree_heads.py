"""The log replaces the hash chain: entries carried over, nothing rewritten.

Every history entry linked into the old SHA-256 chain becomes a log entry,
in the chain's order, holding the canonical JSON its link was computed from
(as the chain's code made it, frozen below: this migration must give the
same bytes whatever the models look like in later releases, so it reads
only its own migration state). The chain's links stay as they were; the
log's check (advisory/history/verification.py) recomputes each link from
the carried entries, so the old chain stays verified, and from now on the
signed tree heads cover it. An entry that no longer matched its link when
carried is carried as it is now and reported by that check: carrying over
repairs nothing.

Also: `candor_log_size()`, the PostgreSQL lock-and-size for appending
(like 0012's `candor_chain_tail`), and the admins' right to sign a tree
head on demand.
"""

import datetime
import json
import secrets
from decimal import Decimal
from hashlib import sha256
from importlib import import_module
from itertools import batched

import django.utils.timezone
from django.db import migrations, models
from django.utils import timezone

BATCH = 500
HISTORY_COLUMNS = [
    "history_id",
    "history_date",
    "history_type",
    "history_user_id",
    "history_change_reason",
]

CREATE_SIZE = """
CREATE OR REPLACE FUNCTION candor_log_size(lock_key bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN (SELECT COALESCE(MAX(index) + 1, 0) FROM advisory_logentry);
END
$$;
"""
DROP_SIZE = "DROP FUNCTION IF EXISTS candor_log_size(bigint);"


def create_size_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SIZE)


def drop_size_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SIZE)


def grant(apps, schema_editor):
    import_module("accounts.migrations.0002_roles").grant(
        apps, {"admin": ["advisory.view_treehead", "advisory.sign_treehead"]}
    )


# --- Carrying the chain over ------------------------------------------------------


def carry_over(apps, schema_editor):
    ChainLink = apps.get_model("advisory", "ChainLink")
    LogEntry = apps.get_model("advisory", "LogEntry")
    using = schema_editor.connection.alias
    history_models = _history_models(apps)
    links = ChainLink.objects.using(using).order_by("pk").values_list("history_model", "history_id")
    index = 0
    for batch in batched(links.iterator(chunk_size=BATCH), BATCH):
        wanted = {}
        for label, history_id in batch:
            wanted.setdefault(label, []).append(history_id)
        rows = {}
        m2m = {}
        for label, ids in wanted.items():
            model = history_models.get(label)
            if model is None:
                continue
            rows[label] = model._default_manager.using(using).in_bulk(ids)
            m2m[label] = _snapshots(apps, model, ids, using)
        entries = []
        for label, history_id in batch:
            row = rows.get(label, {}).get(history_id)
            if row is None:
                # The entry a link named is gone: nothing to carry. The
                # log's check reports the link without its entry.
                continue
            related = {name: ids.get(history_id, []) for name, ids in m2m[label].items()}
            content = _canonical(row, related)
            salt = secrets.token_bytes(16)
            entries.append(
                LogEntry(
                    index=index,
                    history_model=label,
                    history_id=history_id,
                    canonical=content.decode("utf-8"),
                    salt=salt.hex(),
                    digest=sha256(salt + content).hexdigest(),
                )
            )
            index += 1
        LogEntry.objects.using(using).bulk_create(entries)


def uncarry(apps, schema_editor):
    apps.get_model("advisory", "LogEntry").objects.using(schema_editor.connection.alias).delete()


def _history_models(apps):
    """simple-history's historical models in this state, by label."""
    return {
        model._meta.label_lower: model
        for model in apps.get_models()
        if model.__name__.startswith("Historical")
        and "_" not in model.__name__
        and any(f.name == "history_id" for f in model._meta.fields)
    }


def _snapshots(apps, history_model, ids, using):
    """Per m2m field of the entries, their sorted related ids: {"members": {history_id: [...]}}.

    simple-history keeps them in a model named Historical<Model>_<field> with
    a foreign key "history" to the entry, one to the record and one to the
    related record.
    """
    found = {}
    prefix = history_model.__name__ + "_"
    source = history_model.__name__.removeprefix("Historical").lower()
    for model in apps.get_models():
        if not model.__name__.startswith(prefix):
            continue
        target = next(
            f.attname
            for f in model._meta.fields
            if f.is_relation and f.name not in ("history", source)
        )
        related = {}
        pairs = model._default_manager.using(using).filter(history_id__in=ids)
        for history_id, value in pairs.values_list("history_id", target):
            related.setdefault(history_id, []).append(value)
        found[model.__name__.removeprefix(prefix)] = related
    return found


def _canonical(row, m2m):
    """The chain's canonical form of an entry (advisory/history/log.py, as of this release)."""
    values = {
        field.attname: _plain(field, getattr(row, field.attname))
        for field in row._meta.concrete_fields
    }
    document = {
        "model": row._meta.label_lower,
        "fields": {name: value for name, value in values.items() if name not in HISTORY_COLUMNS},
        **{name: values[name] for name in HISTORY_COLUMNS},
    }
    if m2m:
        document["m2m"] = {name: sorted(ids) for name, ids in m2m.items()}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _plain(field, value):
    if value is None:
        return None
    value = field.to_python(value)
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        places = getattr(field, "decimal_places", None)
        if places is not None:
            value = value.quantize(Decimal(1).scaleb(-places))
        return str(value)
    if isinstance(value, bool | int | float | dict | list):
        return value
    return str(value)


class Migration(migrations.Migration):
    dependencies = [
        ("advisory", "0014_evidence_check"),
        ("accounts", "0002_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="TreeHead",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("size", models.BigIntegerField()),
                ("root_hash", models.CharField(max_length=64)),
                ("signed_at", models.DateTimeField()),
                ("key_id", models.CharField(max_length=64)),
                ("public_key", models.TextField()),
                ("signature", models.CharField(max_length=128)),
                ("timestamp_token", models.BinaryField(blank=True, null=True)),
                ("timestamp_authority", models.CharField(blank=True, max_length=500)),
                ("timestamped_at", models.DateTimeField(blank=True, null=True)),
                ("timestamp_error", models.TextField(blank=True)),
                ("timestamp_attempts", models.PositiveIntegerField(default=0)),
            ],
            options={
                "ordering": ["pk"],
                "permissions": [("sign_treehead", "Can sign a tree head of the log on demand")],
                "get_latest_by": "pk",
            },
        ),
        migrations.CreateModel(
            name="LogEntry",
            fields=[
                ("index", models.BigIntegerField(primary_key=True, serialize=False)),
                ("history_model", models.CharField(max_length=100)),
                ("history_id", models.BigIntegerField()),
                ("canonical", models.TextField()),
                ("salt", models.CharField(max_length=32)),
                ("digest", models.CharField(max_length=64)),
                ("logged_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name_plural": "log entries",
                "ordering": ["index"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("history_model", "history_id"),
                        name="one_log_entry_per_history_entry",
                    )
                ],
            },
        ),
        migrations.RunPython(create_size_function, drop_size_function, elidable=False),
        migrations.RunPython(carry_over, uncarry, elidable=False),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
