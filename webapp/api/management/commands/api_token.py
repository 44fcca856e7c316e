"""`api_token --user NAME [--name LABEL]`, `--list`, `--revoke PREFIX`: API tokens from a shell."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from webapp.api import tokens


class Command(BaseCommand):
    help = "Create an API token for a user (printed once), list tokens, or revoke one by its prefix."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", help="username: whose token to create (or whose to list or revoke)")
        parser.add_argument("--name", default="", help="what the token is for")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--list", action="store_true", help="list tokens (of --user, or everyone's)")
        action.add_argument("--revoke", metavar="PREFIX", help="revoke the live token with this prefix")

    def handle(self, *args, user: str | None, name: str, list: bool, revoke: str | None, **options) -> None:
        owner = self._user(user) if user else None
        if list:
            for row in tokens.tokens_of(owner):
                state = f"revoked {row.revoked:%Y-%m-%d %H:%M}" if row.revoked else "active"
                used = f"{row.last_used:%Y-%m-%d %H:%M}" if row.last_used else "never"
                self.stdout.write(
                    f"{row.prefix}…\t{row.user.get_username()}\t{row.name or '-'}\t"
                    f"created {row.created:%Y-%m-%d %H:%M}\tlast used {used}\t{state}"
                )
            return
        if revoke is not None:
            try:
                row = tokens.revoke(revoke, user=owner)
            except tokens.TokenError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"revoked {row.prefix}… of {row.user.get_username()}")
            return
        if owner is None:
            raise CommandError("give --user NAME (or --list, or --revoke PREFIX)")
        if not owner.is_active:
            raise CommandError(
                f"user {owner.get_username()!r} is inactive; their tokens would not authenticate"
            )
        _, token = tokens.create_token(owner, name)
        self.stderr.write("the token (shown once; only its sha256 is stored):")
        self.stdout.write(token)

    @staticmethod
    def _user(username: str):
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"no user {username!r}") from exc
