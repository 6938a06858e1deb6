"""Citizen accounts (Nutzerkonto) and organisation accounts (Servicekonto): registration, credentials,
second factor, attributes with their trust levels, organisations with members, and the data rights."""
