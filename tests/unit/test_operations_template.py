"""The template's operations side, held to the code: EventBridge rules and the registered endpoints route exactly
the event types of ``payments.webhooks.endpoints``; every alarm and dashboard metric of the product's namespace is
one the code really counts; every function has a log group that expires; the HTTP API leaves access logs."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.template import REPO_ROOT, load_template
from payments.webhooks import endpoints

LAYER = REPO_ROOT / "layers" / "common" / "payments"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def get_att(value: Any) -> list[str]:
    """``!GetAtt A.B`` (read as "A.B") or ``Fn::GetAtt: [A, B]`` as ``[A, B]``."""
    target = value["Fn::GetAtt"]
    return target.split(".", 1) if isinstance(target, str) else list(target)


# --- one map of endpoints to event types -------------------------------------------------------------------


def test_each_callbacks_eventbridge_rule_routes_exactly_its_event_types_with_retries_and_a_dead_letter_queue(
        template):
    rules = resources(template, "AWS::Events::Rule")
    routed = {}
    for name, rule in rules.items():
        props = rule["Properties"]
        assert rule["Condition"] == "StripeEventBridge", name
        assert props["EventBusName"] == {"Ref": "StripeEventBus"}
        assert props["EventPattern"]["source"] == [{"Ref": "StripeEventSourceName"}]
        [target] = props["Targets"]
        function = target["Arn"]["Ref"].removesuffix(".Alias")
        assert target["Arn"] == {"Ref": f"{function}.Alias"}  # the alias `live`, as the Function URLs
        assert get_att(target["DeadLetterConfig"]["Arn"]) == ["StripeEventsDeadLetterQueue", "Arn"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        routed[function] = tuple(sorted(props["EventPattern"]["detail-type"]))
    # the platform's callbacks: a Connect endpoint's events are the connected accounts', not on this source
    assert routed == {spec.function: spec.event_types() for spec in endpoints.PLATFORM}
    permissions = resources(template, "AWS::Lambda::Permission")
    invokable = {p["Properties"]["FunctionName"]["Ref"].removesuffix(".Alias") for p in permissions.values()
                 if p["Properties"]["Principal"] == "events.amazonaws.com"}
    assert invokable == set(routed)


def test_the_registration_resource_registers_each_callbacks_url_with_its_own_secret(template):
    props = template["Resources"]["StripeWebhooks"]["Properties"]
    assert set(props["Endpoints"]) == set(endpoints.NAMES)
    for spec in endpoints.ENDPOINTS:
        entry = props["Endpoints"][spec.name]
        assert get_att(entry["Url"]) == [f"{spec.function}Url", "FunctionUrl"]
        callback_env = template["Resources"][spec.function]["Properties"]["Environment"]["Variables"]
        assert entry["SecretArn"] == callback_env["STRIPE_WEBHOOK_SECRET_ARN"]  # the secret that callback reads
    assert props["CodeVersion"] == {"Ref": "WebhookRegistrationFunction.Version"}  # new code: the endpoints follow
    grants = template["Resources"]["WebhookRegistrationFunction"]["Properties"]["Policies"][0]["Statement"]
    writes = next(s for s in grants if s["Action"] == ["secretsmanager:PutSecretValue"])
    assert sorted(r["Ref"] for r in writes["Resource"]) == sorted(
        props["Endpoints"][n]["SecretArn"]["Ref"] for n in endpoints.NAMES)


def test_every_callback_function_is_in_the_map_and_builds_its_endpoint_from_it():
    folders = {p.parent.name for p in (REPO_ROOT / "functions").glob("*_callback/app.py")}
    thin = {f"{name}_callback" for name in endpoints.THIN_DESTINATIONS}
    assert folders == {spec.folder for spec in endpoints.ENDPOINTS} | thin
    for spec in endpoints.ENDPOINTS:
        source = (REPO_ROOT / "functions" / spec.folder / "app.py").read_text(encoding="utf-8")
        assert f'webhook_endpoint("{spec.name}")' in source


def test_one_event_type_belongs_to_one_callback():
    types = [t for spec in endpoints.ENDPOINTS for t in spec.event_types()]
    assert len(types) == len(set(types))


# --- alarms and the dashboard name metrics the code counts ------------------------------------------------


def emitted_metrics() -> tuple[set[str], list[re.Pattern[str]]]:
    """Metric names the layer counts: ``count("X")`` / ``decision.count("X")``, ``metrics=("X", ...)`` (a
    settlement's), and f-strings (``count(f"Payment{status}")`` becomes the pattern ``Payment.+``)."""
    names: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for path in LAYER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "").endswith("_METRICS") for t in node.targets):
                if isinstance(node.value, ast.Dict):  # a table of metric names (RESULT_METRICS)
                    names |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
                continue
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            values: list[ast.expr] = list(node.args[:1]) if called == "count" else []
            for keyword in node.keywords:
                if keyword.arg == "metrics" and isinstance(keyword.value, ast.Tuple | ast.List):
                    values += keyword.value.elts
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    names.add(value.value)
                elif isinstance(value, ast.JoinedStr):
                    parts = [re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in value.values]
                    patterns.append(re.compile("".join(parts)))
    # RecordFirst counts f"{self.name}ReservationStuck": its subclasses' names make the real ones
    record_first = [n for n in _class_names() if n]
    names |= {f"{name}{suffix}" for name in record_first for suffix in ("ReservationStuck", "StripeFailed")}
    return names, patterns


