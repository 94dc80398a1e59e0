"""Apache Airflow provider for the ibl.ai platform: reports, periodic agents and analytics as code."""

__version__ = "0.1.0"

__all__ = ["__version__"]
