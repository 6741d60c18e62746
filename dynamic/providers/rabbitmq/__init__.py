"""RabbitMQ users as dynamic secrets (management HTTP API)."""
