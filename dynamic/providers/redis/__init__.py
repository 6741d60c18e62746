"""Redis ACL users as dynamic secrets."""
