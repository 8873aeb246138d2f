"""The Airflow connection ids the project uses, in one place.

DAGs and operators refer to these names; the local stack (``scripts/stack.py``) and
``docker-compose.yaml`` define a connection for each one as ``AIRFLOW_CONN_<ID>``.
"""

POSTGRES_PROD = "postgres_prod"
POSTGRES_ANALYTICS = "postgres_analytics"
POSTGRES_APP = "postgres_app"
MONGO_DEFAULT = "mongo_default"
AWS_DEFAULT = "aws_default"

ALL_CONNECTION_IDS = (POSTGRES_PROD, POSTGRES_ANALYTICS, POSTGRES_APP, MONGO_DEFAULT, AWS_DEFAULT)
