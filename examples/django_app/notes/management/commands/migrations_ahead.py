"""`manage.py migrations_ahead`: fail, naming them, when the database holds migrations this code lacks.

Run in the release a rollback goes to (pyops.deploy's `before_rollback` hook): the code of an older
release does not know the columns and tables that a newer release's migrations made, and may break on
them. A dozen lines, to copy into an app of your own.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader


class Command(BaseCommand):
    help = "Fail, naming them, when the database has migrations applied that this code does not have."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, **options):
        loader = MigrationLoader(connections[options["database"]], ignore_no_migrations=True)
        # A squashed migration's code stands for the migrations it replaces.
        known = set(loader.disk_migrations)
        known |= {name for migration in loader.disk_migrations.values() for name in migration.replaces}
        ahead = sorted(set(loader.applied_migrations) - known)
        if ahead:
            names = ", ".join(f"{app}.{name}" for app, name in ahead)
            raise CommandError(f"the database has migrations this code does not have: {names}")
        self.stdout.write("The database has no migration this code lacks.")
