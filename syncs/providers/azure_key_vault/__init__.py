"""Azure Key Vault secrets destination."""
