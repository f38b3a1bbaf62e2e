"""``make bench``: cold start, calls per operation, package sizes and warm webhook cost, in one report.

    python -m bench.run [--runs 9] [--warm-events 3000] [--build-dir .aws-sam/build] [--output FILE] [--only f,g]

What it measures (docs/performance.md explains the method and keeps the numbers):

1. **Calls per operation.** Every sample event under ``events/<function>/`` runs through the real handler
   in this process, with AWS answered by moto (tables from template.yaml, the Stripe secret in Secrets
   Manager) and Stripe by ``bench/stripe_stub.py``. DynamoDB calls are counted at botocore (every client,
   pynamodb's included), Stripe calls at the stub. A callback sample is delivered twice: the second
   delivery is the duplicate. Each operation starts cold (settings, clients and the cached secret
   forgotten), and its AWS calls are recorded: they are the answers the cold-start probe replays.
2. **Cold start per function**, with ``bench/cold_start_probe.py`` in a fresh interpreter per sample: the
   Python of the runtime (3.13) when it is installed, the ``sam build`` output (the layer as
   ``/opt/python``, the function as ``/var/task``), boto3/botocore from a directory standing in for the
   runtime's, ``PYTHONDONTWRITEBYTECODE=1``, Lambda's environment variables and the template's. The
   function's representative sample is served once, AWS answered by botocore's Stubber from the
   recording, Stripe by the stub. ``--runs`` samples each, every one right after a run of the floor
   (botocore imported, a DynamoDB client created, one stubbed call; a bare interpreter is measured too):
   each function is reported as the median of its run / floor ratios, and as fastest run / fastest floor,
   with tracing as deployed (``Tracing: Active``) and with ``POWERTOOLS_TRACE_DISABLED=true``.
3. **Package sizes**: the layer and each function, zipped and unzipped, from the build output.
4. **Warm cost per webhook event**: the probe serves a callback's sample ``--warm-events`` more times in
   the same process, DynamoDB answered by the Stubber; CPU time per event.

No timing is asserted anywhere: the targets are printed next to the numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROBE = REPO / "bench" / "cold_start_probe.py"
EVENTS = REPO / "events"

# What the python3.13 Lambda runtime provides in /var/runtime, copied from this virtualenv (the versions the
# tests pin) into a directory that plays that role for the probes.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

RATIO_TARGETS = {"OrdersFunction": 1.3}
DEFAULT_RATIO_TARGET = 1.8
LAYER_ZIP_TARGET_MB = 10.0

# The Stripe API keys secret (StripeSecretArn); each callback's signing secret is a secret of its own, holding
# {"signingSecret": ...} (devstack.lambda_events.LOCAL_WEBHOOK_SECRETS, which the sample events are signed with).
LOCAL_API_KEYS = {"secretKey": "sk_test_bench", "publishableKey": "pk_test_bench"}


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- where things are ----------------------------------------------------------------------------------


def probe_python() -> tuple[str, str]:
    """The interpreter for the cold-start runs and why: the runtime's 3.13 if present, else this one."""
    candidates = [os.environ.get("PYTHON313", "")]
    for root in (os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")):
        if root:
            found = sorted(Path(root).glob("versions/3.13.*/bin/python3.13"),
                           key=lambda p: [int(x) if x.isdigit() else x for x in p.parts[-3].split(".")])
            candidates.extend(str(p) for p in reversed(found))
    candidates.append(shutil.which("python3.13") or "")
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            version = subprocess.run([candidate, "-c", "import sys; print(sys.version.split()[0])"],  # noqa: S603
                                     capture_output=True, text=True, check=False).stdout.strip()
            if version.startswith("3.13."):
                return candidate, f"Python {version} (the python3.13 runtime's version)"
    version = sys.version.split()[0]
    return sys.executable, f"Python {version} from the virtualenv (no Python 3.13 found: numbers are indicative)"


def runtime_dir(python: str, work: Path) -> Path:
    """boto3/botocore and their dependencies as the runtime ships them: pure Python, compiled for ``python``."""
    tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"],  # noqa: S603
                         capture_output=True, text=True, check=True).stdout.strip()
    target = work / f"runtime-{tag}"
    import botocore

    versions = f"botocore {botocore.__version__}"
    stamp = target / ".complete"
    if stamp.is_file() and stamp.read_text() == versions:
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    import importlib

    for name in RUNTIME_PACKAGES:
        module = importlib.import_module(name)
        source = Path(module.__file__ or "")
        if source.name == "__init__.py":
            shutil.copytree(source.parent, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / source.name)
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",  # noqa: S603
                    str(target)], check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(versions)
    return target


@dataclass
class Function:
    logical_id: str
    folder: str  # functions/<folder>
    built: Path  # <build>/<LogicalId>
    handler: str


