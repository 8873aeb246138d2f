"""The shared kit every DAG family uses: accounting, progress logging, configuration loading."""
