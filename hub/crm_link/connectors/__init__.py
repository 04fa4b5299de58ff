"""Connectors to outside systems: the connector interface, its runner, outgoing webhooks."""
