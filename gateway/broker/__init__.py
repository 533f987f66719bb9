"""RabbitMQ backbone: topology, confirmed publisher, consumer base (pika)."""
