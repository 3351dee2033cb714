"""Backends: where a step's container runs. `base` is the interface, `process` and `docker` implement it,
`selection` picks one."""
