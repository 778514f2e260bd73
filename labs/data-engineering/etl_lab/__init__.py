"""etl_lab: the data-engineering lab's package (a Spark ETL job and a Feast feature store).

Your submission is ingest.py, quality.py, features.py, output.py and feature_store.py.
datagen.py (the raw-log generator) and job.py (the pipeline wiring) are provided.
"""
