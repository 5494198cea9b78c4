"""The checks of a config that a schema cannot state, and settings messages a newcomer reads.

One line per wrong setting, setting first; no line quotes a key or a URL (either may hold a
secret).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import ssl
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

from tap_datadog_costs.periods import RETENTION_MONTHS, isoformat, retention_start
from tap_datadog_costs.settings import (
    CONFIG_SCHEMA,
    KEYS,
    SITE_NAMES,
    key_value,
    setting_instant,
)

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Mapping

#: An example of each accepted date form, for error messages.
DATE_EXAMPLES = "such as 2026-11-01 or 2026-11-01T00:00:00Z"


def is_loopback(host: str | None) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1 addresses."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact(error: str, config: Mapping[str, t.Any]) -> str:
    """A schema error with secret values masked: a key of the wrong type is quoted in it."""
    for name, spec in CONFIG_SCHEMA["properties"].items():
        value = config.get(name)
        if spec.get("secret") and value is not None and not isinstance(value, str):
            error = error.replace(repr(value), "***")
    return error


def setting_first(error: str) -> str:
    """A schema error from the SDK, reworded to start with the setting it is about.

    The SDK writes ``<what> in config['<setting>']`` (``'x' is a required property`` for a
    missing one); ours reads ``<setting>: <what>``, as our own checks do.
    """
    located = re.fullmatch(r"(.*) in config\['([^']+)'\](.*)", error, re.DOTALL)
    if located:
        what, setting, deeper = located.groups()
        return f"{setting}{deeper}: {what}"
    missing = re.fullmatch(r"'([^']+)' is a required property", error)
    if missing:
        return f"{missing[1]}: required, and not set"
    return error


def unknown_setting_warnings(config: Mapping[str, t.Any], known: Iterable[str]) -> list[str]:
    """One warning per setting this tap does not have, with the closest one it does have."""
    names = sorted(known)
    warnings = []
    for name in sorted(set(config) - set(names)):
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]}?" if close else "see tap-datadog-costs --about"
        warnings.append(f"{name}: not a setting of this tap ({hint}): ignored")
    return warnings


#: The environment variables that set this tap's settings: the prefix Meltano and the SDK read
#: (``TAP_DATADOG_COSTS_START_DATE``). Meltano's own for the plugin, and those of plugins
#: inheriting from it (docs/scaling.md), carry two underscores after it.
VARIABLE_PREFIX = "TAP_DATADOG_COSTS_"


def unknown_variable_warnings(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """One warning per ``TAP_DATADOG_COSTS_`` variable naming no setting, with the closest one.

    Meltano passes on only the variables of settings it knows: a misspelled one would be
    dropped without a word, and its setting left at the default.
    """
    names = {f"{VARIABLE_PREFIX}{name.upper()}" for name in known}
    warnings = []
    for variable in sorted(environ):
        if not variable.startswith(VARIABLE_PREFIX) or variable in names:
            continue
        if variable.startswith(f"{VARIABLE_PREFIX}_"):  # Meltano's, or an inheriting plugin's
            continue
        close = difflib.get_close_matches(variable, sorted(names), n=1)
        hint = f"did you mean {close[0]}?" if close else "see tap-datadog-costs --about"
        warnings.append(f"{variable}: not a setting of this tap ({hint}): ignored")
    return warnings


def site_error(value: object) -> str:
    """Why ``value`` is no site, listing every site, and the one meant if it is clear."""
    choices = ", ".join(f"{site} ({name})" for site, name in SITE_NAMES.items())
    meant = meant_site(value) if isinstance(value, str) else None
    hint = f" (did you mean {meant}?)" if meant else ""
    return f"site: {value!r} is not a Datadog site{hint}; use one of {choices}"


def meant_site(value: str) -> str | None:
    """The one site a near miss names: a URL of it, its name (EU1), a part (eu) or a typo."""
    try:
        host = urlsplit(value.strip() if "//" in value else f"//{value.strip()}").hostname or ""
    except ValueError:  # such as an unclosed [
        return None
    host = host.removeprefix("app.").removeprefix("api.")
    by_name = {name.lower(): site for site, name in SITE_NAMES.items()}
    if host in SITE_NAMES or host in by_name:
        return by_name.get(host, host)
    parts = [site for site in SITE_NAMES if host and host in site.split(".")]
    close = parts or difflib.get_close_matches(host, list(SITE_NAMES), n=1)
    return close[0] if len(close) == 1 else None


def null_errors(config: Mapping[str, t.Any]) -> list[str]:
    """One line per setting with a default that the config sets to null.

    The schema lets null through (every optional setting is nullable), and null is no value:
    a number would fail in Python's words mid-run, a flag would silently be false.
    """
    return [
        f"{name}: null is not a value of this setting: leave it out for the default "
        f"({json.dumps(spec['default'])}), or give one"
        for name, spec in CONFIG_SCHEMA["properties"].items()
        if "default" in spec and name in config and config[name] is None
    ]


def cross_field_errors(config: Mapping[str, t.Any], now: dt.datetime) -> list[str]:
    """One line per wrong setting that the schema let through, naming it and what is allowed.

    No line quotes a key or a URL: either may hold a secret.
    """
    errors = [error for key in KEYS if (error := key_error(key, config[key]))]
    dates: dict[str, dt.datetime] = {}
    for setting in ("start_date", "end_date"):
        if config.get(setting):
            try:
                dates[setting] = setting_instant(config[setting])
            except ValueError:
                errors.append(
                    f"{setting}: '{config[setting]}' is not an ISO date or date-time, "
                    + DATE_EXAMPLES
                )
                continue
    edge = retention_start(now)
    if "end_date" in dates and dates["end_date"] <= edge:
        errors.append(
            f"end_date: {isoformat(dates['end_date'])} is before the {RETENTION_MONTHS} months "
            f"Datadog keeps (from {isoformat(edge)}): there is nothing to read; give a later one"
        )
    if "start_date" in dates and dates["start_date"] > now:
        errors.append("start_date: must not be in the future")
    if "start_date" in dates and "end_date" in dates and dates["start_date"] >= dates["end_date"]:
        errors.append("start_date: must be before end_date")
    for setting, check in (("ca_bundle", ca_bundle_error), ("api_url", api_url_error)):
        error = check(str(config[setting])) if config.get(setting) else None
        if error:
            errors.append(f"{setting}: {error}")
    return errors


def key_error(setting: str, value: object) -> str | None:
    """What is wrong with a key, without quoting it; surrounding white space is allowed."""
    key = key_value(value)
    if not key:
        return f"{setting}: must not be empty"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):  # noqa: PLR2004 - C0 controls, DEL
        return (
            f"{setting}: contains a control character (a line break or tab inside the key): "
            "copy the key again"
        )
    if any(ord(char) > 0xFF for char in key):  # noqa: PLR2004 - beyond latin-1
        return (
            f"{setting}: contains a character HTTP headers cannot carry (such as a curly "
            "quote from a word processor; Datadog's keys are letters and digits): copy the key "
            "again"
        )
    return None


#: Larger than any CA bundle (certifi's is 0.3 MB): not read, so a wrong path cannot stall.
CA_BUNDLE_MAX_MB = 16


def ca_bundle_error(path: str) -> str | None:
    """Why ``path`` is no file of CA certificates TLS can verify against, or None.

    Read as TLS will read it: a file that is no PEM (such as /etc/passwd), or a PEM of a
    private key alone, would fail every request as a certificate that does not verify.
    """
    file = Path(path)
    problem = None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not file.is_file():
        problem = "no file at that path"
    elif file.stat().st_size > CA_BUNDLE_MAX_MB << 20:
        problem = f"the file is larger than {CA_BUNDLE_MAX_MB} MB, which no CA bundle is"
    else:
        try:
            context.load_verify_locations(cafile=path)
        except ssl.SSLError:
            pass
        except OSError as error:
            problem = f"the file cannot be read ({error.strerror or 'no access'})"
        if not problem and not context.cert_store_stats()["x509"]:
            problem = "the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    return f"{problem}: give a PEM file of CA certificates" if problem else None


def api_url_error(value: str) -> str | None:
    """What is wrong with api_url, never quoting it: it may carry a password or a token."""
    try:
        url = urlsplit(value)
        if url.port == 0:
            raise ValueError  # noqa: TRY301 - the same answer as a port urlsplit refuses
    except ValueError:
        return "the port must be a number from 1 to 65535"
    if url.scheme not in {"http", "https"} or not url.hostname:
        return "must be an http(s) URL such as https://api.datadoghq.com"
    if url.username or url.password:
        return "must not carry a user or password: the keys go in api_key and app_key"
    if url.query or url.fragment or value.rstrip().endswith(("?", "#")):
        return "must be scheme://host[:port][/path], with no ?query or #fragment"
    if url.scheme != "https" and not is_loopback(url.hostname):
        return "must use https unless the host is loopback (127.0.0.1, localhost)"
    return None
