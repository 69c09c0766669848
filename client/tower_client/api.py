"""TowerClient: every operation of Tower's HTTP API as a method (login, rows, jobs, outputs)."""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from tower_client.address import NotTowerError, describe_answer, normalize_url, transport_error
from tower_client.echo import EchoMethods
from tower_client.errors import ApiError, TowerError, UnreachableError, to_api_error
from tower_client.filenames import asset_id, file_name, inside
from tower_client.stream import Event, parse_events

if TYPE_CHECKING:
    from tower_client.production import Production
    from tower_client.submission import Submission

log = logging.getLogger(__name__)

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
CHUNK = 1 << 16
DIRECTORY = "inode/directory"


class TowerClient(EchoMethods):
    """A small synchronous client of Tower's API; usable as a context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = normalize_url(base_url)
        self.token = token
        self.timeout = timeout
        self.session = session or requests.Session()
        # The last status report of each job with its ETag: a poll without a change gets a 304.
        self._reports: dict[int, tuple[str, dict[str, Any]]] = {}

    def __enter__(self) -> TowerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # -- transport ---------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request with the bearer token; the response when it is a success.

        :raises UnreachableError: when the server does not answer (or its name does not resolve).
        :raises NotTowerError: when what answers is not a Tower farm.
        :raises ApiError: on a 4xx or 5xx answer.
        """
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        kwargs.setdefault("timeout", self.timeout)
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, headers=headers, **kwargs)
        except requests.exceptions.InvalidJSONError as exc:
            # Refused before sending (NaN or Infinity in the body): not the farm's fault.
            raise TowerError(f"not sent: the request's JSON is invalid ({exc})") from exc
        except requests.RequestException as exc:
            raise transport_error(self.base_url, exc) from exc
        if response.status_code >= 400:
            error = to_api_error(response)
            if error.code == "http_error":  # no {"error", "message"} body: not Tower's answer
                raise NotTowerError(self.base_url, response.status_code, describe_answer(response))
            raise error
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON body of a request (None for an empty body).

        :raises UnreachableError: when the server does not answer.
        :raises NotTowerError: when the answer is not JSON.
        :raises ApiError: on an error answer.
        """
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise NotTowerError(
                self.base_url, response.status_code, describe_answer(response)
            ) from exc

    # -- accounts ----------------------------------------------------------------------------

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Exchange email and password for a token, which this client then uses.

        :raises ApiError: on wrong credentials (401) or too many attempts (429).
        """
        body = self.call("POST", "/auth/login", json={"email": email, "password": password})
        if not isinstance(body, dict) or "access_token" not in body:
            raise NotTowerError(self.base_url, 200, "no access token in its login answer")
        self.token = body["access_token"]
        return body

    def logout(self) -> None:
        """Revoke this client's token on the farm (an API token for good).

        :raises ApiError: when the token is not valid (401).
        """
        self.call("POST", "/auth/logout")

    def create_api_token(self, name: str, expires_in_days: int | None = None) -> dict[str, Any]:
        """A long-lived API token for scripts ({id, name, token, expires_at, ...}).

        :raises ApiError: without a valid login.
        """
        body = {"name": name, "expires_in_days": expires_in_days}
        return self.call("POST", "/auth/tokens", json=body)

    def list_api_tokens(self) -> list[dict[str, Any]]:
        """The account's API tokens (id, name, expires_at, revoked_at, ...), newest first.

        :raises ApiError: without a valid token.
        """
        return self.call("GET", "/auth/tokens")

    def me(self) -> dict[str, Any]:
        """The account the token belongs to.

        :raises ApiError: without a valid token.
        """
        return self.call("GET", "/auth/me")

    # -- production rows ---------------------------------------------------------------------

    def create_project(self, name: str, **fields: Any) -> dict[str, Any]:
        """Create a project (description, style, is_public optional).

        :raises ApiError: on invalid fields.
        """
        return self.call("POST", "/api/anime/projects", json={"name": name, **fields})

    def create_character(self, project_id: int, name: str, **fields: Any) -> dict[str, Any]:
        """Create a character (lora_name, lora_strength, trigger_words, description optional).

        :raises ApiError: on invalid fields or an unknown project.
        """
        path = f"/api/anime/projects/{project_id}/characters"
        return self.call("POST", path, json={"name": name, **fields})

    def create_episode(
        self, project_id: int, number: int, title: str, **fields: Any
    ) -> dict[str, Any]:
        """Create an episode (fps, width, height optional).

        :raises ApiError: on invalid fields or an unknown project.
        """
        body = {"number": number, "title": title, **fields}
        return self.call("POST", f"/api/anime/projects/{project_id}/episodes", json=body)

    def create_scene(
        self, episode_id: int, order: int, prompt: str, duration_s: float, **fields: Any
    ) -> dict[str, Any]:
        """Create a scene (negative_prompt, character_ids, mood, motion, transition,
        transition_s, seed, sfx_cues optional).

        :raises ApiError: on invalid fields or an unknown episode.
        """
        body = {"order": order, "prompt": prompt, "duration_s": duration_s, **fields}
        return self.call("POST", f"/api/anime/episodes/{episode_id}/scenes", json=body)

    def submit_production(
        self, production: Production, *, dry_run: bool = False, priority: int | None = None
    ) -> Submission:
        """Send a whole production: the farm creates it (or updates the one the same file made)
        and queues its episode's render, all or nothing; `dry_run` only checks.

        :raises ProductionError: the farm's refusals, at their lines in the file.
        :raises ApiError: a refusal that is not about the file.
        """
        from tower_client.submission import submit_production

        return submit_production(self, production, dry_run=dry_run, priority=priority)

    # -- jobs --------------------------------------------------------------------------------

    def generate(
        self,
        project_id: int,
        *,
        kind: str = "episode",
        episode_id: int | None = None,
        scene_ids: list[int] | None = None,
        options: dict[str, Any] | None = None,
        priority: int = 5,
    ) -> dict[str, Any]:
        """Queue a render job; the 202 body {request_id, status, status_url}.

        :raises ApiError: on invalid options or rows the caller cannot use.
        """
        body: dict[str, Any] = {"kind": kind, "priority": priority, "options": options or {}}
        if episode_id is not None:
            body["episode_id"] = episode_id
        if scene_ids is not None:
            body["scene_ids"] = scene_ids
        return self.call("POST", f"/api/anime/projects/{project_id}/generate", json=body)

    def status(self, job_id: int) -> dict[str, Any]:
        """A job's status report: status, progress, stages and outputs.

        :raises ApiError: when the job is missing or not the caller's (404).
        """
        seen = self._reports.get(job_id)
        headers = {"If-None-Match": seen[0]} if seen else {}
        response = self.request("GET", f"/api/anime/generation/{job_id}/status", headers=headers)
        if response.status_code == 304 and seen:
            return copy.deepcopy(seen[1])
        try:
            report = response.json()
        except ValueError as exc:
            raise NotTowerError(
                self.base_url, response.status_code, describe_answer(response)
            ) from exc
        if response.headers.get("ETag"):
            self._reports[job_id] = (response.headers["ETag"], copy.deepcopy(report))
        return report

    def list_jobs(self, *, limit: int = 20, cursor: str | None = None, **filters: Any) -> dict:
        """One page of jobs, newest first: {items, next_cursor} (filters: status, kind, ...).

        :raises ApiError: on an invalid filter.
        """
        params = {"limit": limit, **{k: v for k, v in filters.items() if v is not None}}
        if cursor:
            params["cursor"] = cursor
        return self.call("GET", "/api/anime/jobs", params=params)

    def retry(self, job_id: int, stage_id: int | None = None) -> dict[str, Any]:
        """Re-run a job's failed stages (or one stage run) and what follows them.

        :raises ApiError: when there is nothing to retry (409) or no such job (404).
        """
        body = {"stage_id": stage_id} if stage_id is not None else {}
        return self.call("POST", f"/api/anime/generation/{job_id}/retry", json=body)

    def retake(
        self, scene_id: int, *, seed: int | None = None, prompt: str | None = None
    ) -> dict[str, Any]:
        """Re-render one scene of its succeeded episode job (a new seed, or a new prompt) and
        recompile; the 202 body.

        :raises ApiError: 409 when the scene's job did not succeed or still runs.
        """
        body = {k: v for k, v in (("seed", seed), ("prompt", prompt)) if v is not None}
        return self.call("POST", f"/api/anime/scenes/{scene_id}/retake", json=body)

    def cancel(self, job_id: int) -> dict[str, Any]:
        """Cancel a job.

        :raises ApiError: when it already ended (409) or does not exist (404).
        """
        return self.call("POST", f"/api/anime/generation/{job_id}/cancel")

    def events(self, job_id: int, last_event_id: str | None = None) -> Iterator[Event]:
        """A job's live events (SSE), until the stream ends after the job's terminal event.

        :raises UnreachableError: when the server does not answer or the stream drops.
        :raises ApiError: when the job is missing or not the caller's.
        """
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        path = f"/api/anime/generation/{job_id}/events"
        # The read timeout must outlast the server's 15 s heartbeat.
        response = self.request("GET", path, headers=headers, stream=True, timeout=(10, 60))
        try:
            yield from parse_events(response.iter_lines(decode_unicode=True))
        except requests.RequestException as exc:
            raise UnreachableError(f"the event stream of job {job_id} dropped: {exc}") from exc
        finally:
            response.close()

    def stream_token(self, job_id: int) -> dict[str, Any]:
        """A short-lived token opening one job's events without headers, for a browser's
        EventSource: {token, expires_in, events_url}.

        :raises ApiError: when the job is missing or not the caller's (404).
        """
        return self.call("POST", f"/api/anime/generation/{job_id}/stream-token")

    def watch(
        self,
        job_id: int,
        on_report: Callable[[dict[str, Any]], None] | None = None,
        *,
        timeout_s: float | None = None,
        poll_s: float = 1.0,
    ) -> dict[str, Any]:
        """Follow a job to its end, calling `on_report` with each fresh status report.

        Reports are read when the event stream says something changed (at most every
        `poll_s`); without a stream it falls back to polling. Returns the final report.

        :raises TimeoutError: when the job has not ended after `timeout_s`.
        :raises ApiError: when the job is missing or not the caller's.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        report = self.status(job_id)
        if on_report:
            on_report(report)
        last_id = None
        while report["status"] not in TERMINAL:
            check_deadline(deadline, job_id)
            try:
                last_read = 0.0
                for event in self.events(job_id, last_id):
                    last_id = event.id or last_id
                    if time.monotonic() - last_read < poll_s and event.kind != "job":
                        continue
                    last_read = time.monotonic()
                    report = self.status(job_id)
                    if on_report:
                        on_report(report)
                    if report["status"] in TERMINAL:
                        return report
                    check_deadline(deadline, job_id)
            except UnreachableError as exc:
                log.info("watch: stream unavailable job_id=%s, polling: %s", job_id, exc)
            time.sleep(poll_s)
            report = self.status(job_id)
            if on_report:
                on_report(report)
        return report

    # -- fleet and workflows -----------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        """The registered GPU nodes (name, status, comfyui_url, gpu_name, current_stage, ...).

        :raises ApiError: on an error answer.
        """
        try:
            return self.call("GET", "/api/fleet/nodes")
        except ApiError as exc:
            if exc.status != 404 or isinstance(exc, NotTowerError):
                raise
        # A server without the fleet endpoint still lists the backends /health probes.
        body = self.health()
        return [
            {
                "name": b["name"],
                "status": b["node_status"],
                "comfyui_url": b["url"],
                "comfyui": b["status"],
            }
            for b in body.get("backends", [])
        ]

    def remove_node(self, name: str) -> None:
        """Forget an offline GPU node (operators and admins).

        :raises ApiError: when it is online or draining (409) or unknown (404).
        """
        self.request("DELETE", f"/api/fleet/nodes/{quote(name, safe='')}")

    def health(self) -> dict[str, Any]:
        """Each dependency's state and the GPU backends (also when degraded, a 503).

        :raises UnreachableError: when the server does not answer.
        :raises NotTowerError: when what answers is not a Tower farm.
        """
        try:
            response = self.session.get(f"{self.base_url}/health", timeout=self.timeout)
        except requests.RequestException as exc:
            raise transport_error(self.base_url, exc) from exc
        try:
            return response.json()
        except ValueError as exc:
            answer = describe_answer(response)
            raise NotTowerError(self.base_url, response.status_code, answer) from exc

    def list_workflows(self, **filters: Any) -> list[dict[str, Any]]:
        """Stored workflow versions (filters: stage, name, active).

        :raises ApiError: on an invalid filter.
        """
        return self.call("GET", "/api/anime/workflows", params=filters)

    def upload_workflow(
        self,
        name: str,
        stage: str,
        graph: dict[str, Any],
        bindings: dict[str, Any],
        *,
        outputs: list[dict[str, Any]] | None = None,
        description: str = "",
        activate: bool = False,
    ) -> dict[str, Any]:
        """Store an API-format ComfyUI graph with its bindings as the next version of `name`.

        :raises ApiError: when the graph or bindings are invalid.
        """
        body: dict[str, Any] = {
            "name": name,
            "stage": stage,
            "graph": graph,
            "bindings": bindings,
            "description": description,
            "activate": activate,
        }
        if outputs is not None:
            body["outputs"] = outputs
        return self.call("POST", "/api/anime/workflows", json=body)

    # -- outputs -----------------------------------------------------------------------------

    def asset(self, asset_id: int) -> dict[str, Any]:
        """An asset's metadata.

        :raises ApiError: when it is missing or not the caller's.
        """
        return self.call("GET", f"/api/anime/assets/{asset_id}")

    def download_asset(self, asset_id: int, dest: str | Path) -> Path:
        """Stream an asset's content into the file `dest` (written atomically).

        :raises ApiError: when it is missing or not the caller's.
        :raises UnreachableError: when the download drops.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        path = f"/api/anime/assets/{asset_id}/content"
        with self.request("GET", path, stream=True, timeout=(10, 120)) as response:
            try:
                with tmp.open("wb") as out:
                    for chunk in response.iter_content(CHUNK):
                        out.write(chunk)
            except requests.RequestException as exc:
                tmp.unlink(missing_ok=True)
                raise UnreachableError(f"download of asset {asset_id} dropped: {exc}") from exc
        os.replace(tmp, dest)
        return dest

    def download_outputs(
        self, job_id: int, dest_dir: str | Path, *, stages: bool = False
    ) -> list[Path]:
        """Download a job's outputs (and, with `stages`, every stage's) into `dest_dir`.

        File names are built from the farm's answers with anything but letters, digits, `_`
        and `-` replaced, and each must land directly inside `dest_dir`.

        :raises ApiError: when the job is missing or not the caller's.
        :raises UnsafeResponseError: when an asset's id or name is unusable.
        """
        report = self.status(job_id)
        wanted = [(None, o) for o in report["outputs"]]
        if stages:
            wanted += [(s, o) for s in report["stages"] for o in s["outputs"]]
        # Named after the production (`neon-rain-ep1-pilot.mp4`); a farm without names: the job.
        stem = report.get("file_stem") or f"job{job_id}"
        single = len(report["outputs"]) == 1
        folder = Path(dest_dir)
        paths, seen = [], set()
        for stage, output in wanted:
            if output["asset_id"] in seen:
                continue
            seen.add(output["asset_id"])
            meta = self.asset(asset_id(output["asset_id"]))
            if meta["mime_type"] == DIRECTORY:
                continue  # a folder of frames: its video sibling is the file to fetch
            dest = inside(folder, file_name(meta, stage, stem, single=single))
            paths.append(self.download_asset(asset_id(meta["id"]), dest))
        return paths


def check_deadline(deadline: float | None, job_id: int) -> None:
    """Stop waiting once the deadline has passed.

    :raises TimeoutError: after the deadline.
    """
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"job {job_id} has not ended in time")
