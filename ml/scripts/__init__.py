"""Step scripts. Each runs as `python <script>.py [args]` in the step image or on the host, and exposes `run(...)`."""
