"""Database access: engine, ORM rows, migrations."""
