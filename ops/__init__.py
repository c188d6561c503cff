"""Operator tooling: what people running abauto use to see and steer it (reports over
the record, commands), apart from what the services share (`shared/`)."""
