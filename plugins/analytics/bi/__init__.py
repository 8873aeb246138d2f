"""BI aggregation: the clinical-audit application's PostgreSQL into MongoDB collections for dashboards.

Pure: config.py (bi.json, the gate), periods.py (months, quarters), plan.py (a run's months and
chunks of forms), documents.py (the seven collections, rows into documents), reports.py (the run's
report and check). Engine: engine.py (SQL in include/sql/bi, streamed into MongoDB).
"""