def stale_sources(build_dir: Path, functions: dict[str, Function]) -> list[str]:
    """Sources changed after the build that is measured (the report says so: rebuild with make sam-build)."""
    built = (build_dir / "CommonLayer" / "python" / "payments").stat().st_mtime
    common = REPO / "layers" / "common"
    sources = [*(common / "payments").rglob("*.py"), common / "requirements.txt", common / "Makefile"]
    stale = [_relative(p) for p in sources if p.is_file() and p.stat().st_mtime > built]
    for folder, function in functions.items():
        source = REPO / "functions" / folder / "app.py"
        if source.is_file() and source.stat().st_mtime > (function.built / "app.py").stat().st_mtime:
            stale.append(_relative(source))
    return stale


def template_functions(build_dir: Path) -> tuple[dict[str, Function], dict[str, Any]]:
    """Functions of the built template (folder from CodeUri) and the settings every function gets."""
    from devstack.template import load_template

    source = load_template()
    built_template = build_dir / "template.yaml"
    built_ids = set(load_template(built_template)["Resources"]) if built_template.is_file() else set()
    functions = {}
    for logical_id, resource in source["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        folder = str(props.get("CodeUri", "")).rstrip("/").split("/")[-1]
        if logical_id in built_ids and (build_dir / logical_id).is_dir():
            functions[folder] = Function(logical_id, folder, build_dir / logical_id,
                                         props.get("Handler", "app.lambda_handler"))
    return functions, source


# Parameter values the bench deploys with (the rest take their defaults): the prices the samples order, and the
# origin their hosted-Checkout URLs return to.
def bench_parameters() -> dict[str, str]:
    from urllib.parse import urlsplit

    from devstack import make_sample_events as s

    success = urlsplit(s.SUCCESS_URL)
    return {"SellablePrices": f"{s.CATALOG_PRICE_ID},{s.MONTHLY_PRICE_ID}",
            "AllowedRedirectOrigins": f"{success.scheme}://{success.netloc}"}


# --- calls per operation (in process, moto) --------------------------------------------------------------


@dataclass
class Outcome:
    sample: Any
    function: Function | None
    status: int | None = None
    result: str | None = None
    dynamodb: list[str] = field(default_factory=list)
    stripe: list[str] = field(default_factory=list)
    duplicate_result: str | None = None
    duplicate_dynamodb: list[str] | None = None
    duplicate_stripe: list[str] | None = None
    capacity: tuple[float, float] = (0.0, 0.0)  # DynamoDB (read, write) units of the first delivery
    duplicate_capacity: tuple[float, float] | None = None
    recording: list[dict[str, Any]] = field(default_factory=list)  # every AWS call of the first delivery
    duplicate_recording: list[dict[str, Any]] = field(default_factory=list)
    event: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)  # the function's environment as deployed
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300 and (
            self.result in (None, "processed"))


class AwsRecorder:
    """Every AWS call made through botocore (boto3's and pynamodb's clients alike), with its answer, and for
    DynamoDB the capacity it consumes (``bench/capacity.py``)."""

    def __init__(self, meter: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        self.on = False
        self.meter = meter

    @contextlib.contextmanager
    def installed(self) -> Iterator[AwsRecorder]:
        from unittest import mock

        from botocore.client import BaseClient
        from botocore.exceptions import ClientError

        from bench.cold_start_probe import encode_answer

        original, recorder = BaseClient._make_api_call, self

        def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if not recorder.on:
                return original(client, operation, params)
            service = client.meta.service_model.service_name
            call: dict[str, Any] = {"service": service, "operation": operation}
            try:
                if service == "dynamodb":
                    response, capacity = recorder.meter.call(
                        operation, params, client.meta.region_name, lambda p: original(client, operation, p))
                    call["capacity"] = capacity.as_dict()
                else:
                    response = original(client, operation, params)
            except ClientError as error:
                body = error.response
                modeled = {k: v for k, v in body.items() if k not in ("Error", "ResponseMetadata")}
                call["error"] = {"code": body["Error"]["Code"], "message": body["Error"].get("Message", ""),
                                 "status": body.get("ResponseMetadata", {}).get("HTTPStatusCode", 400),
                                 "modeled": encode_answer(modeled)}
                if hasattr(error, "bench_capacity"):
                    call["capacity"] = error.bench_capacity.as_dict()
                recorder.calls.append(call)
                raise
            call["response"] = encode_answer(response)
            recorder.calls.append(call)
            return response

        with mock.patch.object(BaseClient, "_make_api_call", recording):
            yield self

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[dict[str, Any]]]:
        self.calls, self.on = [], True
        try:
            yield self.calls
        finally:
            self.on = False


def folders(only: set[str] | None = None) -> list[str]:
    """Function folders: every one with sample events, and every planned one, in the product's order."""
    from bench.scenarios import PLANNED

    found = {p.parent.name for p in EVENTS.glob("*/*.json")} | set(PLANNED)
    return sorted((f for f in found if only is None or f in only),
                  key=lambda f: (PLANNED.index(f) if f in PLANNED else len(PLANNED), f))


