#!/bin/sh
# Temporal's schema in temporal-db: created on the first run, upgraded to this image's version on later
# runs, nothing done when already current. compose.yaml runs it (service temporal-schema, image
# temporalio/admin-tools of the same version as temporalio/server) before the Temporal server starts.
# temporal-sql-tool reads SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD from the environment.
set -eu

SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

for db in temporal temporal_visibility; do
  # `create` fails once the database exists (every run after the first); a database that really cannot be
  # reached fails the next command
  temporal-sql-tool --db "$db" create || echo "database $db: exists"
  # records schema version 0.0 on a new database; skipped on one that has a version
  temporal-sql-tool --db "$db" setup-schema -v 0.0
done
temporal-sql-tool --db temporal update-schema -d "$SCHEMA_DIR/temporal/versioned"
temporal-sql-tool --db temporal_visibility update-schema -d "$SCHEMA_DIR/visibility/versioned"
echo "Temporal schema is current"
