"""Custom auth for the LangGraph server: API keys, thread ownership, submitter/reviewer roles.

`langgraph.json` names `auth` (`"auth": {"path": "./server/auth.py:auth"}`); `langgraph dev`
and LangGraph servers call its handlers on every API request.

- Authentication: the `x-api-key` header (what langgraph-sdk sends for `api_key=`) is looked
  up in the key file named by `CONDUCTOR_API_KEYS_FILE`, read once when the server starts.
  Missing or unknown key: 401. Without that variable the server is open (every request is
  the local user `local`) and a warning says so at start.
- Ownership: a thread belongs to the submitter who created it (metadata `owner`, set here,
  never by the client); runs belong to their thread. Others' threads answer 404 (the
  server applies the filter these handlers return).
- Roles:
  - `submitter` creates threads and runs (tickets, documents), reads and streams its own
    threads, and may resume its own parked run with `{}` or `{"retry": true}`; it can never
    answer a review (`Command(resume={"decision": ...})` is 403), even on its own thread.
  - `reviewer` creates nothing (a thread, or a run with `input`, is 403). It can read every
    ticket a submitter created — the review packet is in the thread's state — and resume it
    with a decision. Thread metadata marks submitter-created threads `owner_role:
    submitter`, and that is the reviewer's filter; the server's filters see metadata only,
    not a thread's status, so "pending review" is the search's `status="interrupted"`, which
    a reviewer's search must ask for (any other search is 403).
- Nobody writes thread state directly (`update_state` is 403): a state write could skip the
  gates or forge a decision, so state changes only through runs. User-supplied run settings
  (`context`, or `configurable` keys that become the run context) are 403 too: they
  include policy limits such as `auto_approve_limit`. Everything without a handler below
  (crons, the store, creating or changing assistants) is 403.
- Input (both modes): a run whose input is not `{"ticket": {...}}` (null, a list, a bare
  ticket without its wrapper) is 422 with a message naming what to send
  (`server/inputs.py`), and a resume with `{}` is made `{"retry": true}` (LangGraph reads
  `{}` as an empty map of interrupt ids and would resume nothing).
- Requests that did not come through the key check (for example `langgraph dev`'s Studio
  pass-through, the `x-auth-scheme: langsmith` header) carry no role and are refused (401).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from langgraph_sdk import Auth

from server.inputs import RunInputError, check_run_input, normalize_resume
from server.keys import KEYS_FILE_ENV, ROLES, KeyRing, Role, is_private, load_key_file
from telemetry.logging import get_logger

API_KEY_HEADER = b"x-api-key"
OPEN_USER = "local"
ROLE_PREFIX = "role:"
OWNER = "owner"
OWNER_ROLE = "owner_role"
RESERVED_METADATA = (OWNER, OWNER_ROLE)
PENDING_STATUS = "interrupted"
# Resume payloads a submitter may send: "try again", never a decision.
SUBMITTER_RESUMES: tuple[dict[str, Any], ...] = ({}, {"retry": True})

log = get_logger("conductor.server.auth")


def _forbidden(detail: str) -> Auth.exceptions.HTTPException:
    return Auth.exceptions.HTTPException(status_code=403, detail=detail)


def _unprocessable(detail: str) -> Auth.exceptions.HTTPException:
    return Auth.exceptions.HTTPException(status_code=422, detail=detail)


def accept_run_input(value: Mapping[str, Any]) -> None:
    """Refuse input no served graph can take (422), and make `{}` resume a parked run.

    Raises:
        Auth.exceptions.HTTPException: 422 naming what was sent and what to send.
    """
    kwargs = value.get("kwargs")
    if not isinstance(kwargs, dict):
        return
    try:
        check_run_input(kwargs, value.get("assistant_id"))
    except RunInputError as exc:
        raise _unprocessable(str(exc)) from None
    normalize_resume(kwargs)


def _unauthorized(detail: str) -> Auth.exceptions.HTTPException:
    return Auth.exceptions.HTTPException(
        status_code=401, detail=detail, headers={"WWW-Authenticate": "ApiKey"}
    )


def role_of(ctx: Auth.types.BaseAuthContext) -> Role:
    """The role an authenticated request carries.

    Raises:
        Auth.exceptions.HTTPException: 401 when the request did not come through the key
            check (no role among its permissions).
    """
    for permission in ctx.permissions or ():
        role = permission.removeprefix(ROLE_PREFIX)
        if permission.startswith(ROLE_PREFIX) and role in ROLES:
            return cast(Role, role)
    raise _unauthorized("a Conductor API key is required (x-api-key header)")


def read_filter(ctx: Auth.types.BaseAuthContext) -> Auth.types.FilterType:
    """The threads a user may read and resume: its own, or, for a reviewer, every ticket."""
    if role_of(ctx) == "reviewer":
        return {OWNER_ROLE: "submitter"}
    return {OWNER: ctx.user.identity}


def _is_retry(payload: Any) -> bool:
    return isinstance(payload, Mapping) and dict(payload) in SUBMITTER_RESUMES


def is_retry_resume(resume: Any) -> bool:
    """Whether a resume value only asks to try again (`{}`, `{"retry": true}`).

    A value keyed by interrupt ids (`{id: payload}`) qualifies when every payload does.
    """
    if _is_retry(resume):
        return True
    return (
        isinstance(resume, Mapping)
        and bool(resume)
        and all(isinstance(k, str) and _is_retry(v) for k, v in resume.items())
    )


def _given(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries of a request field that were actually set (drop None values)."""
    return {k: v for k, v in (mapping or {}).items() if v is not None}


