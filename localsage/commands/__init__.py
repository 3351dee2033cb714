"""Commands: what each `./dev` task does, one function per task. A command calls the domain layers with the
task's flags, hands the result to a view, and returns; tasks.py only parses flags and calls one of these."""
