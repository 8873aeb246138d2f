"""Thin adapters on the provider hooks (PostgresHook, MongoHook, S3Hook), built from Airflow connection ids."""
