"""OAuth clients (portals, authority back-ends) registered by each tenant's administrators."""
