"""Outgoing e-mail: a queue in the service's database and a sender that delivers it over SMTP.

A mail is queued in the same transaction as what it is about (a registration, a reset request), so it
is sent if and only if that happened, and a process dying before delivery loses nothing.
"""
