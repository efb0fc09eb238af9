"""DATABASE_URL to an entry of Django's DATABASES, without a dependency.

    postgres://user:password@host:5432/name?sslmode=require   (also postgresql://)
    postgres://user@%2Frun%2Fpostgresql/name                   (a unix socket directory as the host)
    sqlite:////absolute/path/db.sqlite3, sqlite:///relative.sqlite3, sqlite://:memory:

Percent-encode reserved characters in the user and password. Query parameters become OPTIONS
(libpq's sslmode, connect_timeout, application_name...). Error messages never repeat the URL,
which holds a password.
"""

from urllib.parse import parse_qsl, unquote, urlsplit

POSTGRES = "django.db.backends.postgresql"
SQLITE = "django.db.backends.sqlite3"
ENGINES = {"postgres": POSTGRES, "postgresql": POSTGRES, "pgsql": POSTGRES, "sqlite": SQLITE}


def parse_database_url(url):
    parts = urlsplit(url.strip())
    engine = ENGINES.get(parts.scheme)
    if engine is None:
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r}; use postgres:// or sqlite://")
    if engine == SQLITE:
        if parts.netloc == ":memory:" or parts.path in ("", "/", "/:memory:"):
            return {"ENGINE": SQLITE, "NAME": ":memory:"}
        return {"ENGINE": SQLITE, "NAME": unquote(parts.path[1:])}

    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):  # an IPv6 address
        host, _, port = hostport[1:].partition("]")
        port = port[1:]
    else:
        host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        raise ValueError("DATABASE_URL: the port is not a number")
    name = unquote(parts.path[1:])
    if not name:
        raise ValueError("DATABASE_URL: no database name (postgres://user:password@host/NAME)")
    return {
        "ENGINE": POSTGRES,
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(host),
        "PORT": port,
        "OPTIONS": dict(parse_qsl(parts.query)),
    }
