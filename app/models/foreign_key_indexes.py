"""Every foreign key gets an index that leads with its column.

Deleting (or re-keying) a referenced row makes PostgreSQL look up its referencing rows once per row and per
key; without an index each look-up is a scan of the whole referencing table. Removing 100,000 accounts, which
about 30 columns reference ("who created", "who archived", ...), then costs billions of row visits. Columns that
are mostly empty (who archived, who cancelled) get a partial index on their non-null values: it serves the same
look-up (`column = $1` implies `column IS NOT NULL`) and costs nothing when rows are written without them.
"""

from sqlalchemy import Index, MetaData, Table, UniqueConstraint


def _leading_columns(table: Table) -> set[str]:
    """Columns an index, primary key or unique constraint of `table` leads with (partial indexes excluded:
    they do not serve every look-up)."""
    leading = {next(iter(table.primary_key.columns)).name} if table.primary_key.columns else set()
    for index in table.indexes:
        if index.dialect_options["postgresql"]["where"] is None and index.expressions:
            first = index.expressions[0]
            leading.add(first if isinstance(first, str) else getattr(first, "name", ""))
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.columns:
            leading.add(next(iter(constraint.columns)).name)
    return leading


def index_foreign_keys(metadata: MetaData) -> list[Index]:
    """Add the missing indexes to the tables of `metadata`; returns what it added."""
    added = []
    for table in metadata.tables.values():
        leading = _leading_columns(table)
        for key in table.foreign_key_constraints:
            if len(key.columns) != 1:
                continue
            column = next(iter(key.columns))
            if column.name in leading:
                continue
            where = column.isnot(None) if column.nullable else None
            added.append(Index(f"ix_{table.name}_{column.name}", column, postgresql_where=where))
            leading.add(column.name)
    return added
