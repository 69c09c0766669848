"""HTTP blueprints: thin handlers that validate, call one service and serialize."""
