"""The spark engine: the pipeline as a Spark job, and the analytics on DataFrames.

PySpark is imported inside functions, so importing these modules is cheap.

* :mod:`~skyscan.engines.spark.job`: plans the job (paths → work units → one packed row per image);
* :mod:`~skyscan.engines.spark.driver`: runs it for ``skyscan detect --engine spark``, one checkpoint part per image;
* :mod:`~skyscan.engines.spark.tasks`: what runs on the executors (Arrow batches in, Arrow batches out);
* :mod:`~skyscan.engines.spark.session`: Java check, the SparkSession, Arrow → Spark schemas;
* :mod:`~skyscan.engines.spark.geoparquet`: partitioned GeoParquet written by the executors;
* :mod:`~skyscan.engines.spark.analytics`, :mod:`~skyscan.engines.spark.cluster`,
  :mod:`~skyscan.engines.spark.metadata`: within, the H3-partitioned join, H3 counts,
  DBSCAN and metadata joins on DataFrames.

:mod:`skyscan.spark` is the public entry to all of it for a SparkSession you already have.
"""
