"""The project: the only code that reads `ml/` (the data scientist's folder) and turns it into artefacts:
the pipeline definition (built with the SageMaker SDK through `ml/pipeline.py`'s `get_pipeline`), the
uploaded code, the sample data."""
