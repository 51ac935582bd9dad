"""BigQuery engine: the real google-cloud-bigquery client, read-only, capped and with a deadline.

Every job carries its values as query parameters, a `maximum_bytes_billed` cap, a label
naming the monitor, the configured location and a deadline on the whole wait: the client's
own timeouts apply per HTTP call, so the job runs in a worker thread and the caller stops
waiting when the deadline passes (the job is then cancelled, and carries the same deadline as its
`job_timeout_ms`, so BigQuery stops it even when the cancel never arrives). Errors come back as one
line that never carries credentials, URLs with tokens or stack traces.

`endpoint` points the client at a local BigQuery emulator (tests); it must be a loopback
http(s) URL, and the client then uses anonymous credentials.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import os
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.identifiers import EMULATOR_PROJECT_ID, IDENTIFIER, PROJECT_ID, checked
from monitor.warehouse.base import QueryError, Result, WarehouseError, ensure_read_only, one_line, seconds

DEFAULT_MAX_BYTES_BILLED = 10 * 1024**3  # 10 GiB per job
RESULT_PAGE_ROWS = 100_000  # rows per results page (BigQuery also caps a page at 10 MB)
JOB_LABELS = {"app": "backfill-monitor"}
LOCATION = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,40}")
BIGQUERY_SCOPES = ("https://www.googleapis.com/auth/bigquery",)
NO_CREDENTIALS = (
    "no Google Cloud credentials found: run `gcloud auth application-default login` "
    "(or set GOOGLE_APPLICATION_CREDENTIALS to a key file); the app also takes a service account "
    "in .streamlit/secrets.toml under [gcp_service_account] (see .streamlit/secrets.toml.example)"
)
URL_HELP = "use bigquery://PROJECT[?location=US&endpoint=http://127.0.0.1:PORT&partitions=on|off]"
SWITCH = {"on": True, "off": False}


# --- URL ----------------------------------------------------------------------


def parse_url(url: str, project: str | None = None) -> dict[str, str | None]:
    """bigquery://PROJECT[?location=..&endpoint=..&partitions=on|off] -> {project, location, endpoint, partitions};
    WarehouseError if unusable.

    A project in the URL wins over `project` (from the pipeline config). `partitions` (None unless given) says
    whether coverage may read INFORMATION_SCHEMA.PARTITIONS (see BigQueryWarehouse).
    """
    parts = urlsplit(url)
    if parts.scheme != "bigquery" or not url.startswith("bigquery://"):
        raise WarehouseError(f"not a BigQuery URL: {URL_HELP}")
    if parts.path not in ("", "/") or parts.fragment:
        raise WarehouseError(f"BigQuery URL has unexpected parts after the project: {URL_HELP}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise WarehouseError(f"BigQuery URL has a malformed query string: {URL_HELP}") from None
    unknown = sorted(set(query) - {"location", "endpoint", "partitions"})
    if unknown:
        raise WarehouseError(f"BigQuery URL has unknown option(s) {', '.join(unknown)}: {URL_HELP}")
    if any(len(v) > 1 for v in query.values()):
        raise WarehouseError(f"BigQuery URL repeats an option: {URL_HELP}")
    endpoint = query.get("endpoint", [None])[0]
    if endpoint is not None:
        endpoint = checked_endpoint(endpoint)
    location = query.get("location", [None])[0]
    if location is not None and not LOCATION.fullmatch(location):
        raise WarehouseError(f"invalid BigQuery location {_shown(location)}: e.g. US, EU or us-central1")
    partitions = query.get("partitions", [None])[0]
    if partitions is not None and partitions not in SWITCH:
        raise WarehouseError(f"BigQuery URL option partitions must be on or off, got {_shown(partitions)}")
    if "@" in parts.netloc:
        raise WarehouseError("BigQuery URL must not carry credentials: use ADC or the app's secrets")
    name = parts.netloc or project
    if not name:
        raise WarehouseError(f"BigQuery URL names no project (and the config sets no pipeline.project): {URL_HELP}")
    if not project_pattern(endpoint).fullmatch(name):
        size = "1-30" if endpoint else "6-30"
        raise WarehouseError(
            f"invalid BigQuery project id {_shown(name)}: {size} lowercase letters, digits and hyphens, starting with a letter"
        )
    return {"project": name, "location": location, "endpoint": endpoint,
            "partitions": None if partitions is None else SWITCH[partitions]}


def project_pattern(endpoint: str | None) -> re.Pattern:
    """Google Cloud's project-id rule; a local emulator's projects may be shorter (its default is `demo`)."""
    return EMULATOR_PROJECT_ID if endpoint else PROJECT_ID


def _shown(text: str) -> str:
    return repr(text if len(text) <= 64 and text.isprintable() else text[:60] + "…")


def checked_endpoint(endpoint: str) -> str:
    """A loopback http(s) URL (an emulator on this machine), without credentials, path or query."""
    bad = WarehouseError("BigQuery endpoint must be a loopback http(s) URL such as http://127.0.0.1:9050")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise bad
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise bad
    host = parts.hostname
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise bad
        except ValueError:
            raise bad from None
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port else "")


# --- parameters ---------------------------------------------------------------


def to_parameters(params: dict[str, Any]) -> list:
    """Python values to typed BigQuery query parameters (TypeError for anything else)."""
    from google.cloud import bigquery

    out = []
    for name, value in params.items():
        checked(name, IDENTIFIER)
        if isinstance(value, (list, tuple)):
            kinds = {_scalar_type(v) for v in value}
            if len(kinds) > 1:
                raise TypeError(f"parameter @{name} mixes types {sorted(kinds)}")
            kind = kinds.pop() if kinds else "STRING"
            out.append(bigquery.ArrayQueryParameter(name, kind, [_scalar_value(v) for v in value]))
        else:
            out.append(bigquery.ScalarQueryParameter(name, _scalar_type(value), _scalar_value(value)))
    return out


def _scalar_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    raise TypeError(f"unsupported query parameter type {type(value).__name__}")


def _scalar_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # A TIMESTAMP is an instant: naive means UTC, as everywhere in the monitor.
        value = (value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value).astimezone(dt.UTC)
        return dt.datetime(*value.timetuple()[:6], value.microsecond, tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    return value


# --- errors -------------------------------------------------------------------

_URL_PREFIX = re.compile(r"^(?:GET|POST|PUT|PATCH|DELETE)\s+\S+:\s*")
_QUOTA_REASONS = {"quotaExceeded", "rateLimitExceeded", "jobRateLimitExceeded", "concurrentQueriesLimitExceeded"}


def _api_message(exc: Exception) -> str:
    """The server's own words, without the request URL that google-cloud-core prefixes."""
    errors = getattr(exc, "errors", None) or []
    message = next((e.get("message") for e in errors if isinstance(e, dict) and e.get("message")), None)
    if not message:
        message = getattr(exc, "message", None) or str(exc)
    return one_line(_URL_PREFIX.sub("", " ".join(str(message).split())), 240)


