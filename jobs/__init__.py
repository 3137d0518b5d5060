"""RQ job entry points: thin functions that take ids and call the feature's operation."""
