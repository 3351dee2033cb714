"""The emulator's server: moto for every AWS service, with SageMaker's pipeline-execution and job APIs answered
by the local runner's records and run on this machine (a control plane in front of moto)."""
