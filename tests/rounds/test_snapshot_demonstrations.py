"""A round's snapshot writes the demonstrations of its window (the same one as its pairs) beside
preferences.jsonl as TRL `messages` rows, once; a window without any gets no file."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.platform_factories import judge_all, make_demonstrations, project_with_comparisons
from webapp.datasets.services import DEMONSTRATIONS, write_snapshot
from webapp.demonstrations.models import Demonstration

pytestmark = pytest.mark.django_db


def test_the_window_demonstrations_go_beside_the_pairs(tmp_path, settings):
    settings.ARTIFACT_ROOT = str(tmp_path)
    project = project_with_comparisons(3)
    judge_all(project)
    old, new = make_demonstrations(project, 1), make_demonstrations(project, 2)
    Demonstration.objects.filter(pk=old[0].pk).update(created=old[0].created - timedelta(days=2))
    cutoff = new[0].created - timedelta(days=1)  # the last finished round's creation
    later = make_demonstrations(project, 1)[0]
    before = later.created - timedelta(microseconds=1)
    Demonstration.objects.filter(pk=later.pk).update(created=later.created + timedelta(days=1))

    snap = write_snapshot(project, 2, before=before, after=cutoff)
    path = snap.path.parent / DEMONSTRATIONS
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert snap.counts["demonstrations"] == 2 == len(rows)
    assert [r["messages"][-1] for r in rows] == [{"role": "assistant", "content": d.text} for d in new]
    assert rows[0]["messages"][0] == {"role": "user", "content": new[0].prompt.conversation[0]["content"]}

    make_demonstrations(project, 1)  # a retried snapshot reuses what it wrote
    again = write_snapshot(project, 2, before=later.created + timedelta(days=2), after=cutoff)
    assert again.counts["demonstrations"] == 2 and path.read_text().count("\n") == 2


def test_no_demonstrations_no_file(tmp_path, settings):
    settings.ARTIFACT_ROOT = str(tmp_path)
    project = project_with_comparisons(3)
    judge_all(project)
    snap = write_snapshot(project, 1, before=project.comparisons.first().created + timedelta(days=1))
    assert snap.counts["demonstrations"] == 0
    names = {p.name for p in snap.path.parent.iterdir()}
    assert "preferences.jsonl" in names and not any(name.startswith(DEMONSTRATIONS) for name in names)
