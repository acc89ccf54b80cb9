"""The client: a connection to a Baton server's HTTP API (``/api/v1``), and task and run handles."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from .errors import BatonConnectionError, BatonError, NotFoundError, WaitTimeout, error_for

#: Task statuses after which a task never changes again.
TERMINAL_TASK_STATUSES = frozenset({"succeeded", "failed", "cancelled", "skipped", "cached"})
#: Run statuses after which a run never changes again (until ``baton retry``).
TERMINAL_RUN_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

Labels = Union[Mapping[str, Optional[str]], Sequence[str], str, None]


class Baton:
    """A connection to a Baton server. Get one with :meth:`Baton.connect`.

    Inside a Baton task (``BATON_TASK_ID`` is set), the tasks it submits or clones become
    children of that task, as with the TypeScript SDK: the task ends once they all have.
    """

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        parent_task_id: Optional[str] = None,
        poll_interval: float = 0.5,
        request_timeout: float = 60.0,
    ) -> None:
        """Connects to the server at ``url`` (e.g. ``http://127.0.0.1:8377``) with ``token``.

        Args:
            parent_task_id: The task submissions and clones become children of (None: none).
            poll_interval: Seconds between two looks while waiting for a task or run.
            request_timeout: Seconds one HTTP request may take.
        """
        self.url = url.rstrip("/")
        self.token = token
        self.parent_task_id = parent_task_id
        self.poll_interval = poll_interval
        self.request_timeout = request_timeout

    @classmethod
    def connect(
        cls,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        folder: Optional[str] = None,
        poll_interval: float = 0.5,
    ) -> "Baton":
        """Connects to the Baton server to use.

        In order: ``url``/``token`` when given; else ``BATON_URL`` and ``BATON_TOKEN`` (set
        inside every Baton task); else the live server recorded in ``.baton/server.json`` of
        ``folder`` (default: the current folder) or of a folder above it, as ``baton server``
        writes it, with the token from the file it names.

        Raises:
            BatonConnectionError: (code ``NO_SERVER``) none was found.
        """
        parent = os.environ.get("BATON_TASK_ID") or None
        if url is None and os.environ.get("BATON_URL"):
            url = os.environ["BATON_URL"]
            if token is None:
                token = os.environ.get("BATON_TOKEN", "")
        if url is None:
            found = _find_server_file(folder or os.getcwd())
            if found is None:
                raise BatonConnectionError(
                    "NO_SERVER",
                    "no Baton server: set BATON_URL (and BATON_TOKEN), or start `baton server` in "
                    f"{os.path.abspath(folder or os.getcwd())} or a folder above it",
                )
            url, file_token = found
            if token is None:
                token = file_token
        return cls(url, token or "", parent_task_id=parent, poll_interval=poll_interval)

    # Tasks ------------------------------------------------------------------------------------

    def task(self, task_id: str) -> "Task":
        """A task by id (or unique id prefix).

        Raises:
            NotFoundError: no such task.
        """
        return Task(self, self._get(f"/tasks/{_quote(task_id)}"))

    def tasks(
        self,
        name: Optional[str] = None,
        pipeline: Optional[str] = None,
        run: Optional[str] = None,
        label: Labels = None,
        status: Union[str, Sequence[str], None] = None,
        parent: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> List["Task"]:
        """Tasks matching every filter given, newest first (``GET /tasks``).

        Args:
            name: Exactly this task name.
            pipeline: Tasks of runs of this pipeline.
            run: Tasks of this run (id or prefix).
            label: ``{"team": "vision"}`` (that value; ``None`` as a value: any value),
                ``"team=vision"``, ``"team"`` (any value), or a list of such strings. All must match.
            status: One status or several (``["failed", "cancelled"]``).
            parent: Children of this task.
            limit: At most this many, the latest (the server's default is 1000).
        """
        query: List[tuple] = []
        for key, value in (("name", name), ("pipeline", pipeline), ("run", run), ("parent", parent)):
            if value is not None:
                query.append((key, _id_of(value)))
        for item in _label_filters(label):
            query.append(("label", item))
        if status is not None:
            query.append(("status", status if isinstance(status, str) else ",".join(status)))
        if limit is not None:
            query.append(("limit", str(limit)))
        qs = urllib.parse.urlencode(query)
        answer = self._get(f"/tasks{'?' + qs if qs else ''}")
        return [Task(self, t) for t in answer["tasks"]]

    def get_task(
        self,
        name: Optional[str] = None,
        pipeline: Optional[str] = None,
        run: Optional[str] = None,
        label: Labels = None,
        status: Union[str, Sequence[str], None] = None,
    ) -> "Task":
        """The latest task matching every filter given (ClearML's ``Task.get_task``).

        Raises:
            NotFoundError: (code ``NO_MATCH``) no task matches; the message says what was asked.
        """
        found = self.tasks(name=name, pipeline=pipeline, run=run, label=label, status=status, limit=1)
        if not found:
            asked = {"name": name, "pipeline": pipeline, "run": run, "label": label, "status": status}
            what = ", ".join(f"{k}={v!r}" for k, v in asked.items() if v is not None) or "no filter"
            raise NotFoundError("NO_MATCH", f"no task matches {what}", 404)
        return Task(self, self._get(f"/tasks/{_quote(found[0].id)}"))

    def submit(
        self,
        command: str,
        name: Optional[str] = None,
        pool: Optional[str] = None,
        params: Optional[Mapping[str, Any]] = None,
        env: Optional[Mapping[str, str]] = None,
        labels: Optional[Mapping[str, str]] = None,
        after_success: Optional[Iterable[Union[str, "Task"]]] = None,
        retries: Optional[int] = None,
        timeout: Optional[float] = None,
        *,
        after_fail: Optional[Iterable[Union[str, "Task"]]] = None,
        after: Optional[Iterable[Union[str, "Task"]]] = None,
        priority: Optional[int] = None,
        cwd: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> "Task":
        """Submits a shell command as a task (``baton submit``); returns it, queued.

        Args:
            command: Run by ``bash -eo pipefail -c``.
            name: Display name (what ``get_task(name=)`` and siblings' ``after_success`` find).
            pool: The pool it runs in (ClearML's queue).
            params: Seen by the task as ``BATON_PARAM_<NAME>``; a clone can override them.
            env: More environment variables.
            labels: Free-form ``{key: value}``, searchable with ``tasks(label=...)``.
            after_success: Tasks (names of siblings, ids, or :class:`Task`) that must succeed first.
            retries: How many more times to run it after a failure.
            timeout: Seconds an attempt may run.
            after_fail: Tasks that must fail first; ``after``: tasks that must end first.
            cwd: Folder it runs in (default: the current folder).
            idempotency_key: The same key twice returns the task of the first submission.

        Raises:
            InvalidRequestError: a field is wrong (``e.problems`` names it).
        """
        body: Dict[str, Any] = {"command": command, "cwd": os.path.abspath(cwd or ".")}
        optional = {
            "name": name,
            "pool": pool,
            "params": dict(params) if params is not None else None,
            "env": dict(env) if env is not None else None,
            "labels": dict(labels) if labels is not None else None,
            "afterSuccess": _ids(after_success),
            "afterFail": _ids(after_fail),
            "after": _ids(after),
            "retries": retries,
            "timeoutMs": None if timeout is None else max(1, int(round(timeout * 1000))),
            "priority": priority,
            "parentTaskId": self.parent_task_id,
            "idempotencyKey": idempotency_key,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        ids = self._post("/tasks", body)["ids"]
        return self.task(ids[0])

    def clone(
        self,
        task: Union[str, "Task"],
        params: Optional[Mapping[str, Any]] = None,
        name: Optional[str] = None,
        pool: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
    ) -> "Task":
        """Submits a copy of a task with overrides (ClearML's clone + set_parameters + enqueue).

        The copy runs the task's command again; ``params`` override the params it saw (as
        ``BATON_PARAM_<NAME>``). Inside a Baton task, the copy becomes that task's child.

        Raises:
            InvalidRequestError: a param the task does not have, or a value of the wrong type.
            ConflictError: the task has no command to clone (not ready yet, or a child pipeline).
        """
        body: Dict[str, Any] = {}
        if params is not None:
            body["params"] = dict(params)
        if name is not None:
            body["name"] = name
        if pool is not None:
            body["pool"] = pool
        if labels is not None:
            body["labels"] = dict(labels)
        if self.parent_task_id is not None:
            body["parentTaskId"] = self.parent_task_id
        ids = self._post(f"/tasks/{_quote(_id_of(task))}/clone", body)["ids"]
        return self.task(ids[0])

    # Runs -------------------------------------------------------------------------------------

    def run(
        self,
        pipeline: Union[str, Mapping[str, Any]],
        params: Optional[Mapping[str, Any]] = None,
        *,
        name: Optional[str] = None,
        targets: Optional[Sequence[str]] = None,
        no_cache: bool = False,
    ) -> "Run":
        """Starts a pipeline run; returns it, running.

        Args:
            pipeline: A pipeline name (of the server's baton.yaml, or registered), or a whole
                definition in the baton.yaml format as a dict (``{"version": 1, "pipelines": ...}``).
            params: The pipeline's params.
            name: With a definition holding several pipelines, which one to run.
            targets: Run only these nodes and what they need.
            no_cache: Do not reuse cached results.

        Raises:
            NotFoundError: no pipeline of that name. InvalidRequestError: a bad param or definition.
        """
        body: Dict[str, Any] = {}
        if isinstance(pipeline, str):
            body["pipeline"] = pipeline
        else:
            body["definition"] = dict(pipeline)
            if name is not None:
                body["pipeline"] = name
        if params is not None:
            body["params"] = dict(params)
        if targets is not None:
            body["targets"] = list(targets)
        if no_cache:
            body["noCache"] = True
        return Run(self, self._post("/runs", body)["run"])

    def get_run(self, run_id: str) -> "Run":
        """A run by id (or unique id prefix)."""
        return Run(self, self._get(f"/runs/{_quote(run_id)}")["run"])

    # HTTP -------------------------------------------------------------------------------------

    def _get(self, route: str) -> Any:
        return json.loads(self._request("GET", route).decode("utf-8"))

    def _post(self, route: str, body: Any) -> Any:
        return json.loads(self._request("POST", route, body).decode("utf-8"))

    def _request(self, method: str, route: str, body: Any = None, absolute: bool = False) -> bytes:
        url = f"{self.url}{route}" if absolute else f"{self.url}/api/v1{route}"
        data = None
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            raise _api_error(err, method, route) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise BatonConnectionError(
                "UNREACHABLE", f"cannot reach the Baton server at {self.url}: {reason}"
            ) from err


class Task:
    """A task of a Baton server: wait for it, read its metrics, outputs and log."""

    def __init__(self, client: Baton, info: Dict[str, Any]) -> None:
        self._client = client
        self.info: Dict[str, Any] = info
        """The task as last seen (``GET /tasks/:id``; fewer fields when it came from a list)."""

    @property
    def id(self) -> str:
        """``task_`` and a ULID."""
        return str(self.info["id"])

    @property
    def name(self) -> str:
        return str(self.info["name"])

    @property
    def run_id(self) -> str:
        """The id of the run the task belongs to."""
        return str(self.info["run"])

    @property
    def labels(self) -> Dict[str, str]:
        return dict(self.info.get("labels") or {})

    @property
    def params(self) -> Dict[str, Any]:
        """The params the task saw (refreshed from the server if this handle lacks them)."""
        if "params" not in self.info:
            self.refresh()
        return dict(self.info.get("params") or {})

    @property
    def status(self) -> str:
        """The task's status now (asks the server unless the task had already ended):
        ``pending``, ``waiting`` (for approval: see ``approve``), ``queued``, ``running``,
        ``succeeded``, ``failed``, ``cancelled``, ``skipped`` or ``cached``."""
        if self.info.get("status") not in TERMINAL_TASK_STATUSES:
            self.refresh()
        return str(self.info["status"])

    @property
    def ended(self) -> bool:
        """Whether the task has ended (asks the server)."""
        return self.status in TERMINAL_TASK_STATUSES

    @property
    def waiting(self) -> bool:
        """Whether the task waits for approval now (asks the server)."""
        return self.status == "waiting"

    @property
    def approval(self) -> Optional[Dict[str, Any]]:
        """The task's approval gate, once it reached one (asks the server unless the task had
        ended): ``{"state": "waiting"|"approved"|"rejected", "message", "requestedAt", "by",
        "at", "comment"}`` (times in ms since the epoch; ``by``, ``at`` and ``comment`` are None
        while it waits). None when the task has no gate or has not reached it yet."""
        if "approval" not in self.info or self.info.get("status") not in TERMINAL_TASK_STATUSES:
            self.refresh()
        approval = self.info.get("approval")
        return dict(approval) if approval else None

    def approve(self, comment: Optional[str] = None, by: Optional[str] = None) -> "Task":
        """Approves the task waiting for approval: it is queued and runs (``baton approve``).
        The decision is recorded with ``by`` (default ``python:$USER``), the time and
        ``comment``. Returns the task after the decision.

        Raises:
            ConflictError: the task is not waiting for approval (it says what it is).
        """
        return self._decide("approve", comment, by)

    def reject(self, comment: Optional[str] = None, by: Optional[str] = None) -> "Task":
        """Rejects the task waiting for approval: it fails with "rejected by WHO: COMMENT" and
        the nodes that need it are skipped (``baton reject``). Returns the task after the decision.

        Raises:
            ConflictError: the task is not waiting for approval (it says what it is).
        """
        return self._decide("reject", comment, by)

    def _decide(self, verb: str, comment: Optional[str], by: Optional[str]) -> "Task":
        body: Dict[str, Any] = {"by": by or _who()}
        if comment is not None:
            body["comment"] = comment
        self.info = self._client._post(f"/tasks/{_quote(self.id)}/{verb}", body)
        return self

    def refresh(self) -> "Task":
        """Reads the task's current state from the server."""
        self.info = self._client._get(f"/tasks/{_quote(self.id)}")
        return self

    def wait(self, timeout: Optional[float] = None) -> "Task":
        """Waits until the task has ended and returns it (it does not raise when the task
        failed: look at ``status``). A task ``waiting`` for approval has not ended: approve or
        reject it (from here, the CLI or the web UI), or give a ``timeout``.

        Raises:
            WaitTimeout: ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.refresh()
            if self.info["status"] in TERMINAL_TASK_STATUSES:
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    "TIMEOUT", f"task {self.id} ({self.name}) is still {self.info['status']} after {timeout} s"
                )
            pause = self._client.poll_interval
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            time.sleep(pause)

    def metrics(self) -> Dict[str, Any]:
        """The last value of each metric the task appended to ``$BATON_METRICS``
        (ClearML's ``get_last_scalar_metrics``)."""
        return dict(self._client._get(f"/tasks/{_quote(self.id)}/metrics")["last"])

    def metric_series(self, name: str) -> List[Dict[str, Any]]:
        """Every value of one metric, in the order written: ``[{"step", "value", "at"}]``.

        ``step`` is the ``step`` key of the object the value was written in (None without one);
        ``at`` is when Baton recorded it (metrics are read when the attempt ends). ``[]`` when
        the task wrote no metric of that name.
        """
        series = self._client._get(f"/tasks/{_quote(self.id)}/metrics")["series"]
        return list(series.get(name, []))

    def outputs(self) -> List[Dict[str, Any]]:
        """The task's output files: ``[{"path", "size", "sha256", "url"}]`` (recorded once it succeeded)."""
        return list(self._client._get(f"/tasks/{_quote(self.id)}/outputs")["outputs"])

    def read_output(self, name: str) -> bytes:
        """The bytes of one output file, by its path in the task's output folder.

        Raises:
            NotFoundError: (code ``STORE_NOT_FOUND``) the task has no such output.
        """
        outputs = self.outputs()
        for output in outputs:
            if output["path"] == name:
                return self._client._request("GET", output["url"], absolute=True)
        have = ", ".join(o["path"] for o in outputs) or "none"
        raise NotFoundError("STORE_NOT_FOUND", f'task {self.id} has no output "{name}" (outputs: {have})', 404)

    def log(self, attempt: Optional[int] = None) -> str:
        """The log of the latest attempt (or of ``attempt``), at most its last 10 MiB."""
        query = "" if attempt is None else f"?attempt={int(attempt)}"
        return self._client._request("GET", f"/tasks/{_quote(self.id)}/log{query}").decode("utf-8", "replace")

    def cancel(self) -> "Task":
        """Cancels the task (and its children); a task that has ended is left as it is."""
        try:
            self._client._post(f"/tasks/{_quote(self.id)}/cancel", {})
        except BatonError as err:
            if err.status != 409 or self.refresh().info["status"] not in TERMINAL_TASK_STATUSES:
                raise
        return self.refresh()

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.name!r} {self.info.get('status')}>"


class Run:
    """A pipeline run: wait for it, list its tasks."""

    def __init__(self, client: Baton, info: Dict[str, Any]) -> None:
        self._client = client
        self.info: Dict[str, Any] = info
        """The run as last seen (``GET /runs/:id``)."""

    @property
    def id(self) -> str:
        return str(self.info["id"])

    @property
    def pipeline(self) -> str:
        return str(self.info["pipeline"])

    @property
    def status(self) -> str:
        """The run's status now (asks the server unless it had ended): ``running``,
        ``succeeded``, ``failed`` or ``cancelled``."""
        if self.info.get("status") not in TERMINAL_RUN_STATUSES:
            self.refresh()
        return str(self.info["status"])

    def refresh(self) -> "Run":
        self.info = self._client._get(f"/runs/{_quote(self.id)}")["run"]
        return self

    def wait(self, timeout: Optional[float] = None) -> "Run":
        """Waits until the run has ended and returns it (it does not raise when the run failed).

        Raises:
            WaitTimeout: ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.refresh()
            if self.info["status"] in TERMINAL_RUN_STATUSES:
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout("TIMEOUT", f"run {self.id} ({self.pipeline}) is still running after {timeout} s")
            pause = self._client.poll_interval
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            time.sleep(pause)

    def tasks(self) -> List[Task]:
        """The run's tasks, in plan order."""
        answer = self._client._get(f"/runs/{_quote(self.id)}")
        self.info = answer["run"]
        return [Task(self._client, t) for t in answer["tasks"]]

    def cancel(self) -> "Run":
        """Cancels the run's unfinished tasks."""
        try:
            self._client._post(f"/runs/{_quote(self.id)}/cancel", {})
        except BatonError as err:
            if err.status != 409:
                raise
        return self.refresh()

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.pipeline!r} {self.info.get('status')}>"


# Helpers ------------------------------------------------------------------------------------


def _who() -> str:
    """Who decides an approval, as recorded: ``python:$USER`` (``python`` when unknown)."""
    user = os.environ.get("USER") or os.environ.get("USERNAME") or os.environ.get("LOGNAME")
    return f"python:{user}" if user else "python"


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _id_of(task: Union[str, Task, Run]) -> str:
    return task if isinstance(task, str) else task.id


def _ids(tasks: Optional[Iterable[Union[str, Task]]]) -> Optional[List[str]]:
    return None if tasks is None else [_id_of(t) for t in tasks]


def _label_filters(label: Labels) -> List[str]:
    if label is None:
        return []
    if isinstance(label, str):
        return [label]
    if isinstance(label, Mapping):
        return [str(k) if v is None else f"{k}={v}" for k, v in label.items()]
    return [str(x) for x in label]


def _api_error(err: urllib.error.HTTPError, method: str, route: str) -> BatonError:
    code, message, problems = "", "", None
    try:
        body = json.loads(err.read().decode("utf-8"))
        error = body.get("error") or {}
        code = str(error.get("code") or "")
        message = str(error.get("message") or "")
        problems = error.get("problems")
    except (ValueError, AttributeError, OSError):
        pass  # Not JSON: the status says enough.
    if not code:
        code = {401: "UNAUTHORIZED", 404: "NOT_FOUND", 409: "CONFLICT"}.get(err.code, "HTTP_ERROR")
    return error_for(err.code, code, message or f"{method} {route}: HTTP {err.code}", problems)


def _find_server_file(folder: str) -> Optional[tuple]:
    """The (url, token) of the live server recorded in ``.baton/server.json`` of ``folder`` or above."""
    current = os.path.abspath(folder)
    while True:
        found = _read_server_file(os.path.join(current, ".baton", "server.json"))
        if found is not None:
            return found
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _read_server_file(path: str) -> Optional[tuple]:
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    url, pid, token_file = record.get("url"), record.get("pid"), record.get("tokenFile")
    if not isinstance(url, str) or not isinstance(pid, int) or not isinstance(token_file, str):
        return None
    if not _alive(pid):
        return None
    try:
        with open(token_file, encoding="utf-8") as f:
            return url, f.read().strip()
    except OSError:
        return None  # The token is not ours to read.


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
