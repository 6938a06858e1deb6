"""Browser login sessions: the login page, trust levels (acr) with the TR-03160-1 session limits, step-up."""
