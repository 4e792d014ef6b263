"""The scoring server: serves an Azure ML entry script's init()/run() over HTTP.

It is installed into every scoring image, so it imports only its own small dependency list
(requirements.txt beside this file): never Ansible, the Docker SDK, pydantic or rich.
"""
