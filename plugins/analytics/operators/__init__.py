"""Airflow operators: read params and context, call the domain code, return a small summary."""
