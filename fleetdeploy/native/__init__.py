"""The runtimes without Docker (`venv`, `conda`): the environment a node builds, the files shipped for
it, and the role variables that build and run it under systemd. See docs/runtimes.md."""
