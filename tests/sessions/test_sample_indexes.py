"""Every index on the samples table costs every insert of the hot path: exactly the ones its
lookups need, on every supported database."""

import pytest
from django.db import connection

from sessions.models import MeterSample


@pytest.mark.django_db
def test_the_samples_table_has_only_the_indexes_its_lookups_need():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, MeterSample._meta.db_table)
    indexed = sorted(
        tuple(c["columns"]) for c in constraints.values() if (c["index"] or c["unique"]) and not c["primary_key"]
    )

    assert indexed == [
        ("charger_id", "connector_id", "timestamp", "measurand", "phase", "location", "context"),  # by charger
        ("session_id", "timestamp"),  # by session
    ]
