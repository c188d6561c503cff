"""What every abauto service truly shares: models, contracts, messaging, settings, logs."""
