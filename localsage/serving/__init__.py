"""Programs the runner starts in a process of their own, standard library (and numpy) only: the model server
(also the step image's `serve`) and the Lambda function runtime."""