def check_run_request(role: Role, value: Mapping[str, Any]) -> None:
    """Refuse a run a role may not start (see the module docstring for the rules).

    Args:
        role: The caller's role.
        value: The `threads.create_run` payload (`kwargs` holds input, command, context).

    Raises:
        Auth.exceptions.HTTPException: 403 naming what is not allowed.
    """
    kwargs = value.get("kwargs") or {}
    if _given(kwargs.get("context")):
        raise _forbidden("run settings (context/configurable) are set by the operator")
    command = _given(kwargs.get("command"))
    if set(command) - {"resume"}:
        raise _forbidden("only Command(resume=...) is accepted; update and goto are not")
    has_input = kwargs.get("input") is not None
    if role == "reviewer":
        if has_input:
            raise _forbidden("reviewers cannot create tickets: a run with input is refused")
        if "resume" not in command:
            raise _forbidden("reviewers may only resume a pending review")
        if value.get("thread_id") is None or value.get("if_not_exists") == "create":
            raise _forbidden("reviewers may only resume an existing thread")
        return
    if "resume" in command and not is_retry_resume(command["resume"]):
        raise _forbidden(
            'submitters cannot answer a review; they may resume with {} or {"retry": true}'
        )


def build_auth(keys: KeyRing | None) -> Auth:
    """The server's `Auth`: open (anyone is `local`) without keys, enforced with them."""
    auth = Auth()

    if keys is None:

        @auth.authenticate
        async def authenticate_open() -> Auth.types.MinimalUserDict:
            """Open mode: every request is the local user."""
            return {"identity": OPEN_USER, "display_name": OPEN_USER}

        @auth.on.threads.create_run
        async def create_run_open(
            ctx: Auth.types.AuthContext, value: Auth.types.RunsCreate
        ) -> None:
            """Open mode: any run, as long as its input is one a served graph takes."""
            accept_run_input(value)

        return auth

    @auth.authenticate
    async def authenticate(headers: dict[bytes, bytes]) -> Auth.types.MinimalUserDict:
        """Who the `x-api-key` header belongs to; 401 when it is missing or unknown."""
        raw = headers.get(API_KEY_HEADER)
        if not raw:
            raise _unauthorized("missing API key: send it in the x-api-key header")
        entry = keys.identify(raw.decode("utf-8", errors="replace").strip())
        if entry is None:
            raise _unauthorized("invalid API key")
        return {
            "identity": entry.user,
            "display_name": entry.user,
            "permissions": [ROLE_PREFIX + entry.role],
        }

    @auth.on
    async def deny_by_default(ctx: Auth.types.AuthContext, value: Any) -> bool:
        """Crons, the store, and changes to assistants: nobody, through the API."""
        role_of(ctx)
        raise _forbidden(f"{ctx.resource}.{ctx.action} is not allowed")

    @auth.on.assistants.read
    async def read_assistant(ctx: Auth.types.AuthContext, value: Any) -> None:
        """Any authenticated user may read the graphs' assistants."""
        role_of(ctx)

    @auth.on.assistants.search
    async def search_assistants(ctx: Auth.types.AuthContext, value: Any) -> None:
        """Any authenticated user may list the graphs' assistants."""
        role_of(ctx)

    @auth.on.threads.create
    async def create_thread(
        ctx: Auth.types.AuthContext, value: Auth.types.ThreadsCreate
    ) -> Auth.types.FilterType:
        """Submitters create threads, which they then own; reviewers create none."""
        if role_of(ctx) != "submitter":
            raise _forbidden("reviewers cannot create tickets")
        metadata = value.setdefault("metadata", {})
        metadata.update({OWNER: ctx.user.identity, OWNER_ROLE: "submitter"})
        return {OWNER: ctx.user.identity}

    @auth.on.threads.create_run
    async def create_run(
        ctx: Auth.types.AuthContext, value: Auth.types.RunsCreate
    ) -> Auth.types.FilterType:
        """Start or resume a run, within the role's rules, on a thread the user may use."""
        role = role_of(ctx)
        check_run_request(role, value)
        accept_run_input(value)
        if role == "submitter":
            # A run that creates its thread (stateless, or if_not_exists="create") hands its
            # metadata to the new thread, so the new thread is owned too.
            metadata = value.setdefault("metadata", {})
            metadata.update({OWNER: ctx.user.identity, OWNER_ROLE: "submitter"})
        return read_filter(ctx)

    @auth.on.threads.read
    async def read_thread(
        ctx: Auth.types.AuthContext, value: Auth.types.ThreadsRead
    ) -> Auth.types.FilterType:
        """Read a thread, its state, history, runs and streams."""
        return read_filter(ctx)

    @auth.on.threads.search
    async def search_threads(
        ctx: Auth.types.AuthContext, value: Auth.types.ThreadsSearch
    ) -> Auth.types.FilterType:
        """Submitters list their own threads; reviewers list pending reviews only."""
        if role_of(ctx) == "reviewer" and value.get("status") != PENDING_STATUS:
            raise _forbidden(f"reviewers search pending reviews: pass status={PENDING_STATUS!r}")
        return read_filter(ctx)

    @auth.on.threads.update
    async def update_thread(
        ctx: Auth.types.AuthContext, value: Auth.types.ThreadsUpdate
    ) -> Auth.types.FilterType:
        """Owners patch metadata (not ownership) and cancel runs; nobody writes state."""
        role = role_of(ctx)
        if "metadata" not in value and "action" not in value:
            raise _forbidden("thread state changes only through runs (Command(resume=...))")
        if role != "submitter":
            raise _forbidden("reviewers cannot change threads; resume them instead")
        if "action" not in value and set(value.get("metadata") or {}) & set(RESERVED_METADATA):
            raise _forbidden(f"metadata keys {RESERVED_METADATA} are set by the server")
        return {OWNER: ctx.user.identity}

    @auth.on.threads.delete
    async def delete_thread(
        ctx: Auth.types.AuthContext, value: Auth.types.ThreadsDelete
    ) -> Auth.types.FilterType:
        """Owners delete their threads and runs; reviewers delete nothing."""
        if role_of(ctx) != "submitter":
            raise _forbidden("reviewers cannot delete threads")
        return {OWNER: ctx.user.identity}

    return auth


def load_keys_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """The key ring named by `CONDUCTOR_API_KEYS_FILE`, or None (open mode) when unset.

    A variable that is set but names a missing or malformed file raises: a typo must stop
    the server, not open it.

    Raises:
        server.keys.KeyFileError: The named file is missing or invalid.
    """
    env = os.environ if environ is None else environ
    name = env.get(KEYS_FILE_ENV, "").strip()
    if not name:
        log.warning(
            "server_auth_open",
            message=(
                "No API keys configured: the LangGraph server is OPEN, every request is the "
                f"local user. Set {KEYS_FILE_ENV} to a key file (python -m server.keys add "
                "--file FILE --user USER --role submitter|reviewer) to enforce API keys, "
                "thread ownership and roles. Keep an open server on 127.0.0.1."
            ),
        )
        return None
    path = Path(name).expanduser().resolve()
    keys = load_key_file(path)
    if not is_private(path):
        log.warning("server_auth_key_file_not_private", path=str(path), hint="chmod 600")
    log.info(
        "server_auth_enforced",
        key_file=str(path),
        keys=len(keys),
        users=sorted({e.user for e in keys.entries}),
    )
    return keys


auth = build_auth(load_keys_from_env())
