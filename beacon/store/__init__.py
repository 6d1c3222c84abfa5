"""Write paths shared by the API, the generator and ingestion: one implementation each."""
