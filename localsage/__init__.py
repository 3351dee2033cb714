"""Local-first MLOps workbench for Amazon SageMaker."""
