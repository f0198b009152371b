"""Apps the service is measured against: the same query and JSON, written two other ways."""
