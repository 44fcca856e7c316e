"""URLs of the annotator pages, for the view tests."""

from __future__ import annotations

from django.urls import reverse


def annotate_url(project) -> str:
    return reverse("annotation:annotate", kwargs={"slug": project.slug})


def stats_url(project) -> str:
    return reverse("annotation:stats", kwargs={"slug": project.slug})


def submit_url(project, assignment) -> str:
    return reverse("annotation:submit", kwargs={"slug": project.slug, "assignment_id": assignment.pk})


def skip_url(project, assignment) -> str:
    return reverse("annotation:skip", kwargs={"slug": project.slug, "assignment_id": assignment.pk})
