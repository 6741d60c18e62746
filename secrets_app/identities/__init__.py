"""Machine identities: organization-level principals for pipelines and workloads, with auth
methods (universal, JWT, OIDC, Kubernetes) that exchange a credential for a short-lived token."""
