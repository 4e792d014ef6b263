"""The sandbox fleet: local node containers (systemd, sshd, sudo, python3) standing in for on-prem
machines, reached only through ports published on 127.0.0.1."""
