"""Thin adapters over pymongo, psycopg and boto3, built from Airflow connections by operators."""