def samples(only: set[str] | None = None) -> list[Any]:
    from bench.scenarios import UNBENCHED, Sample

    found = []
    for folder in folders(only):
        if folder in UNBENCHED:
            continue
        names = sorted(p.stem for p in (EVENTS / folder).glob("*.json")) or [""]
        found.extend(Sample(folder, name) for name in names if f"{folder}/{name}" not in UNBENCHED)
    return found


def _invoke(module: Any, event: dict[str, Any]) -> tuple[int | None, Any]:
    from devstack.lambda_context import LambdaContext

    with contextlib.redirect_stdout(io.StringIO()):  # Powertools metrics print their EMF blob
        response = module.lambda_handler(event, LambdaContext(function_name=module.__name__))
    if "statusCode" not in response:  # not an HTTP answer: a scheduled run's summary, a stream batch's answer
        return (500 if response.get("batchItemFailures") else 200), response
    try:
        body = json.loads(response.get("body") or "null")
    except ValueError:
        body = response.get("body")
    return response.get("statusCode"), body


def capacity_total(calls: list[dict[str, Any]]) -> tuple[float, float]:
    """(read, write) DynamoDB units over ``calls``."""
    measured = [c["capacity"] for c in calls if "capacity" in c]
    return sum(c["read"] for c in measured), sum(c["write"] for c in measured)


def create_secrets(template: dict[str, Any]) -> dict[str, str]:
    """The secrets a deployment holds, in (moto's) Secrets Manager: the Stripe API keys (``StripeSecretArn``) and
    each callback's signing secret (``<Endpoint>WebhookSecret``). Returns each one's ARN by the name the template
    refers to it with."""
    import boto3

    from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS

    client = boto3.client("secretsmanager", region_name="us-east-1")
    refs = {"StripeSecretArn": client.create_secret(Name="payments/stripe",
                                                    SecretString=json.dumps(LOCAL_API_KEYS))["ARN"]}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::SecretsManager::Secret" and logical_id.endswith("WebhookSecret"):
            endpoint = logical_id.removesuffix("WebhookSecret").lower()
            value = {"signingSecret": LOCAL_WEBHOOK_SECRETS[endpoint]}
            refs[logical_id] = client.create_secret(Name=logical_id, SecretString=json.dumps(value))["ARN"]
        elif resource.get("Type") == "AWS::SecretsManager::Secret" and logical_id == "PseudonymSecret":
            value = {"key": "bench-pseudonym-key-0123456789abcdef0123456789"}  # CloudFormation generates it
            refs[logical_id] = client.create_secret(Name=logical_id, SecretString=json.dumps(value))["ARN"]
    return refs


@contextlib.contextmanager
def process_env(env: dict[str, str]) -> Iterator[None]:
    """``env`` (a function's deployed environment) in this process's ``os.environ`` for one operation, except
    what this process sets for itself (Powertools: quiet, no tracing) and what is empty (the product treats an
    empty variable as unset: the stub's ``STRIPE_API_BASE`` stays)."""
    applied = {k: v for k, v in env.items() if v and not k.startswith("POWERTOOLS_")}
    cleared = [k for k, v in env.items() if not v and not k.startswith("POWERTOOLS_") and k != "STRIPE_API_BASE"]
    saved = {k: os.environ.get(k) for k in [*applied, *cleared]}
    os.environ.update(applied)
    for name in cleared:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def count_operations(functions: dict[str, Function], stub: Any, template: dict[str, Any],
                     only: set[str] | None = None) -> list[Outcome]:
    import boto3
    from moto import mock_aws

    from bench.capacity import CapacityMeter
    from bench.scenarios import CALLBACK_ENDPOINTS, GIVEN
    from devstack.handlers import load_handler
    from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, load_event, resign_event
    from devstack.local_functions import function_environment
    from devstack.template import create_tables, table_definitions

    outcomes = []
    recorder = AwsRecorder(CapacityMeter(table_definitions(template)))
    parameters = bench_parameters()
    with recorder.installed():
        for sample in samples(only):
            function = functions.get(sample.folder)
            outcome = Outcome(sample, function)
            outcomes.append(outcome)
            if function is None or not sample.name:
                outcome.error = "not built yet" if function is None else "no sample event"
                continue
            try:
                module = load_handler(sample.folder)
                with mock_aws():
                    create_tables(boto3.client("dynamodb", region_name="us-east-1"))
                    outcome.env = function_environment(template, function.logical_id, refs=create_secrets(template),
                                                       parameters=parameters)
                    with process_env(outcome.env):
                        _forget_clients()
                        given = GIVEN.get(sample.folder)
                        if given is not None:
                            given(sample)
                        _forget_clients()  # cold: settings, clients and the secrets are fetched again
                        event = load_event(EVENTS / sample.folder / f"{sample.name}.json")
                        endpoint = CALLBACK_ENDPOINTS.get(sample.folder)
                        if endpoint:
                            event = resign_event(event, LOCAL_WEBHOOK_SECRETS[endpoint])
                        outcome.event = event
                        stub.reset()
                        with recorder.recording() as calls:
                            outcome.status, body = _invoke(module, event)
                        outcome.recording = list(calls)
                        outcome.result = body.get("result") if endpoint and isinstance(body, dict) else None
                        outcome.dynamodb = [c["operation"] for c in calls if c["service"] == "dynamodb"]
                        outcome.capacity = capacity_total(calls)
                        outcome.stripe = [f"{m} {p}" for m, p in stub.requests]
                        if outcome.status is None or not 200 <= outcome.status < 300:
                            outcome.error = f"answered {outcome.status}: {json.dumps(body)[:160]}"
                        if endpoint:
                            stub.reset()
                            with recorder.recording() as calls:
                                _, again = _invoke(module, resign_event(event, LOCAL_WEBHOOK_SECRETS[endpoint]))
                            outcome.duplicate_result = again.get("result") if isinstance(again, dict) else None
                            outcome.duplicate_dynamodb = [c["operation"] for c in calls if c["service"] == "dynamodb"]
                            outcome.duplicate_capacity = capacity_total(calls)
                            outcome.duplicate_recording = list(calls)
                            outcome.duplicate_stripe = [f"{m} {p}" for m, p in stub.requests]
            except Exception as error:  # reported in the table; the bench goes on
                outcome.error = f"{type(error).__name__}: {error}"[:200]
            if outcome.error and sample.folder not in GIVEN:
                outcome.error = f"no bench state for it yet ({outcome.error})"
    return outcomes


