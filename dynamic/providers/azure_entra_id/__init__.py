"""Microsoft Entra ID dynamic secrets: the password of a designated user, reset per lease (Graph)."""
