"""candor_chain_tail(): the hash chain's lock and its last hash in one round trip.

PostgreSQL only (advisory/chain.py). Appends to the chain are serialised by a
transaction-level advisory lock; the last hash must be read after the lock is
held, in a snapshot taken then, or an append that waited would link to a tail
that is no longer the last. A VOLATILE PL/pgSQL function takes a new snapshot
for each statement in it (READ COMMITTED), so the lock and the read can be one
call instead of two queries.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION candor_chain_tail(lock_key bigint) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN (SELECT hash FROM advisory_chainlink ORDER BY id DESC LIMIT 1);
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS candor_chain_tail(bigint);"


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("advisory", "0011_disagreement_filters_index")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
