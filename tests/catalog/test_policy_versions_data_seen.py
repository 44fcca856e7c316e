"""The policy versions page says which data each version saw: its round's snapshot pairs and
demonstrations, and when the demonstrations did not train it (SFT skipped)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import learning_factories as learned
from tests import platform_factories as factories
from webapp.catalog.models import PolicyVersion
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db


def cells(client, user, project) -> dict[str, str]:
    client.force_login(user)
    html = client.get(reverse("catalog:policies", kwargs={"slug": project.slug})).content.decode()
    rows = [chunk.split("</tr>")[0] for chunk in html.split('data-testid="version-row"')[1:]]
    out = {}
    for row in rows:
        version = row.split('data-version="')[1].split('"')[0]
        out[version] = row.split('data-testid="data-seen">')[1].split("</td>")[0]
    return out


def test_each_version_shows_its_snapshot_pairs_and_demonstrations(client):
    user = factories.make_user("alice")
    project = factories.make_project(annotators=[user])
    v0 = factories.make_policy(project, 0, status=PolicyVersion.Status.RETIRED)
    v1, first = learned.trained_version(project, 1, v0, {"sft": {"demonstrations": 5, "final_loss": 1.0}})
    _, second = learned.trained_version(project, 2, v1, {"sft": {"skipped": "sft.enabled is false"}})
    TrainingRound.objects.filter(pk=first.pk).update(dataset_counts={"pairs": 12, "demonstrations": 5})
    TrainingRound.objects.filter(pk=second.pk).update(dataset_counts={"pairs": 7, "demonstrations": 3})
    seen = cells(client, user, project)
    assert seen == {
        "2": "7 pairs · 3 demonstrations (SFT skipped)",
        "1": "12 pairs · 5 demonstrations",
        "0": "—",
    }
