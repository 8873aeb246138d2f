"""The Airflow Assets that link DAGs which feed each other (see ARCHITECTURE.md, Data flow).

URIs name the data logically, not the server that holds it, so they are the same on every
deployment; the ``analytics://`` scheme marks assets that span many databases.
"""

from __future__ import annotations

from airflow.sdk import Asset

EDX_COURSE_DATABASES = Asset(name="edx_course_databases", uri="analytics://edx/course_databases")
TRACKING_LOGS_MASTER = Asset(name="tracking_logs_master", uri="mongodb://mongo:27017/tracking_logs/tracking")
