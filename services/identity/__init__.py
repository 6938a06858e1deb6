"""The identity service: user accounts (Nutzerkonto/Servicekonto) for citizens and organisations, the
OpenID Connect provider of the suite, trust levels (Vertrauensniveau) and online ID card login.
"""
