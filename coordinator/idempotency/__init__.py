"""Idempotency keys: a creating request sent twice (a retry, Back then Submit, a double
tap) is done once, and every copy gets the first answer."""
