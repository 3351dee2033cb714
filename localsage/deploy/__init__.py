"""Synthesizing and deploying the CDK stacks (infra/): the CDK CLI calls and the local provisioners."""