def _reasons(exc: Exception) -> set[str]:
    return {e.get("reason") for e in getattr(exc, "errors", None) or [] if isinstance(e, dict) and e.get("reason")}


def describe(exc: Exception, cap: int | None = None) -> str:
    """One line for a user: the kind of failure, then the server's message. Never credentials or a stack."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    if isinstance(exc, auth_exc.RefreshError):
        return "BigQuery rejected the credentials (token refresh failed): check the service account or run `gcloud auth application-default login`"
    if isinstance(exc, auth_exc.GoogleAuthError):
        return f"BigQuery authentication failed ({exc.__class__.__name__})"
    if not isinstance(exc, gexc.GoogleAPICallError):
        if isinstance(exc, gexc.RetryError):
            return "BigQuery did not answer before the retry deadline"
        name = exc.__class__.__name__
        if "ConnectionError" in name or "ConnectTimeout" in name or isinstance(exc, ConnectionError):
            return f"cannot reach BigQuery: {name}"
        return f"{name}: {one_line(exc, 200)}"
    reasons = _reasons(exc)
    message = _api_message(exc)
    code = getattr(exc, "code", None)
    if "bytesBilledLimitExceeded" in reasons or "bytes billed" in message.lower():
        limit = f" of {cap:,} bytes" if cap else ""
        return f"refused by BigQuery: the query would bill more than the cap{limit} (maximum_bytes_billed): {message}"
    if reasons & _QUOTA_REASONS or "quota" in message.lower():
        return f"BigQuery quota exceeded ({code}): {message}"
    if isinstance(exc, gexc.NotFound):
        return f"not found (404): {message}"
    if isinstance(exc, gexc.Unauthorized):
        return f"BigQuery rejected the credentials (401): {message}"
    if isinstance(exc, gexc.Forbidden):
        return f"access denied (403): {message}"
    if isinstance(exc, gexc.BadRequest):
        return f"bad query (400): {message}"
    if isinstance(exc, gexc.ServerError):
        return f"BigQuery server error ({code}): {message}"
    return f"BigQuery error ({code}): {message}"


# --- the engine ---------------------------------------------------------------


class BigQueryWarehouse:
    """One client per process; queries from several threads share it (the client is thread-safe).

    `partition_metadata`: whether coverage may read per-date row counts from INFORMATION_SCHEMA.PARTITIONS
    (tables configured `coverage = "auto"` or `"partitions"`). Default: on for BigQuery, off against an
    emulator `endpoint`, because the emulator answers that view by writing every partition of the dataset into
    the SQL text as a literal and parsing it again (about 20 ms per partition: a minute for the NBA demo),
    while BigQuery reads it from metadata. Tests and benchmarks turn it on explicitly.
    """

    def __init__(
        self,
        project: str,
        *,
        location: str | None = None,
        endpoint: str | None = None,
        credentials: Any = None,
        max_bytes_billed: int | None = None,
        client: Any = None,
        partition_metadata: bool | None = None,
    ):
        self.endpoint = checked_endpoint(endpoint) if endpoint else None
        self.project = checked(project, project_pattern(self.endpoint))
        self.location = location
        self.max_bytes_billed = int(max_bytes_billed or DEFAULT_MAX_BYTES_BILLED)
        if self.max_bytes_billed <= 0:
            raise WarehouseError("maximum bytes billed must be a positive number of bytes")
        self.label = f"bigquery://{self.project}"
        self.partition_metadata = (self.endpoint is None) if partition_metadata is None else bool(partition_metadata)
        self._client = client or self._make_client(credentials)

    def _make_client(self, credentials: Any):
        try:
            from google.api_core.client_options import ClientOptions
            from google.cloud import bigquery
        except ImportError:
            raise WarehouseError("the BigQuery engine needs google-cloud-bigquery and db-dtypes: pip install -r requirements.txt") from None
        options = None
        if self.endpoint:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()
            options = ClientOptions(api_endpoint=self.endpoint)
        elif credentials is None:
            credentials = default_credentials()
        try:
            return bigquery.Client(project=self.project, credentials=credentials, location=self.location, client_options=options)
        except Exception as exc:  # a malformed credentials object, say: name it, never print it
            raise WarehouseError(f"cannot create the BigQuery client ({exc.__class__.__name__})") from None

    def table_ref(self, dataset: str, table: str) -> str:
        return f"`{self.project}.{checked(dataset)}.{checked(table)}`"

    def columns_ref(self, dataset: str) -> str:
        # The dataset-qualified view: the region-qualified one returns nothing on the emulator.
        return f"`{self.project}.{checked(dataset)}`.INFORMATION_SCHEMA.COLUMNS"

    def partitions_ref(self, dataset: str) -> str:
        return f"`{self.project}.{checked(dataset)}`.INFORMATION_SCHEMA.PARTITIONS"

    def job_config(self, params: dict[str, Any]):
        from google.cloud import bigquery

        try:
            parameters = to_parameters(params)
        except (TypeError, ValueError) as exc:
            raise QueryError(f"refused: {exc}") from None
        return bigquery.QueryJobConfig(
            query_parameters=parameters,
            maximum_bytes_billed=self.max_bytes_billed,
            labels=dict(JOB_LABELS),
            use_legacy_sql=False,
        )

    def query(self, sql: str, params: dict[str, Any], *, now: dt.datetime, deadline_s: float) -> Result:
        ensure_read_only(sql)
        config = self.job_config(params)
        # BigQuery stops the job itself at the same deadline, even if the cancel below never reaches it.
        config.job_timeout_ms = max(1, math.ceil(deadline_s * 1000))
        deadline = time.monotonic() + deadline_s
        state: dict[str, Any] = {"jobs": [], "abandoned": False}

        def expired() -> QueryError:
            retried = state.get("retried")
            why = f" (last try: {describe(retried)})" if retried is not None else ""
            return QueryError(f"query exceeded its deadline of {seconds(deadline_s)} s{why}")

        done = threading.Event()

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            return remaining

        def work() -> None:
            from google.cloud.bigquery.retry import DEFAULT_RETRY

            transient = DEFAULT_RETRY._predicate

            def retried(exc: Exception) -> bool:  # remember what was retried, to name it if the deadline passes
                state["retried"] = exc
                return transient(exc)

            retry = DEFAULT_RETRY.with_predicate(retried)
            try:
                job = self._client.query(sql, job_config=config, location=self.location, timeout=left(),
                                         retry=retry.with_deadline(left()), job_retry=None)
                state["jobs"].append(job)
                if state["abandoned"]:  # the caller gave up while the job was being inserted
                    self._cancel([job])
                    return
                # page_size: the call that waits for the job also brings the first page of rows, so a query is two
                # HTTP round trips (insert, results) instead of three (insert, wait, rows); see benchmarks/README.md.
                rows = job.result(timeout=left(), retry=retry.with_deadline(left()), job_retry=None, page_size=RESULT_PAGE_ROWS)
                frame = rows.to_dataframe(create_bqstorage_client=False, progress_bar_type=None)
                state["result"] = Result(frame, job.total_bytes_processed)
            except BaseException as exc:  # handed to the caller's thread
                state["error"] = exc
            finally:
                done.set()

        # A daemon thread: a client call that hangs past the deadline never blocks the caller or the exit.
        threading.Thread(target=work, name="bigquery-job", daemon=True).start()
        if not done.wait(timeout=max(deadline - time.monotonic(), 0)):
            state["abandoned"] = True
            self._cancel(list(state["jobs"]))
            raise expired()
        if "error" in state:
            exc = state["error"]
            if _is_timeout(exc):
                self._cancel(list(state["jobs"]))
                raise expired() from None
            if isinstance(exc, QueryError):
                raise exc from None
            raise QueryError(describe(exc, self.max_bytes_billed)) from None
        return state["result"]

    def _cancel(self, jobs: list) -> None:
        """Best effort, in the background: a job we stopped waiting for should not keep running (and billing),
        and cancelling must not make the caller wait past its deadline."""
        if not jobs:
            return

        def cancel() -> None:
            for job in jobs:
                try:
                    self._client.cancel_job(job.job_id, location=job.location, retry=None, timeout=10)
                except Exception:  # noqa: S110 - the job may be done already; the deadline error is what matters
                    pass

        threading.Thread(target=cancel, name="bigquery-cancel", daemon=True).start()

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: S110
            pass


def _is_timeout(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    if isinstance(exc, (TimeoutError, gexc.RetryError, gexc.DeadlineExceeded)):
        return True
    name = exc.__class__.__name__
    return name in ("Timeout", "ReadTimeout", "ConnectTimeout", "ReadTimeoutError")


def default_credentials():
    """Application Default Credentials (which covers GOOGLE_APPLICATION_CREDENTIALS), or WarehouseError."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    key_file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key_file and not os.path.isfile(key_file):
        raise WarehouseError(f"GOOGLE_APPLICATION_CREDENTIALS names {key_file}, which is not a file: "
                             "point it at a key file, or unset it to use `gcloud auth application-default login`")
    try:
        credentials, _ = google.auth.default(scopes=list(BIGQUERY_SCOPES))
    except Exception as exc:  # DefaultCredentialsError, or what a malformed file makes google.auth raise
        if key_file:  # the file exists but is not a key google.auth can use; never quote its content
            raise WarehouseError(f"GOOGLE_APPLICATION_CREDENTIALS names {key_file}, which is not a usable "
                                 "credentials file (a service-account key or an ADC file)") from None
        if isinstance(exc, DefaultCredentialsError):
            raise WarehouseError(NO_CREDENTIALS) from None
        raise WarehouseError(f"Application Default Credentials could not be loaded ({exc.__class__.__name__}): "
                             "run `gcloud auth application-default login` again") from None
    return credentials


