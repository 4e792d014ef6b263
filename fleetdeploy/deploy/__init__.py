"""The deploy workflow: prepare a release on the controller, render the Ansible project, run it."""