def _forget_clients() -> None:
    import payments

    payments.reset_caches()


# --- cold start (fresh interpreters) -----------------------------------------------------------------------


@dataclass
class ProbeConfig:
    label: str
    spec: dict[str, Any]
    env: dict[str, str]
    cwd: Path
    resign: str | None = None  # the endpoint whose secret re-signs the event before each run
    samples: list[dict[str, Any]] = field(default_factory=list)
    floors: list[dict[str, Any]] = field(default_factory=list)  # the floor measured just before each sample

    def median(self, key: str = "total_ms") -> float:
        return statistics.median(s[key] for s in self.samples)

    def ratio(self, key: str = "total_ms") -> float:
        """Median over runs of (this sample / the floor sample taken just before it): drift cancels out."""
        return statistics.median(s[key] / f[key] for s, f in zip(self.samples, self.floors, strict=True))

    def best_ratio(self, key: str = "total_ms") -> float:
        """Fastest run over fastest floor: what a quiet machine shows when other work comes and goes."""
        return min(s[key] for s in self.samples) / min(f[key] for f in self.floors)


def lambda_env(function: Function | None, runtime: Path, base: dict[str, str], *, tracing: bool) -> dict[str, str]:
    name = function.logical_id if function else "Floor"
    task_root = str(function.built) if function else str(runtime)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's file system is read-only: no .pyc is ever written
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIABENCHEXAMPLE", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]bench", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": str(runtime), "_HANDLER": function.handler if function else "",
        "_X_AMZN_TRACE_ID": "Root=1-6740a2b3-5f1e2d3c4b5a69788796a5b4;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        **base,
    }
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def run_probe(python: str, config: ProbeConfig, work: Path) -> dict[str, Any]:
    spec = dict(config.spec)
    if config.resign and spec.get("event"):
        from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, resign_event

        spec["event"] = resign_event(spec["event"], LOCAL_WEBHOOK_SECRETS[config.resign])
    spec_path, result_path = work / "spec.json", work / "result.json"
    spec["result"] = str(result_path)
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    result_path.unlink(missing_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    env = {**config.env, "HOME": str(home)}
    errors = work / "stderr.txt"
    with errors.open("w+", encoding="utf-8") as stderr:
        spawn = time.monotonic_ns()
        process = subprocess.Popen([python, "-S", str(PROBE), str(spec_path), str(spawn)],  # noqa: S603
                                   env=env, cwd=config.cwd, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        if process.returncode != 0 or not result_path.is_file():
            raise RuntimeError(f"probe {config.label} failed ({process.returncode}): {stderr.read()[-2000:]}")
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    status = result.get("status")
    if result["mode"] == "function" and (not isinstance(status, int) or not 200 <= status < 300
                                         or result.get("aws_unused")):
        raise RuntimeError(f"probe {config.label} did not serve its sample as recorded: status {status}, "
                           f"{result.get('aws_unused')} recorded AWS answers unused, body {result.get('body')}")
    result["cpu_ms"] = (usage.ru_utime + usage.ru_stime) * 1000  # the whole process, this probe's own work included
    return result


def measure_cold(python: str, runtime: Path, layer: Path, outcomes: list[Outcome], base_env: dict[str, str],
                 stub_url: str, runs: int,
                 work: Path) -> tuple[ProbeConfig, ProbeConfig, ProbeConfig, dict[str, dict[bool, ProbeConfig]]]:
    from bench.scenarios import CALLBACK_ENDPOINTS, REPRESENTATIVE

    floor_env = lambda_env(None, runtime, base_env, tracing=True)
    bare = ProbeConfig("bare interpreter", {"mode": "bare", "paths": []}, floor_env, runtime)
    floor_spec = {"mode": "botocore", "paths": [str(runtime)], "aws": {"dynamodb": [
        {"service": "dynamodb", "operation": "GetItem", "response": {"Item": {"orderId": {"S": "ord_1"}}}}]}}
    dynamo = ProbeConfig("botocore floor", floor_spec, floor_env, runtime)
    # The same floor with the garbage collector paused from process start: the least a function could pay that
    # pauses it too (payments.core.coldstart pauses it from its first import).
    paused = ProbeConfig("botocore floor, collector paused", {**floor_spec, "gc_paused": True}, floor_env, runtime)
    functions: dict[str, dict[bool, ProbeConfig]] = {}
    by_folder: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_folder.setdefault(outcome.sample.folder, []).append(outcome)
    for folder, group in by_folder.items():
        usable = [o for o in group if o.ok and o.function is not None]
        if not usable:
            continue
        chosen = next((o for o in usable if o.sample.name == REPRESENTATIVE.get(folder)), usable[0])
        function = chosen.function
        assert function is not None
        module, _, handler = function.handler.rpartition(".")
        answers: dict[str, list[dict[str, Any]]] = {}
        for call in chosen.recording:
            answers.setdefault(call["service"], []).append(call)
        functions[folder] = {}
        for tracing in (True, False):
            spec = {"mode": "function", "paths": [str(function.built), str(layer), str(runtime)], "module": module,
                    "handler": handler, "event": chosen.event, "aws": answers, "sample": chosen.sample.key}
            functions[folder][tracing] = ProbeConfig(function.logical_id, spec,
                                                     lambda_env(function, runtime, {**chosen.env,
                                                                "STRIPE_API_BASE": stub_url}, tracing=tracing),
                                                     function.built, CALLBACK_ENDPOINTS.get(folder))
    configs = [c for pair in functions.values() for c in pair.values()]
    log(f"cold starts: {len(configs)} configurations x {runs} runs, each right after a floor run "
        "(+1 warm-up round, not counted)")
    for round_ in range(runs + 1):
        bare_result = run_probe(python, bare, work)
        paused_floor = run_probe(python, dynamo, work)  # right before the paused one: the pair gives their ratio
        paused_result = run_probe(python, paused, work)
        for config in configs:
            floor_result = run_probe(python, dynamo, work)
            result = run_probe(python, config, work)
            if round_:
                dynamo.samples.append(floor_result)
                config.floors.append(floor_result)
                config.samples.append(result)
        if round_:
            bare.samples.append(bare_result)
            paused.samples.append(paused_result)
            paused.floors.append(paused_floor)
            log(f"  round {round_}/{runs} done")
    return bare, dynamo, paused, functions


def measure_warm(python: str, cold: dict[str, dict[bool, ProbeConfig]], events: int,
                 work: Path) -> dict[str, dict[bool, dict[str, Any]]]:
    from bench.scenarios import CALLBACK_ENDPOINTS

    warm: dict[str, dict[bool, dict[str, Any]]] = {}
    for folder, pair in cold.items():
        if folder not in CALLBACK_ENDPOINTS:
            continue
        warm[folder] = {}
        for tracing, config in pair.items():
            log(f"warm: {config.label} ({'tracing on' if tracing else 'tracing off'}), {events} events")
            warm_config = ProbeConfig(config.label, {**config.spec, "warm_events": events}, config.env, config.cwd,
                                      config.resign)
            warm[folder][tracing] = run_probe(python, warm_config, work)
    return warm


# --- sizes -------------------------------------------------------------------------------------------------


def sizes(path: Path) -> tuple[int, int]:
    """(zipped, unzipped) bytes of a directory, zipped as sam deploy does (deflate)."""
    unzipped = 0
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                unzipped += file.stat().st_size
                archive.write(file, file.relative_to(path))
        handle.seek(0, os.SEEK_END)
        return handle.tell(), unzipped


# --- the report --------------------------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def calls_cell(operations: list[str] | None) -> str:
    if operations is None:
        return "-"
    if not operations:
        return "0"
    names: dict[str, int] = {}
    for op in operations:
        names[op] = names.get(op, 0) + 1
    return f"{len(operations)} (" + ", ".join(f"{n} x {op}" if n > 1 else op for op, n in names.items()) + ")"


def _units(value: float) -> str:
    return f"{value:g}"


def capacity_cell(calls: list[dict[str, Any]]) -> str:
    """``read / write`` DynamoDB units over ``calls``, with the share of the writes that index upkeep costs."""
    measured = [c["capacity"] for c in calls if "capacity" in c]
    if not measured:
        return "0"
    read, write = sum(c["read"] for c in measured), sum(c["write"] for c in measured)
    indexes = sum(t["write"] for c in measured for name, t in c["by_target"].items() if "/" in name)
    return f"{_units(read)} / {_units(write)}" + (f" ({_units(indexes)} indexes)" if indexes else "")


def capacity_comparison(outcomes: list[Outcome]) -> list[str]:
    """Per DynamoDB operation: the units computed, and what moto's ConsumedCapacity said for the same calls."""
    from bench.capacity import compare

    summary = compare(c for o in outcomes for c in [*o.recording, *o.duplicate_recording])
    if not summary:
        return []
    lines = ["", "### DynamoDB capacity: computed, and what moto reports", "",
             "Every DynamoDB call above (duplicates included) asked for `ReturnConsumedCapacity=INDEXES`. moto's "
             "figures are constants per operation, so the tables above use the computed units.", "",
             "| DynamoDB operation | Calls | Computed read units | Computed write units | moto's ConsumedCapacity "
             "(sum) | Calls where moto's figure is the computed one |",
             "|---|---|---|---|---|---|"]
    for operation, row in sorted(summary.items()):
        reported = _units(row["reported"]) + (f" ({row['unreported']} calls: none)" if row["unreported"] else "")
        lines.append(f"| {operation} | {row['calls']} | {_units(row['read'])} | {_units(row['write'])} | "
                     f"{reported} | {row['agree']} of {row['calls']} |")
    return lines


def stripe_cell(requests: list[str] | None) -> str:
    if requests is None:
        return "-"
    if not requests:
        return "0"
    return f"{len(requests)} (" + ", ".join(r.replace("/v1/", "") for r in requests) + ")"


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _clients(sample: dict[str, Any]) -> str:
    return ", ".join(f"{n} {service}" for service, n in sorted(sample.get("clients", {}).items())) or "0"


def report(*, python_note: str, runs: int, bare: ProbeConfig, floor: ProbeConfig, paused: ProbeConfig,
           cold: dict[str, dict[bool, ProbeConfig]], outcomes: list[Outcome], layer: Path, build_dir: Path,
           functions: dict[str, Function], warm: dict[str, dict[bool, dict[str, Any]]], warm_events: int,
           tracing_active: bool, only: set[str] | None = None) -> str:
    from bench.scenarios import OFF_THE_USUAL_PATH, TARGETS

    deployed = "on" if tracing_active else "off"
    lines = [
        "# make bench",
        "",
        f"Cold starts: {python_note}; build `{_relative(build_dir)}`; median of {runs} runs per row, every row "
        "measured in each round; `PYTHONDONTWRITEBYTECODE=1`; AWS answered by botocore's Stubber, Stripe by a "
        "loopback stub.",
        f"Floors in the same run: bare interpreter {bare.median():.0f} ms; botocore imported + DynamoDB client + one "
        f"stubbed call **{floor.median():.0f} ms** (= 1.00x), {floor.median('gc_ms'):.0f} ms of it in the garbage "
        f"collector; the same with the collector paused from process start {paused.median():.0f} ms "
        f"({paused.ratio():.2f}x, median of its ratios to a floor run just before it).",
        "",
        "## Cold start per function: process start to the first answer",
        "",
        "Every run of a function follows a run of the botocore floor. Ratio = median over runs of run / that floor; "
        f"the verdict is on it, with tracing as deployed ({deployed}: `Tracing: "
        f"{'Active' if tracing_active else 'PassThrough'}`). Best = fastest run / fastest floor, which moves least "
        "when other work shares the machine. vs paused floor = the ratio (tracing on) over the paused floor's ratio "
        "to the floor: what the ratio would be if the floor paused the collector too. GC = the median time the "
        "garbage collector took in the whole run (tracing on).",
        "",
        "| Function | Sample served | Tracing on | ratio | best | Tracing off | ratio | best | Target | Verdict |"
        " vs paused floor | GC | Handler import / first event | botocore clients | stripe modules |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for folder in folders(only):
        function = functions.get(folder)
        if folder not in cold:
            why = "not built yet" if function is None else "no sample succeeded"
            name = function.logical_id if function else f"`functions/{folder}`"
            lines.append(f"| {name} | n/a ({why}) |" + " |" * 13)
            continue
        on, off = cold[folder][True], cold[folder][False]
        target = RATIO_TARGETS.get(on.label, DEFAULT_RATIO_TARGET)
        verdict = "ok" if (on if tracing_active else off).ratio() <= target else "over"
        last = on.samples[-1]
        lines.append(
            f"| {on.label} | `{on.spec['sample']}` | {on.median():.0f} ms | {on.ratio():.2f}x | "
            f"{on.best_ratio():.2f}x | {off.median():.0f} ms | {off.ratio():.2f}x | {off.best_ratio():.2f}x | "
            f"<= {target:.1f}x | {verdict} | {on.ratio() / paused.ratio():.2f}x | {on.median('gc_ms'):.0f} ms | "
            f"{on.median('import_ms'):.0f} / {on.median('first_call_ms'):.0f} ms | {_clients(last)} | "
            f"{last['stripe_modules']} |")

    lines += [
        "",
        "## DynamoDB and Stripe calls, and DynamoDB capacity, per operation (counted, not timed)",
        "",
        "Every sample event under `events/`, through the real handler (moto for AWS, the stub for Stripe), one table "
        "per function. Callback samples are delivered twice: the second delivery is the duplicate. Capacity is "
        "DynamoDB's on-demand read / write request units for the operation's DynamoDB calls, computed from the items "
        "read and written as DynamoDB charges them (`bench/capacity.py`; moto reports constants, see below); "
        "\"indexes\" is the part of the write units that keeps global secondary indexes up to date.",
    ]
    by_folder: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_folder.setdefault(outcome.sample.folder, []).append(outcome)
    for folder, group in by_folder.items():
        function = functions.get(folder)
        name = function.logical_id if function else f"`functions/{folder}`"
        heading = f"### {name}"
        if folder in cold:
            on, off = cold[folder][True], cold[folder][False]
            target = RATIO_TARGETS.get(on.label, DEFAULT_RATIO_TARGET)
            verdict = "ok" if (on if tracing_active else off).ratio() <= target else "over"
            heading += (f": cold start {on.ratio():.2f}x tracing on, {off.ratio():.2f}x off (target <= {target:.1f}x, "
                        f"{verdict})")
        lines += [
            "",
            heading,
            "",
            "| Operation (sample event) | Answer | DynamoDB calls | Capacity (read / write units) | Stripe calls |"
            " Duplicate: DynamoDB | capacity | Stripe | Target (DynamoDB / Stripe) | Verdict |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for outcome in group:
            sample = outcome.sample
            label = f"`{sample.key}`" if sample.name else f"`{sample.folder}/*`"
            if outcome.error and outcome.status is None:
                lines.append(f"| {label} | n/a ({outcome.error}) |" + " |" * 8)
                continue
            answer = f"{outcome.status}" + (f" {outcome.result}" if outcome.result else "")
            if outcome.duplicate_result:
                answer += f", then {outcome.duplicate_result}"
            target = TARGETS.get(sample.key) or TARGETS.get(sample.folder)
            verdict, target_text = "", ""
            if outcome.error:
                verdict = f"error: {outcome.error}"
            elif target is not None and sample.key in OFF_THE_USUAL_PATH:
                target_text, verdict = "n/a", f"off the usual path: {OFF_THE_USUAL_PATH[sample.key]}"
            elif target is not None:
                ddb_max, stripe_max = target
                target_text = f"<= {ddb_max} / <= {stripe_max}"
                good = len(outcome.dynamodb) <= ddb_max and len(outcome.stripe) <= stripe_max
                if outcome.duplicate_dynamodb is not None:
                    target_text += "; duplicate <= 1 / 0"
                    good = good and len(outcome.duplicate_dynamodb) <= 1 and not outcome.duplicate_stripe
                verdict = "ok" if good else "over"
            duplicate = outcome.duplicate_dynamodb is not None
            lines.append(
                f"| {label} | {answer} | {calls_cell(outcome.dynamodb)} | {capacity_cell(outcome.recording)} | "
                f"{stripe_cell(outcome.stripe)} | {calls_cell(outcome.duplicate_dynamodb)} | "
                f"{capacity_cell(outcome.duplicate_recording) if duplicate else '-'} | "
                f"{stripe_cell(outcome.duplicate_stripe)} | {target_text} | {verdict} |")
    secret_calls = sorted({c["operation"] for o in outcomes for c in o.recording if c["service"] == "secretsmanager"})
    if secret_calls:
        lines += ["", "Not counted above: in a new container, the first call that needs a Stripe key or a webhook "
                      f"signing secret reads that secret from Secrets Manager ({', '.join(secret_calls)}), once per "
                      "secret (each callback has its own signing secret)."]
    lines += capacity_comparison(outcomes)

    layer_zip, layer_raw = sizes(layer.parent)
    py_files = sum(1 for _ in layer.rglob("*.py"))
    pyc_files = sum(1 for _ in layer.rglob("*.pyc"))
    botocore = ("**its own botocore**, which shadows the runtime's" if (layer / "botocore").is_dir()
                else "no botocore: the runtime's is used")
    verdict = "ok" if layer_zip < LAYER_ZIP_TARGET_MB * 1e6 else "over"
    lines += [
        "",
        "## Package sizes (build output, zipped with deflate as `sam deploy` zips it)",
        "",
        "| Package | Zipped | Unzipped | Notes |",
        "|---|---|---|---|",
        f"| CommonLayer | {mb(layer_zip)} | {mb(layer_raw)} | target < {LAYER_ZIP_TARGET_MB:.0f} MB zipped: {verdict}; "
        f"{pyc_files} .pyc for {py_files} .py; {botocore} |",
    ]
    for function in sorted(functions.values(), key=lambda f: f.logical_id):
        zipped, raw = sizes(function.built)
        lines.append(f"| {function.logical_id} | {mb(zipped)} | {mb(raw)} | |")

    if warm:
        lines += [
            "",
            f"## Warm cost per webhook event ({warm_events} deliveries in one process after the cold one; "
            "signature verified, DynamoDB answered by botocore's Stubber)",
            "",
            "| Function | Sample | CPU per event, tracing on | tracing off | Wall per event, tracing on |"
            " tracing off |",
            "|---|---|---|---|---|---|",
        ]
        for folder, pair in warm.items():
            on, off = pair[True], pair[False]
            lines.append(f"| {cold[folder][True].label} | `{cold[folder][True].spec['sample']}` | "
                         f"{on['warm_cpu_ms']:.2f} ms | {off['warm_cpu_ms']:.2f} ms | {on['warm_wall_ms']:.2f} ms | "
                         f"{off['warm_wall_ms']:.2f} ms |")
    return "\n".join(lines) + "\n"


# --- main --------------------------------------------------------------------------------------------------


def prepare_process_env() -> None:
    """This process runs the handlers against moto: quiet logs, no tracing, keys only from the secret."""
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "payments-bench", "POWERTOOLS_METRICS_NAMESPACE": "PaymentsBench",
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    })
    for name in list(os.environ):
        if name.startswith(("STRIPE_", "AWS_ENDPOINT_URL")):
            del os.environ[name]
    for path in (str(REPO / "layers" / "common"), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "9")))
    parser.add_argument("--warm-events", type=int, default=int(os.environ.get("BENCH_WARM_EVENTS", "3000")))
    parser.add_argument("--build-dir", type=Path, default=REPO / ".aws-sam" / "build")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument("--only", help="comma-separated function folders to measure (default: all)")
    args = parser.parse_args(argv)

    build_dir = args.build_dir.resolve()
    layer = build_dir / "CommonLayer" / "python"
    if not layer.is_dir():
        log(f"no built layer at {layer}: run `make template` (or `make sam-build`) first")
        return 2
    prepare_process_env()
    python, python_note = probe_python()
    work = REPO / ".aws-sam" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    log(f"probes run with {python} ({python_note})")
    runtime = runtime_dir(python, work)
    functions, template = template_functions(build_dir)
    only = set(args.only.split(",")) if args.only else None
    tracing_active = template.get("Globals", {}).get("Function", {}).get("Tracing") == "Active"

    from bench.stripe_stub import StripeStub
    from devstack.local_functions import function_environment

    with StripeStub() as stub:
        os.environ["STRIPE_API_BASE"] = stub.url
        log("calls per operation: every sample event, in process, AWS on moto")
        outcomes = count_operations(functions, stub, template, only)
        base_env = {**function_environment(template, None, parameters=bench_parameters()), "STRIPE_API_BASE": stub.url}
        with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
            bare, floor, paused, cold = measure_cold(python, runtime, layer, outcomes, base_env, stub.url, args.runs,
                                              Path(scratch))
            warm = measure_warm(python, cold, args.warm_events, Path(scratch)) if args.warm_events else {}
    stale = stale_sources(build_dir, functions)
    text = report(python_note=python_note, runs=args.runs, bare=bare, floor=floor, paused=paused, cold=cold,
                  outcomes=outcomes,
                  layer=layer, build_dir=build_dir, functions=functions, warm=warm, warm_events=args.warm_events,
                  tracing_active=tracing_active, only=only)
    if only is None or {"event_publisher", "live_notify"} & set(only):  # events out and live status (issue 10)
        from bench.events import report as events_report

        try:
            text += "\n".join(events_report(build_dir, python, runtime)) + "\n"
        except Exception as error:  # the report above stands; say what this part could not measure
            text += f"\n(events and live status not measured: {type(error).__name__}: {error})\n"
    if stale:
        text = (f"**Warning: the build is older than {', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''}: "
                "run `make sam-build` to measure the current code.**\n\n") + text
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
