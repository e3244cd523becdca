from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user, in place from the first migration so fields can be added later.

    Swapping the user model after the first migration is not supported by Django: with this
    class in place from the start, a profile field is just a migration away.
    """
