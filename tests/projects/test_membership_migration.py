"""Migration 0002 keeps every membership made before roles existed, as an annotator."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("projects", "0001_initial")]
AFTER = [("projects", "0002_membership_roles")]


@pytest.mark.django_db(transaction=True)
def test_existing_memberships_survive_as_annotators():
    executor = MigrationExecutor(connection)
    leaf = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        user = old.get_model("auth", "User").objects.create(username="early")
        project = old.get_model("projects", "Project").objects.create(name="Old", slug="old")
        project.annotators.add(user)

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        Membership = new.get_model("projects", "Membership")
        assert list(Membership.objects.values_list("project_id", "user_id", "role")) == [
            (project.pk, user.pk, "annotator")
        ]
        with pytest.raises(IntegrityError), transaction.atomic():  # still one row per (project, user)
            Membership.objects.create(project_id=project.pk, user_id=user.pk, role="viewer")
    finally:
        MigrationExecutor(connection).migrate(leaf)
