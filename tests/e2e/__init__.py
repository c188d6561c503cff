"""The whole pipeline: four service processes, real Kafka, PostgreSQL and qBittorrent."""
