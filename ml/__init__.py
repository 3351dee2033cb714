"""The Abalone use case: step scripts (`ml.scripts`) and the SageMaker pipeline builder (`ml.pipeline`)."""
