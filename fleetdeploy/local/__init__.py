"""Services on this machine's own Docker engine (the SDK's LocalWebservice, docs/azureml.md): a front
container with the nodes' HAProxy config and two slot containers behind it, switched the way a node
switches, so an update on a laptop drops no request either."""
