"""Policy version 0: the base model converted to a plain checkpoint inside ARTIFACT_ROOT."""
from __future__ import annotations

from webapp.catalog.models import PolicyVersion
from webapp.projects.models import Project


def create_base_policy(project: Project, base_model: str) -> PolicyVersion:
    """Convert `base_model` (bundled SmolLM2, a path or a hub id) and deploy it as version 0.

    Idempotent: an existing version 0 is returned as it is.
    """
    from training.models import convert_base_model
    from webapp.catalog import services as catalog

    existing = PolicyVersion.objects.filter(project=project, number=0).first()
    if existing is not None:
        return existing
    checkpoint = convert_base_model(base_model, catalog.policy_dir(project, 0))
    policy = catalog.register_policy(project, checkpoint, base_model, parent=None, number=0)
    catalog.deploy(policy)
    return policy
