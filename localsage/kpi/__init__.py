"""Model KPIs: the table schema, the Athena SQL checked locally with DuckDB, the KPI report."""
