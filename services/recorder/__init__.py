"""The recorder: turns every fact on the domain topics into the shared PostgreSQL models.

It is the only writer. Its effect is exactly-once (processed event ids are recorded in the
same transaction as the writes) and order-insensitive (see `entities` and `projection`).
"""
