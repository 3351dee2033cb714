"""SageMaker operations on a target: pipelines (upsert, start in AWS), the model registry, the notification inbox.
Domain code only: each function returns data; the views print it."""
