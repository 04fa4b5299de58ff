"""HTTP: REST API, websocket, provider webhooks."""
