"""Adapters: where the toolkit meets the outside world (AWS sessions and the safety rail, the emulator,
targets, S3 transfers, the local stand-in for SageMaker's model events)."""
