"""`manage.py issue_api_key USERNAME --name "billing service" --scope orders:read`: a new API key,
printed once; nothing keeps it in clear."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ...models import APIKey, Scope


class Command(BaseCommand):
    help = "Issue an API key that acts as USERNAME within its scopes, and print it."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="Who uses it, e.g. 'billing service'")
        parser.add_argument(
            "--scope", action="append", required=True, choices=Scope.values, dest="scopes"
        )

    def handle(self, *args, username, name, scopes, **options):
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(f"no user {username!r}") from None
        _, key = APIKey.issue(user=user, name=name, scopes=scopes)
        self.stdout.write(key)
