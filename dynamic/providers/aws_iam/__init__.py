"""AWS IAM dynamic secrets (boto3): an IAM user with an access key per lease, or STS credentials."""
