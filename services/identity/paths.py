"""Where the identity service's endpoints live, relative to the issuer URL.

Discovery publishes each as ``<issuer><path>``; the authorization, userinfo and logout endpoints are
published already and are served by the parts of the service that implement them.
"""

AUTHORIZE = "/authorize"
TOKEN = "/token"  # noqa: S105 - a path, not a password
USERINFO = "/userinfo"
JWKS = "/jwks"
INTROSPECT = "/introspect"
REVOKE = "/revoke"
LOGOUT = "/logout"
OPENID_CONFIGURATION = "/.well-known/openid-configuration"
OAUTH_AUTHORIZATION_SERVER = "/.well-known/oauth-authorization-server"

# --- HTML pages and their assets (services/identity/web) ---
STATIC = "/static"

# --- accounts (services/identity/accounts) ---
REGISTER = "/registrieren"
VERIFY_EMAIL = "/registrieren/bestaetigen"
FORGOT_PASSWORD = "/passwort-vergessen"  # noqa: S105 - a path
RESET_PASSWORD = "/passwort-zuruecksetzen"  # noqa: S105 - a path
ACCOUNT = "/konto"
ACCOUNT_EXPORT = "/konto/export"
ACCOUNT_SECOND_FACTOR = "/konto/zweiter-faktor"
ACCOUNT_EMAIL = "/konto/e-mail"
ORGANISATIONS = "/konto/organisationen"
ORGANISATION_ACT = "/konto/organisationen/handeln"
ORGANISATION_INVITE = "/konto/organisationen/einladen"
ORGANISATION_MEMBER = "/konto/organisationen/mitglied"
ORGANISATION_JOIN = "/konto/organisationen/beitreten"
CONFIRM_EMAIL_CHANGE = "/konto/e-mail/bestaetigen"
ACCOUNT_DELETE = "/konto/loeschen"
ACCOUNT_CONSENT_REVOKE = "/konto/zustimmungen/widerrufen"

# --- login sessions, eID, brokering (services/identity/login, eid, brokering) ---
LOGIN = "/anmelden"
LOGIN_SECOND_FACTOR = "/anmelden/zweiter-faktor"
LOGIN_UPSTREAM = "/anmelden/extern/{name}"
LOGIN_UPSTREAM_RETURN = "/anmelden/extern/{name}/zurueck"
LOGIN_EID = "/anmelden/eid"
LOGIN_EID_TC_TOKEN = "/anmelden/eid/tctoken"  # noqa: S105 - a path
LOGIN_EID_RETURN = "/anmelden/eid/zurueck"

# --- OpenID Connect (services/identity/oidc) ---
CONSENT = "/authorize/zustimmung"
