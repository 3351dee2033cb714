"""The local pipeline runner: load a SageMaker pipeline definition, evaluate its expressions, run its steps."""
