"""The identity service's server-rendered HTML pages: templates, cookies, CSRF protection.

Every page is German, works without JavaScript and loads nothing from elsewhere: the one stylesheet is
served by the service itself under a strict Content-Security-Policy.
"""
