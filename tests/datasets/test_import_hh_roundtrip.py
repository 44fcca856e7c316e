"""The real HH-RLHF file (harmless-base test split, 2,312 pairs) imports whole and exports back
with `--format hh` to the same texts, in the same order."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.management import call_command

from tests import platform_factories as factories
from tests.datasets.import_files import hh_file
from webapp.annotation.models import Comparison, Judgment

pytestmark = pytest.mark.django_db


def test_the_real_hh_file_round_trips(tmp_path, capsys):
    source = hh_file()
    factories.make_project("hh")
    call_command("import_preferences", str(source), "--project", "hh", "--format", "hh")
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        given = [json.loads(line) for line in handle if line.strip()]
    assert len(given) == 2312
    assert Comparison.objects.filter(status="complete").count() == 2312
    assert set(Judgment.objects.values_list("source", flat=True)) == {"hh:harmless-base-test.jsonl.gz"}

    out = tmp_path / "hh.jsonl"
    call_command("export_preferences", "--project", "hh", "--format", "hh", "--out", str(out))
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(row["chosen"], row["rejected"]) for row in exported] == [
        (row["chosen"], row["rejected"]) for row in given
    ]
