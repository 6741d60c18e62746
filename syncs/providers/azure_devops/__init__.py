"""Azure DevOps variable groups as a sync destination (``provider.AzureDevOpsProvider``)."""
