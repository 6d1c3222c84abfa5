"""Finance reports: the usage report of a billing period (JSON or CSV), read from the billing marts."""
