"""Create the demo project, users, policy version 0 and first comparisons (idempotent)."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from webapp.datasets.services import import_prompts
from webapp.projects.models import Membership, Project
from webapp.projects.roles import Role
from webapp.rounds.config import DEFAULTS

DEMO_PROMPTS = Path(__file__).resolve().parents[2] / "demo" / "prompts.jsonl"
GUIDELINES = """\
Pick the response a thoughtful expert would rather send.

1. **Helpful first**: it answers what was asked, correctly and completely.
2. **Honest**: no made-up facts; saying "I don't know" beats a confident error.
3. **Harmless**: it declines dangerous requests politely and offers a safe alternative.
4. **Concise**: with equal content, the shorter, clearer response wins.

Use *tie* when neither is better, *both bad* when neither is acceptable. Keys: `1` A, `2` B,
`3` tie, `4` both bad; `q` `w` `e` strength; `r` reason; `Enter` submit.
"""
USERS = [
    # username, password for the local demo (--insecure-demo-users or DEBUG), staff, role in demo
    ("admin", "prefloop-admin", True, Role.ADMIN),
    ("owner", "prefloop-owner", False, Role.ADMIN),  # manages the demo project only
    ("alice", "prefloop-alice", False, Role.ANNOTATOR),
    ("bob", "prefloop-bob", False, Role.ANNOTATOR),
]
NOTES = {"admin": "  (staff: manages every project)", "owner": "  (project admin: manages the demo project)"}


class Command(BaseCommand):
    help = "Create the demo project with prompts, users, policy v0 and the first comparisons."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-model", default=settings.PREFLOOP_BASE_MODEL)
        parser.add_argument(
            "--comparisons",
            type=int,
            default=DEFAULTS["round"]["next_comparisons"],
            help="first comparisons to make",
        )
        parser.add_argument("--prompts", type=Path, default=DEMO_PROMPTS)
        parser.add_argument(
            "--insecure-demo-users",
            action="store_true",
            help="give the demo users their well-known passwords (what `make run` does on localhost); "
            "otherwise, unless DEBUG is on, each new user gets a random password, printed once",
        )

    def handle(
        self, *args, base_model: str, comparisons: int, prompts: Path, insecure_demo_users: bool, **options
    ) -> None:
        from webapp.catalog.generation import generate_comparisons
        from webapp.catalog.services import create_base_policy

        with transaction.atomic():
            project, created = Project.objects.get_or_create(
                slug="demo",
                defaults={
                    "name": "Demo: SmolLM2 assistant",
                    "guidelines": GUIDELINES,
                    "base_model": base_model,
                },
            )
            if not project.prompts.exists():
                with open(prompts, encoding="utf-8") as handle:
                    count = import_prompts(project, handle, source="prefloop-demo")
                self.stdout.write(f"imported {count} prompts")
            User = get_user_model()
            known = insecure_demo_users or settings.DEBUG
            accounts = []
            for username, password, staff, role in USERS:
                user, made = User.objects.get_or_create(
                    username=username, defaults={"is_staff": staff, "is_superuser": staff}
                )
                if made:
                    password = password if known else secrets.token_urlsafe(12)
                    user.set_password(password)
                    user.save()
                accounts.append((username, password if made or known else None))
                # A role someone changed since is kept.
                Membership.objects.get_or_create(project=project, user=user, defaults={"role": role})
        self.stdout.write(f"project {project.slug}: {'created' if created else 'exists'}")
        if project.active_policy is None:
            self.stdout.write(f"converting base model {base_model!r} to policy version 0 ...")
        policy = create_base_policy(project, base_model)
        self.stdout.write(f"active policy: v{policy.number} at {policy.checkpoint}")
        if not project.comparisons.exists() and comparisons > 0:
            self.stdout.write(f"generating {comparisons} comparisons from v{policy.number} ...")
            made = generate_comparisons(project.pk, comparisons, DEFAULTS["generate"], seed=0, progress=True)
            self.stdout.write(f"made {made} comparisons")
        self.stdout.write("demo accounts (username / password):")
        for username, password in accounts:
            shown = password or "(set when it was created; `manage.py changepassword` to reset)"
            self.stdout.write(f"  {username} / {shown}{NOTES.get(username, '')}")