def service_account_credentials(info: Any):
    """Credentials from a service-account key given as a mapping (the app's st.secrets["gcp_service_account"]).

    A malformed key gives a WarehouseError naming only the problem's kind: never a field of the key.
    """
    from google.oauth2 import service_account

    try:
        return service_account.Credentials.from_service_account_info(dict(info), scopes=list(BIGQUERY_SCOPES))
    except Exception as exc:
        raise WarehouseError(
            f"the [gcp_service_account] secret is not a usable service-account key ({exc.__class__.__name__}): "
            "see .streamlit/secrets.toml.example"
        ) from None


def open_bigquery(url: str, *, project: str | None = None, credentials: Any = None, max_bytes_billed: int | None = None) -> BigQueryWarehouse:
    """`credentials` may be a function giving them: called only when the URL needs them (an emulator's
    `endpoint` is read anonymously, so a secrets file's key is neither read nor checked then)."""
    parsed = parse_url(url, project)
    if parsed["endpoint"]:
        credentials = None
    elif callable(credentials):
        credentials = credentials()
    return BigQueryWarehouse(
        parsed["project"], location=parsed["location"], endpoint=parsed["endpoint"],
        credentials=credentials, max_bytes_billed=max_bytes_billed, partition_metadata=parsed["partitions"],
    )