def _class_names() -> Iterator[str]:
    for path in LAYER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Subscript) and getattr(b.value, "id", "") == "RecordFirst" for b in node.bases):
                for item in node.body:
                    if isinstance(item, ast.Assign) and getattr(item.targets[0], "id", "") == "name":
                        yield ast.literal_eval(item.value)


def product_metrics(template) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(where, namespace, metric name, dimensions) of every metric an alarm or the dashboard reads."""
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        if "MetricName" in props:
            yield name, props["Namespace"], props["MetricName"], {d["Name"]: d["Value"] for d in props["Dimensions"]}
        for metric in props.get("Metrics", []):
            if "MetricStat" in metric:
                m = metric["MetricStat"]["Metric"]
                yield name, m["Namespace"], m["MetricName"], {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for widget in json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]:
        previous: list[str] = []
        for row in widget["properties"].get("metrics", []):
            if row[0] == "...":
                continue
            row = [previous[i] if value == "." else value for i, value in enumerate(row)]
            previous = row
            yield "Dashboard", row[0], row[1], dict(zip(row[2::2], row[3::2], strict=True))


def test_every_product_metric_an_alarm_or_the_dashboard_reads_is_one_the_code_counts(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    namespace, service = variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]
    names, patterns = emitted_metrics()
    read = [(where, ns, metric, dims) for where, ns, metric, dims in product_metrics(template)
            if not ns.startswith("AWS/")]
    assert read
    for where, ns, metric, dims in read:
        assert ns == namespace, f"{where}: {metric} is in {ns}, the code's namespace is {namespace}"
        assert dims == {"service": service}, f"{where}: {metric} with {dims} (Powertools adds service only)"
        assert metric in names or any(p.fullmatch(metric) for p in patterns), \
            f"{where}: no code counts {metric}"


def test_the_alarms_the_contract_names_exist_and_notify_the_topic(template):
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    metrics = {metric for _, _, metric, _ in product_metrics(template)}
    for needed in ("EventsRecovered", "AmountMismatch", "DuplicatePayment", "RefundReservationStuck",
                   "WebhookServerError", "Throttles", "ApproximateNumberOfMessagesVisible"):
        assert needed in metrics, needed
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    throttled = {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
                 for a in alarms.values() for m in a["Properties"].get("Metrics", [])
                 if "MetricStat" in m and m["MetricStat"]["Metric"]["MetricName"] == "Throttles"}
    functions = {n for n, r in resources(template, "AWS::Serverless::Function").items() if "Condition" not in r}
    assert throttled == functions  # every function that always exists is watched for throttles
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "AlarmEmailGiven" and subscription["Properties"]["Protocol"] == "email"


# --- logs ----------------------------------------------------------------------------------------------------


def test_every_function_logs_to_a_group_of_its_own_that_expires(template):
    groups = resources(template, "AWS::Logs::LogGroup")
    used = []
    for name, function in resources(template, "AWS::Serverless::Function").items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        used.append(group)
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert groups[group].get("Condition") == function.get("Condition"), name
    assert len(used) == len(set(used))


def test_the_http_api_writes_access_logs_without_headers_or_bodies(template):
    settings = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    group = get_att(settings["DestinationArn"])[0]
    assert template["Resources"][group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fields = json.loads(settings["Format"])
    assert {"requestId", "route", "status"} <= set(fields)
    assert not any("header" in str(v).lower() or "body" in str(v).lower() for v in fields.values())


def test_the_reconciler_runs_on_its_schedule_and_on_the_admin_route(template):
    events = template["Resources"]["ReconcileFunction"]["Properties"]["Events"]
    assert events["Schedule"]["Properties"]["ScheduleExpression"] == {
        "Fn::Sub": "rate(${ReconcileRateMinutes} minutes)"}
    assert events["ReconcileNow"]["Properties"]["Path"] == "/admin/reconcile"
    assert template["Parameters"]["ReconcileRateMinutes"]["Default"] == 15
    assert template["Parameters"]["StuckAfterMinutes"]["Default"] == 30
