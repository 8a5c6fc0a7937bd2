"""Runtime settings, read from the environment (prefix ``TREPHINE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_FILE = Path("trephine.db")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TREPHINE_", extra="ignore")

    #: SQLAlchemy URL. The default is an embedded SQLite file in the working directory.
    database_url: str = f"sqlite:///{DEFAULT_DATABASE_FILE}"
    #: Who the CLI acts as in audit events when no user is signed in.
    cli_user: str = "cli"
    #: The laboratory named in the header of every marrow report (HTML, PDF) [I].
    lab_name: str = "Bone marrow laboratory"
    #: An ONNX cell classifier the site supplies (``TREPHINE_ASPIRATE_MODEL``; needs the
    #: ``onnx`` extra) that proposes classes on the aspirate labelling page (docs/images.md).
    aspirate_model: str | None = None
    #: SQLite only: how long (seconds) a writer waits for another's write lock before giving up
    #: with "database is locked". Every audited read writes an event, so during an import a
    #: page read waits up to this long instead of failing at once.
    sqlite_busy_timeout: float = 30.0

    #: The site's secret for research exports (``TREPHINE_EXPORT_KEY``): Safe Harbor pseudonyms
    #: and limited-data-set date shifts are keyed on it, so they are stable across exports and
    #: cannot be reversed without it. Keep it out of the exported data's reach. Optional: unset
    #: (or empty), each database uses its own random secret, made once and kept in the database
    #: (``services/site_secret.py``); set, it wins, so several databases give one pseudonym.
    export_key: SecretStr | None = None

    #: The account the CLI acts as once accounts exist (``TREPHINE_USER``): sign-outs and
    #: acknowledgements from the command line are recorded under this name, which must be an
    #: enabled account whose role grants the command; ``--as`` may only repeat it.
    user: str | None = None
    #: An API token (``TREPHINE_TOKEN``, from ``trephine tokens create``) the CLI acts with
    #: instead of naming the account: it proves who is acting, where ``TREPHINE_USER`` only
    #: names them. When both are set they must be the same account.
    token: SecretStr | None = None

    # -- the patient pages (docs/patients.md): site text, never hard-coded (§7 PF12)
    #: The language of patient-facing text: a folder of ``trephine/locale`` (English ships).
    patient_language: str = "en"
    #: The clinic's name and the phone number patients call after a biopsy, as printed.
    clinic_name: str = "the haematology clinic"
    clinic_phone: str = "the phone number on your appointment letter"
    #: Call the clinic at this temperature or above (°C). Published patient leaflets use 38.0
    #: or 38.4 (clinical-systems.md §7 PF8) [I]: a site setting.
    fever_threshold_c: float = 38.0

    # -- password hashing (docs/security.md "Passwords"): the argon2id cost of every new hash;
    #: a stored hash of another cost is re-made at its account's next successful sign-in.
    #: Default: RFC 9106's second recommended option (m = 64 MiB, t = 3, p = 4), about 0.2 s
    #: of CPU per sign-in. The floor is the OWASP Password Storage Cheat Sheet's minimum
    #: (m = 19 MiB with t >= 2, or m = 46 MiB with t = 1; p = 1): below it is refused.
    password_hash_memory_kib: int = Field(65536, ge=19456, le=4 * 1024 * 1024)
    password_hash_time_cost: int = Field(3, ge=1, le=100)
    password_hash_parallelism: int = Field(4, ge=1, le=64)

    # -- sessions, sign-in throttling (docs/security.md)
    #: A session unused for this long is ended (HIPAA 164.312(a)(2)(iii) automatic logoff).
    session_idle_minutes: float = Field(15, gt=0)
    #: A session is ended this long after sign-in, however active.
    session_absolute_hours: float = Field(12, gt=0)
    #: Failed sign-ins within this window count towards throttling.
    signin_window_minutes: float = Field(15, gt=0)
    #: Per account: after this many failures each further try must wait (1, 2, 4 … s).
    signin_slow_after: int = Field(3, ge=1)
    #: Per account: after this many failures sign-in is refused until the window has passed.
    signin_lock_after: int = Field(10, ge=1)
    #: The same two limits per client address (many accounts tried from one place).
    signin_address_slow_after: int = Field(10, ge=1)
    signin_address_lock_after: int = Field(30, ge=1)

    # -- procedures (docs/procedures.md): site parameters of the §10 safety rule and the §8
    #: adequacy call, as JSON objects in the environment, e.g.
    #: TREPHINE_PROCEDURE_SAFETY_PARAMS='{"inr_caution_above": "1.5"}'. Names and allowed values
    #: are the rule sets' (``trephine criteria show SIR2019``); an unknown name is refused.
    procedure_safety_params: dict[str, Any] = {}
    #: ``min_core_cm``, ``min_cells`` (ICSH 2008) and ``hemodilute_from`` (none/mild/moderate/
    #: severe: the grade from which an aspirate counts as haemodilute, §8 [I]).
    specimen_adequacy_params: dict[str, Any] = {}

    # -- stored-timeline assessment (docs/assessments.md): site parameters of the rule sets by
    #: name, as a JSON object, e.g. the laboratory's normal Hb of the aplastic anaemia response
    #: TREPHINE_ASSESS_PARAMS='{"hb_normal_female": "11.5", "hb_normal_male": "13.0"}'. Names
    #: and defaults: ``trephine criteria show <RULESET>``; an unknown name is refused.
    assess_params: dict[str, Any] = {}

    # -- serving
    #: Host header values the app answers; anything else gets 400 (DNS rebinding). ``trephine
    #: serve --host`` adds its own host.
    allowed_hosts: list[str] = ["127.0.0.1", "localhost", "::1"]
    #: With ``serve --behind-proxy``: the proxy's address, the only one whose X-Forwarded-*
    #: headers are believed.
    proxy_address: str = "127.0.0.1"
    #: Requests one ``trephine serve`` worker process works on at once (its thread pool; anyio's
    #: default is 40). Their work is Python, which runs one thread at a time per process, so
    #: more at once share the turns rather than the cores (benchmarks/RESULTS.md); fewer make a
    #: long request (an import, a report) hold up the short ones behind it.
    serve_threads: int = Field(40, ge=1, le=1000)

    # -- OpenID Connect (optional; local accounts stay the default)
    #: The provider's issuer URL; OIDC sign-in is offered only when this is set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    #: The ID-token claim that carries the Trephine role (admin, lab, clinician, …).
    oidc_role_claim: str = "trephine_role"
    #: The ID-token claim used as the account name.
    oidc_name_claim: str = "preferred_username"
    #: Provider value of the role claim → Trephine role, as JSON
    #: (``TREPHINE_OIDC_ROLE_MAP='{"haem-consultants": "clinician", "marrow-lab": "lab"}'``).
    #: Empty: the claim must name a Trephine role itself. A value that maps to no role is
    #: refused (no default role); a claim holding a list (groups) must map to exactly one role.
    oidc_role_map: dict[str, str] = {}
    #: Scopes asked for at the provider (``openid`` is required).
    oidc_scopes: str = "openid profile"
    #: Clock skew tolerated between the provider and this server when checking ``exp``/``iat``.
    oidc_leeway_seconds: int = Field(60, ge=0, le=300)

    @model_validator(mode="after")
    def _password_hash_floor(self) -> Settings:
        if self.password_hash_time_cost == 1 and self.password_hash_memory_kib < OWASP_ONE_PASS_KIB:
            raise ValueError(
                "TREPHINE_PASSWORD_HASH_MEMORY_KIB must be at least "
                f"{OWASP_ONE_PASS_KIB} (46 MiB) with TREPHINE_PASSWORD_HASH_TIME_COST=1, or the "
                "time cost at least 2 (the OWASP minimum for argon2id)"
            )
        return self


#: The OWASP Password Storage Cheat Sheet's argon2id configuration with one pass (m = 46 MiB).
OWASP_ONE_PASS_KIB = 47104


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
