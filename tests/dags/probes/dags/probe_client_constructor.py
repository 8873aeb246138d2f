"""Probe: database, S3 and HTTP clients and hooks built at parse time.

Never imported: tests/dags/test_dag_integrity.py parses it to prove the parse-time I/O check.
The task, the lambda and the operator's execute build the same clients: they run in a worker.
``analytics.testing`` does not exist: it stands for any module that re-exports a client class.
"""

from __future__ import annotations

import boto3
import psycopg
import requests
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.mongo.hooks.mongo import MongoHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseHook, BaseOperator, dag, task
from pymongo import MongoClient

from analytics.engagement.config import load_engagement_config
from analytics.testing import MongoClient as ReexportedMongoClient

MONGO = MongoClient("mongodb://127.0.0.1:27017")  # expect io: MongoClient
S3 = boto3.client("s3")  # expect io: boto3.client
CONFIG = load_engagement_config()  # expect io: load_engagement_config
REPLICA = ReexportedMongoClient("mongodb://127.0.0.1:27018")  # expect io: ReexportedMongoClient


class CountRowsOperator(BaseOperator):
    """An operator built in the DAG function: its __init__ runs at parse time, execute does not."""

    def __init__(self, *, table: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.hook = PostgresHook(postgres_conn_id="postgres_analytics")  # expect io: PostgresHook

    def execute(self, context):
        hook = PostgresHook(postgres_conn_id="postgres_analytics")
        return hook.get_first(f"select count(*) from {self.table}")[0]


@dag(schedule=None, tags=["manual"])
def probe_client_constructor():
    psycopg.connect("dbname=analytics")  # expect io: psycopg.connect
    rows = PostgresHook().get_records("select 1")  # expect io: PostgresHook, PostgresHook(...).get_records
    MongoHook(mongo_conn_id="mongo_default")  # expect io: MongoHook
    bucket = S3Hook(aws_conn_id="aws_default").get_bucket("logs")  # expect io: S3Hook
    login = BaseHook.get_connection("postgres_prod").login  # expect io: BaseHook.get_connection
    health = requests.get("https://example.org/health", timeout=5)  # expect io: requests.get

    @task
    def count_documents() -> int:
        """Runs in a worker: clients here are right."""
        return MongoClient().analytics.events.count_documents({})

    (
        CountRowsOperator(
            task_id="count_rows",
            table=f"{rows}{bucket}{login}{health}",
            on_failure_callback=lambda context: requests.post("https://example.org/alert", timeout=5),
        )
        >> count_documents()
    )


probe_client_constructor()
