"""analytics: the domain code, store adapters and operators behind the DAGs in ``dags/``."""
