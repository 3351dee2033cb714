"""Step types: one module per SageMaker step type, each a small class behind `base.StepType`; `registry` lists them."""
