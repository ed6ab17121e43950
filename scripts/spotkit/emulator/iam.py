"""Identity-policy enforcement for the functions the emulator runs (docs/emulator.md, "IAM").

What AWS does:

* Lambda runs a function with temporary credentials of its execution role: the role is assumed with
  the function's name as role session name, so the caller is
  ``arn:aws:sts::<account>:assumed-role/<role name>/<function name>`` (Lambda Developer Guide,
  "Defining Lambda function permissions with an execution role", lambda-intro-execution-role.html).
* Every request signed with those credentials is evaluated against the role's identity policies
  (inline and attached managed) for the request's IAM action and *each* resource the action names:
  an explicit Deny wins, else an Allow is needed, else the request is denied (IAM User Guide,
  "Policy evaluation logic", reference_policies_evaluation-logic.html). Actions that support no
  resource-level permissions are evaluated on ``*`` (Service Authorization Reference; for AWS
  Batch, "Actions, resources, and condition keys for AWS Batch", list_awsbatch.html, and the AWS
  Batch User Guide, "Supported resource-level permissions for AWS Batch API actions",
  batch-supported-iam-actions-resources.html: DescribeJobs, ListJobs and DescribeJobDefinitions are
  not in that list, so only ``*`` applies to them).
* SubmitJob is authorised on both the job queue and the job definition ("When scoping
  resource-level access for job submission, you must provide both job queue and job definition
  resource types", AWS Batch User Guide, iam-example-restrict-job-queue.html). A SubmitJob with
  ``tags`` also needs ``batch:TagResource``: AWS answered a tagged SubmitJob of a role without it
  with ``AccessDeniedException ... is not authorized to perform: batch:TagResource on resource:
  arn:aws:batch:us-east-1:<account>:job-definition/<name>:4`` (captured in
  https://github.com/wri/gfw-data-api/pull/175). So the emulator evaluates that TagResource on the
  job definition revision; whether AWS also evaluates it on the queue or the new job's ARN is
  assumed not, not verified.
* Publishing to an encrypted SNS topic or sending to an encrypted SQS queue needs
  ``kms:GenerateDataKey*`` and ``kms:Decrypt`` on the key, receiving from an encrypted queue
  ``kms:Decrypt``, each made by the service on the caller's behalf (``kms:ViaService`` =
  ``<service>.<region>.amazonaws.com``) (Amazon SQS Developer Guide, sqs-key-management.html;
  Amazon SNS Developer Guide, sns-key-management.html). AWS managed keys (``alias/aws/...``) allow
  this in their key policy to every principal of the account, so they are not checked.

What the emulator does: :class:`Enforcer` issues execution-role credentials through moto's STS
(``AssumeRole`` on the in-process backend) to every function it runs, and checks every request
signed with an access key of an assumed role before moto answers it (:func:`install` wraps
``ActionAuthenticatorMixin._authenticate_and_authorize_normal_action``, which moto's
``BaseResponse.call_action`` runs for every request of every service). The resources of a call
come from :func:`required_checks`. Statements are matched with moto's ``IAMPolicyStatement``
(``moto/iam/access_control.py``), with three corrections: actions match case-insensitively and
``?`` is a one-character wildcard; ``NotResource`` is honoured; a statement whose ``Condition`` is
not met does not apply (moto denies). Requests signed with any other key ("testing": Terraform,
tests, the CLI) and the emulator's own in-process calls are not checked.

Out of scope (each a documented gap): resource-based policies (key policies, topic and queue
policies), permission boundaries, session policies, SCPs, cross-account access, SigV4 signature and
session-token expiry checks.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import HTTPException

log = logging.getLogger("spotkit.emulator.iam")

#: Credentials are renewed when less than this many seconds of validity remain.
RENEW_MARGIN_SECONDS = 900
#: Lifetime of the execution-role credentials, seconds (AssumeRole's default).
CREDENTIAL_SECONDS = 3600

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allow", "explicit_deny", "implicit_deny"


@dataclass(frozen=True)
class Check:
    """One authorisation a request needs: ``action`` (``service:Operation``) on every ARN of
    ``resources`` (``"*"`` for actions without resource-level permissions), with request context
    keys ``context`` (e.g. ``{"kms:ViaService": "sqs.us-east-1.amazonaws.com"}``)."""

    action: str
    resources: Tuple[str, ...]
    context: Tuple[Tuple[str, str], ...] = ()
    mapped: bool = True


def _check(action: str, resources: Iterable[str], context: Optional[dict] = None, mapped: bool = True) -> Check:
    return Check(action, tuple(resources), tuple(sorted((context or {}).items())), mapped)


# ------------------------------------------------------------------ policy evaluation
def _statement_class():
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    class Statement(IAMPolicyStatement):
        """moto's statement matcher with AWS's rules where moto differs (see the module docstring)."""

        def _check_element_matches(self, statement_element: Any, value: str) -> bool:
            patterns = self._statement[statement_element]
            patterns = patterns if isinstance(patterns, list) else [patterns]
            fold = statement_element in ("Action", "NotAction")
            return any(self._match_one(str(p), value, fold) for p in patterns)

        @staticmethod
        def _match_one(pattern: str, value: str, fold: bool) -> bool:
            regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
            return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if fold else re.DOTALL) is not None

        def is_action_permitted(self, action: str, resource: str = "*", principal: Any = None,
                                incoming_condition_values: Optional[dict] = None):
            st = self._statement
            if "NotAction" in st:
                concerned = not self._check_element_matches("NotAction", action)
            else:
                concerned = "Action" in st and self._check_element_matches("Action", action)
            if not concerned or not conditions_hold(st.get("Condition"), incoming_condition_values or {}):
                return PermissionResult.NEUTRAL
            if "NotResource" in st:
                matched = not self._check_element_matches("NotResource", resource)
            else:
                matched = "Resource" in st and self._check_element_matches("Resource", resource)
            if not matched:
                return PermissionResult.NEUTRAL
            return PermissionResult.PERMITTED if st.get("Effect") == "Allow" else PermissionResult.DENIED

    return Statement, PermissionResult


_STRING_OPS: Dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, got: want == got,
    "StringNotEquals": lambda want, got: want != got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": lambda want, got: re.fullmatch(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in want), got, re.DOTALL) is not None,
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": lambda want, got: re.fullmatch(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in want), got, re.DOTALL) is not None,
    "Bool": lambda want, got: want.lower() == got.lower(),
}
_NEGATED = {"StringNotEquals"}


def conditions_hold(condition: Optional[dict], context: Dict[str, str]) -> bool:
    """Whether a statement's ``Condition`` block is met by the request ``context`` (key → value).

    Supported operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringLike, ArnEquals,
    ArnLike, Bool, each optionally ``...IfExists``. A key missing from the context fails the condition
    (passes with ``IfExists`` and for negated operators), as in IAM (IAM User Guide,
    reference_policies_elements_condition_operators.html).
    Any other operator is not met (logged): the emulator will not guess.
    """
    if not condition:
        return True
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, entries in condition.items():
        if_exists = operator.endswith("IfExists")
        op = operator[:-len("IfExists")] if if_exists else operator
        test = _STRING_OPS.get(op)
        if test is None:
            log.warning("IAM condition operator %s is not modelled: the statement does not apply", operator)
            return False
        for key, wanted in (entries or {}).items():
            wanted = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
            got = lowered.get(key.lower())
            if got is None:
                # A missing key: not met, except with ...IfExists, and a negated operator (StringNotEquals)
                # is met (IAM User Guide, "Condition operators" / "Multiple context keys or values").
                if if_exists or op in _NEGATED:
                    continue
                return False
            if op in _NEGATED:
                if not all(test(w, got) for w in wanted):
                    return False
            elif not any(test(w, got) for w in wanted):
                return False
    return True


def evaluate(policies: Iterable[str], action: str, resource: str, context: Optional[Dict[str, str]] = None) -> str:
    """Evaluate identity policy documents (JSON text) for one action on one resource.

    Returns :data:`ALLOW`, :data:`EXPLICIT_DENY` (a matching Deny: wins over any Allow) or
    :data:`IMPLICIT_DENY` (no matching Allow) (IAM User Guide, "Policy evaluation logic").
    """
    statement_cls, result = _statement_class()
    allowed = False
    for document in policies:
        statements = json.loads(document).get("Statement", [])
        for st in statements if isinstance(statements, list) else [statements]:
            outcome = statement_cls(st).is_action_permitted(action, resource, None, context or {})
            if outcome == result.DENIED:
                return EXPLICIT_DENY
            if outcome == result.PERMITTED:
                allowed = True
    return ALLOW if allowed else IMPLICIT_DENY


@functools.lru_cache(maxsize=4096)
def _evaluate_cached(policies: Tuple[str, ...], action: str, resource: str,
                     context: Tuple[Tuple[str, str], ...]) -> str:
    """:func:`evaluate`, memoized on the policy documents' text: a changed policy is a new key, so
    nothing stale is ever answered (a burst of 1,000 resubmissions asks the same few questions)."""
    return evaluate(policies, action, resource, dict(context))


def role_policies(account_id: str, role_name: str, partition: str = "aws") -> List[str]:
    """The role's identity policies as JSON documents: inline (PutRolePolicy) and attached managed
    policies (their default version).

    Raises:
        moto.iam.exceptions.NoSuchEntity (or NotFoundException): no such role.
    """
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id][partition]
    backend.get_role(role_name)
    docs: List[str] = []
    for name in backend.list_role_policies(role_name):
        _, doc = backend.get_role_policy(role_name, name)
        docs.append(doc if isinstance(doc, str) else json.dumps(doc))
    attached, _ = backend.list_attached_role_policies(role_name)
    for policy in attached:
        version = next(v for v in policy.versions if v.is_default)
        doc = version.document
        docs.append(doc if isinstance(doc, str) else json.dumps(doc))
    return docs


# ------------------------------------------------------------------ request → action + resources
class Resolver:
    """Names → ARNs for :func:`required_checks`, read from moto's in-process backends.

    Every method returns None when the resource does not exist (the request is then evaluated on the
    ARN it would have, or on ``*`` when none can be formed, and moto answers with its own error).
    """

    def __init__(self, account_id: str, region: str):
        self.account, self.region = account_id, region

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def job_queue_arn(self, identifier: str) -> str:
        if identifier.startswith("arn:"):
            return identifier
        return self.arn("batch", f"job-queue/{identifier}")

    def job_definition_arn(self, identifier: str) -> Optional[str]:
        """The IAM resource of a job definition as SubmitJob uses it: always with its revision.
        ``name:revision`` and a revision ARN name that revision; a bare name and an ARN without a
        revision resolve to the latest ACTIVE revision (AWS Batch API Reference, "SubmitJob" →
        jobDefinition), None when there is none."""
        name = identifier.partition("job-definition/")[2] if identifier.startswith("arn:") else identifier
        if not name:
            return None
        if ":" in name:
            return self.arn("batch", f"job-definition/{name}")
        from moto.batch.models import batch_backends

        backend = batch_backends[self.account][self.region]
        active = [d for d in list(backend._job_definitions.values()) if d.name == name and d.status == "ACTIVE"]
        if not active:
            return None
        return self.arn("batch", f"job-definition/{name}:{max(d.revision for d in active)}")

    def queue_arn_from_url(self, url: str) -> str:
        return self.arn("sqs", url.rstrip("/").split("/")[-1])

    def queue_kms_key(self, queue_arn: str) -> Optional[str]:
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[self.account][self.region].queues.get(queue_arn.split(":")[-1])
        return getattr(queue, "kms_master_key_id", None) if queue else None

    def topic_kms_key(self, topic_arn: str) -> Optional[str]:
        from moto.sns.models import sns_backends

        topic = sns_backends[self.account][self.region].topics.get(topic_arn)
        return (getattr(topic, "kms_master_key_id", None) or None) if topic else None

    def kms_key_arn(self, key_id: str) -> Optional[str]:
        """A KMS key id, key ARN, alias name or alias ARN → the key ARN; None for an AWS managed key
        (``alias/aws/...``) or an unknown alias."""
        if not key_id:
            return None
        if ":key/" in key_id:
            return key_id
        alias = key_id.split(":", 5)[-1] if key_id.startswith("arn:") else key_id
        if alias.startswith("alias/"):
            if alias.startswith("alias/aws/"):
                return None
            from moto.kms.models import kms_backends

            try:
                target = kms_backends[self.account][self.region].get_key_id_from_alias(alias)
            except Exception:
                target = None
            return self.arn("kms", f"key/{target}") if target else None
        return self.arn("kms", f"key/{key_id}")


def _p(params: dict, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return value


def _via(service: str, region: str) -> dict:
    return {"kms:ViaService": f"{service}.{region}.amazonaws.com"}


def _kms_checks(key_arn: Optional[str], actions: Iterable[str], service: str, region: str) -> List[Check]:
    if not key_arn:
        return []
    return [_check(a, [key_arn], _via(service, region)) for a in actions]


_BATCH_STAR = {"DescribeJobs", "ListJobs", "DescribeJobDefinitions", "DescribeJobQueues",
               "DescribeComputeEnvironments", "DescribeSchedulingPolicies", "ListSchedulingPolicies"}
_DDB_TABLE = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable",
              "ConditionCheckItem", "DescribeTimeToLive", "DescribeContinuousBackups"}
_SQS_URL = {"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
            "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "GetQueueAttributes", "SetQueueAttributes",
            "PurgeQueue", "DeleteQueue", "ListQueueTags", "TagQueue", "UntagQueue"}
_KMS_KEY = {"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "DescribeKey",
            "ReEncrypt", "Sign", "Verify", "GetKeyPolicy", "GetKeyRotationStatus"}


def required_checks(service: str, operation: str, params: dict, resolver: Resolver, *,
                    method: str = "POST", path: str = "") -> List[Check]:
    """The authorisations a request needs: IAM action and resource ARN(s) for each.

    Args:
        service: the IAM service prefix (``batch``, ``dynamodb``, ``sns``, ``sqs``, ``kms``, ``logs``...).
        operation: the API operation (``SubmitJob``); Batch's REST tag calls are named from ``method``.
        params: the request parameters (JSON body, or query parameters as first values).
        resolver: names → ARNs (:class:`Resolver`).
        method, path: the HTTP method and URL path (Batch's tag calls carry the ARN in the path).

    Returns:
        One :class:`Check` per action; an operation this table does not map is one check on ``*``
        with ``mapped=False`` (the caller logs it).
    """
    region = resolver.region
    action = f"{service}:{operation}"
    if service == "batch":
        if operation == "SubmitJob":
            queue = resolver.job_queue_arn(_p(params, "jobQueue") or "")
            definition = resolver.job_definition_arn(_p(params, "jobDefinition") or "")
            resources = [queue] + ([definition] if definition else [])
            checks = [_check(action, resources)]
            if params.get("tags") and definition:
                checks.append(_check("batch:TagResource", [definition]))
            return checks
        if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
            arn = _p(params, "resourceArn") or (unquote(path.split("/v1/tags/", 1)[1]) if "/v1/tags/" in path else "")
            return [_check(action, [arn or "*"])]
        if operation in ("TerminateJob", "CancelJob"):
            return [_check(action, [resolver.arn("batch", f"job/{_p(params, 'jobId')}")])]
        if operation in _BATCH_STAR:
            return [_check(action, ["*"])]
    elif service == "dynamodb":
        if operation in _DDB_TABLE and _p(params, "TableName"):
            return [_check(action, [resolver.arn("dynamodb", f"table/{_p(params, 'TableName')}")])]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            tables = sorted((params.get("RequestItems") or {}).keys())
            return [_check(action, [resolver.arn("dynamodb", f"table/{t}") for t in tables] or ["*"])]
    elif service == "sns":
        topic = _p(params, "TopicArn") or _p(params, "TargetArn")
        if topic:
            checks = [_check(action, [topic])]
            if operation == "Publish":
                checks += _kms_checks(resolver.kms_key_arn(resolver.topic_kms_key(topic) or ""),
                                      ("kms:GenerateDataKey", "kms:Decrypt"), "sns", region)
            return checks
        if operation in ("ListTopics", "ListSubscriptions"):
            return [_check(action, ["*"])]
    elif service == "sqs":
        url = _p(params, "QueueUrl")
        if url and operation in _SQS_URL:
            queue = resolver.queue_arn_from_url(url)
            checks = [_check(action, [queue])]
            key = resolver.kms_key_arn(resolver.queue_kms_key(queue) or "")
            if operation in ("SendMessage", "SendMessageBatch"):
                checks += _kms_checks(key, ("kms:GenerateDataKey", "kms:Decrypt"), "sqs", region)
            elif operation == "ReceiveMessage":
                checks += _kms_checks(key, ("kms:Decrypt",), "sqs", region)
            return checks
        if operation in ("GetQueueUrl", "CreateQueue") and _p(params, "QueueName"):
            return [_check(action, [resolver.arn("sqs", _p(params, "QueueName"))])]
        if operation == "ListQueues":
            return [_check(action, ["*"])]
    elif service == "kms":
        if operation in _KMS_KEY and _p(params, "KeyId"):
            key = resolver.kms_key_arn(_p(params, "KeyId"))
            return [_check(action, [key or "*"])]
    elif service == "events" and operation == "PutEvents":
        # Resource type event-bus (Service Authorization Reference, "Actions, resources, and condition
        # keys for Amazon EventBridge"): every entry's EventBusName (name or ARN), else the default bus.
        buses = []
        for entry in params.get("Entries") or []:
            name = (entry or {}).get("EventBusName") or "default"
            arn = name if str(name).startswith("arn:") else resolver.arn("events", f"event-bus/{name}")
            if arn not in buses:
                buses.append(arn)
        return [_check(action, buses or [resolver.arn("events", "event-bus/default")])]
    elif service == "ssm" and operation in ("GetParameter", "GetParameters"):
        # Resource type parameter: arn:...:parameter/<name without its leading "/"> (AWS Systems
        # Manager User Guide, "Restricting access to Parameter Store parameters using IAM policies").
        names = [_p(params, "Name")] if operation == "GetParameter" else list(params.get("Names") or [])
        return [_check(action, [resolver.arn("ssm", "parameter/" + str(n).lstrip("/")) for n in names if n] or ["*"])]
    elif service == "logs":
        group = _p(params, "logGroupName")
        stream = _p(params, "logStreamName")
        if group and stream and operation in ("CreateLogStream", "PutLogEvents"):
            return [_check(action, [resolver.arn("logs", f"log-group:{group}:log-stream:{stream}")])]
        if group:
            return [_check(action, [resolver.arn("logs", f"log-group:{group}")])]
    return [_check(action, ["*"], mapped=False)]


# ------------------------------------------------------------------ AWS's AccessDenied, per protocol
class AccessDenied(HTTPException):
    """An AccessDenied answer; ``headers`` are merged into the response by :func:`install`'s hook."""

    def __init__(self, status: int, body: str, headers: Dict[str, str]):
        super().__init__(description=body)
        self.code = status
        self.extra_headers = headers


def denial_message(principal: str, action: str, resource: str, explicit: bool) -> str:
    """AWS's text: ``User: <principal> is not authorized to perform: <action> on resource: <arn>
    because no identity-based policy allows the <action> action`` (or ``with an explicit deny in an
    identity-based policy``), as in the captured Batch error cited in the module docstring. For
    ``*`` the ``on resource`` part is left out (assumed, not verified)."""
    on = "" if resource == "*" else f" on resource: {resource}"
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    return f"User: {principal} is not authorized to perform: {action}{on} {why}"


def _xml_error(code: str, message: str, namespace: str) -> str:
    from xml.sax.saxutils import escape

    return (f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{_request_id()}</RequestId></ErrorResponse>")


def _request_id() -> str:
    import uuid

    return str(uuid.uuid4())


def access_denied(service: str, message: str, json_protocol: bool) -> AccessDenied:
    """The AccessDenied answer of ``service`` in the protocol the request used.

    * Batch (REST-JSON): HTTP 403, ``AccessDeniedException`` (header ``x-amzn-ErrorType`` and body).
    * DynamoDB (JSON 1.0): HTTP 400, ``__type`` ``com.amazon.coral.service#AccessDeniedException``.
    * KMS, CloudWatch Logs and other JSON 1.1 services: HTTP 400, ``AccessDeniedException``.
    * SNS (query): HTTP 403, ``AuthorizationError`` in an XML ErrorResponse.
    * SQS: HTTP 403 ``AccessDenied``: XML for the query protocol; for the JSON protocol (X-Amz-Target
      ``AmazonSQS.*``, which botocore uses since 1.31.x) a JSON body with the
      ``x-amzn-query-error: AccessDenied;Sender`` header, from which botocore takes the code.
    * Other query services: HTTP 403, ``AccessDenied`` in XML.

    The status codes and codes are the brief's reading of each service's documented errors
    (assumed, not verified against a live account except where docs/emulator.md says so).
    """
    if service == "batch":
        return AccessDenied(403, json.dumps({"__type": "AccessDeniedException", "message": message}),
                            {"x-amzn-ErrorType": "AccessDeniedException", "Content-Type": "application/json"})
    if service == "dynamodb":
        return AccessDenied(400, json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException",
                                             "Message": message}),
                            {"Content-Type": "application/x-amz-json-1.0"})
    if service == "sns":
        return AccessDenied(403, _xml_error("AuthorizationError", message, "http://sns.amazonaws.com/doc/2010-03-31/"),
                            {"Content-Type": "text/xml"})
    if service == "sqs":
        if json_protocol:
            return AccessDenied(403, json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException",
                                                 "message": message}),
                                {"x-amzn-query-error": "AccessDenied;Sender",
                                 "Content-Type": "application/x-amz-json-1.0"})
        return AccessDenied(403, _xml_error("AccessDenied", message, "http://queue.amazonaws.com/doc/2012-11-05/"),
                            {"Content-Type": "text/xml"})
    if json_protocol:
        return AccessDenied(400, json.dumps({"__type": "AccessDeniedException", "message": message}),
                            {"Content-Type": "application/x-amz-json-1.1"})
    return AccessDenied(403, _xml_error("AccessDenied", message, "https://iam.amazonaws.com/doc/2010-05-08/"),
                        {"Content-Type": "text/xml"})


# ------------------------------------------------------------------ the enforcer
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")
#: botocore service name → IAM service prefix where they differ.
_IAM_PREFIX = {"monitoring": "cloudwatch", "cloudwatch": "cloudwatch", "email": "ses", "states": "states"}


@dataclass
class _Issued:
    env: Dict[str, str]
    expires: float


@dataclass
class Enforcer:
    """Issues execution-role credentials and checks the requests signed with them.

    Args:
        account_id, region: the emulator's account and Region.

    ``stats``: ``{"allowed": n, "denied": n, "unmapped": {action: n}}``; ``denials`` keeps the last
    100 denial messages (tests and logs read them).
    """

    account_id: str
    region: str
    stats: Dict[str, Any] = field(default_factory=lambda: {"allowed": 0, "denied": 0, "unmapped": {}})
    denials: List[str] = field(default_factory=list)
    _issued: Dict[str, _Issued] = field(default_factory=dict)
    _keys: Dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _gate_state: Dict[str, str] = field(default_factory=dict)
    _uninstall: Optional[Callable[[], None]] = None

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.account_id, self.region)

    def snapshot(self) -> Dict[str, Any]:
        """A copy of ``stats`` (requests allowed and denied, unmapped actions with their counts)."""
        with self._lock:
            return {"allowed": self.stats["allowed"], "denied": self.stats["denied"],
                    "unmapped": dict(self.stats["unmapped"])}

    # -------------------------------------------------------------- credentials
    def credentials_for(self, fn) -> Dict[str, str]:
        """Environment variables with temporary credentials of ``fn``'s execution role (moto STS
        AssumeRole, session name = the function name, as Lambda does), reused until
        :data:`RENEW_MARGIN_SECONDS` before they expire."""
        key = f"{fn.role}|{fn.function_name}"
        with self._lock:
            issued = self._issued.get(key)
            if issued and issued.expires - time.time() > RENEW_MARGIN_SECONDS:
                return dict(issued.env)
            from moto.sts.models import sts_backends
            from moto.utilities.utils import get_partition

            backend = sts_backends[self.account_id][get_partition(self.region)]
            role = backend.assume_role(region_name=self.region, role_session_name=fn.function_name[:64],
                                       role_arn=fn.role, policy="", duration=CREDENTIAL_SECONDS, external_id="")
            env = {"AWS_ACCESS_KEY_ID": role.access_key_id, "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
                   "AWS_SESSION_TOKEN": role.session_token}
            self._issued[key] = _Issued(env, time.time() + CREDENTIAL_SECONDS)
            self._keys[role.access_key_id] = role
            return dict(env)

    def _assumed_role(self, access_key_id: str):
        role = self._keys.get(access_key_id)
        if role is not None:
            return role
        from moto.sts.models import sts_backends
        from moto.utilities.utils import get_partition

        for assumed in list(sts_backends[self.account_id][get_partition(self.region)].assumed_roles):
            if assumed.access_key_id == access_key_id:
                self._keys[access_key_id] = assumed
                return assumed
        return None

    # -------------------------------------------------------------- decisions
    def decide(self, role_arn: str, session: str, checks: List[Check]) -> Optional[Tuple[str, str, str, bool]]:
        """The first denied ``(principal, action, resource, explicit)`` of ``checks`` for the role,
        None when every check is allowed. A role that does not exist has no policies: denied."""
        role_name = role_arn.split("/")[-1]
        principal = f"arn:aws:sts::{self.account_id}:assumed-role/{role_name}/{session}"
        try:
            policies = role_policies(self.account_id, role_name)
        except Exception:
            policies = []
        for check in checks:
            for resource in check.resources:
                verdict = _evaluate_cached(tuple(policies), check.action, resource, check.context)
                if verdict != ALLOW:
                    return principal, check.action, resource, verdict == EXPLICIT_DENY
        return None

    def _record(self, message: str) -> None:
        with self._lock:
            self.stats["denied"] += 1
            self.denials.append(message)
            del self.denials[:-100]

    def authorize_request(self, response) -> None:
        """Check one moto request (a ``BaseResponse`` after ``setup_class``).

        Raises:
            AccessDenied: the request is signed with an assumed role's key and a check is denied.
        """
        match = _CREDENTIAL.search(response.headers.get("Authorization", "") or "")
        if not match:
            return
        role = self._assumed_role(match.group(1))
        if role is None:
            return
        service = _IAM_PREFIX.get(match.group(3), match.group(3))
        operation, params, json_protocol = request_view(response, service)
        checks = required_checks(service, operation, params, self.resolver, method=response.method,
                                 path=urlsplit(response.uri).path)
        for check in checks:
            if not check.mapped:
                with self._lock:
                    seen = self.stats["unmapped"].get(check.action, 0)
                    self.stats["unmapped"][check.action] = seen + 1
                if not seen:
                    log.warning("IAM: %s has no resource mapping: evaluated on '*'", check.action)
        denied = self.decide(role.role_arn, role.session_name, checks)
        if denied is None:
            with self._lock:
                self.stats["allowed"] += 1
            return
        principal, action, resource, explicit = denied
        message = denial_message(principal, action, resource, explicit)
        self._record(message)
        log.warning("IAM denied %s: %s", operation, message)
        raise access_denied(service, message, json_protocol)

    def event_source_gate(self, esm, fn, queue) -> bool:
        """Whether the SQS event source mapping may poll ``queue`` with ``fn``'s execution role:
        sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes on the queue and, when the queue
        has a customer managed key, kms:Decrypt on it via SQS (Lambda Developer Guide,
        "Using Lambda with Amazon SQS" → execution role permissions, with-sqs.html). Logs the denial
        once per mapping and reason, and when polling resumes."""
        checks = [_check(f"sqs:{a}", [queue.queue_arn]) for a in ("ReceiveMessage", "DeleteMessage",
                                                                     "GetQueueAttributes")]
        resolver = self.resolver
        checks += _kms_checks(resolver.kms_key_arn(getattr(queue, "kms_master_key_id", None) or ""),
                              ("kms:Decrypt",), "sqs", self.region)
        denied = self.decide(fn.role, fn.function_name, checks)
        previous = self._gate_state.get(esm.uuid, "")
        if denied is None:
            if previous:
                log.info("event source mapping %s: the execution role may read %s again; polling", esm.uuid,
                         queue.name)
                self._gate_state[esm.uuid] = ""
            return True
        message = denial_message(*denied)
        if message != previous:
            self._gate_state[esm.uuid] = message
            self._record(message)
            log.error("event source mapping %s: not polling %s: %s", esm.uuid, queue.name, message)
        return False

    # -------------------------------------------------------------- hook
    def install(self) -> "Enforcer":
        """Check every moto request from now on (see the module docstring); idempotent."""
        if self._uninstall is None:
            self._uninstall = install(self.authorize_request)
        return self

    def uninstall(self) -> None:
        if self._uninstall is not None:
            self._uninstall()
            self._uninstall = None


def request_view(response, service: str) -> Tuple[str, dict, bool]:
    """``(operation, params, json_protocol)`` of a moto request: the API operation name as the API
    spells it, its parameters (JSON body, else query/form values as first values), and whether it
    used a JSON protocol."""
    headers = response.headers
    target = headers.get("X-Amz-Target") or headers.get("x-amz-target") or ""
    body = getattr(response, "raw_body", None) or ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    body = body if isinstance(body, str) else ""
    params: dict = {}
    json_protocol = bool(target) or "json" in (headers.get("Content-Type") or "")
    if body.strip().startswith("{"):
        try:
            params = json.loads(body)
        except ValueError:
            params = {}
    if not params:
        params = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
                  for k, v in (getattr(response, "querystring", {}) or {}).items()}
    if target:
        operation = target.split(".")[-1]
    elif params.get("Action"):
        operation = str(params["Action"])
    else:
        operation = _rest_operation(response, service)
    return operation, params, json_protocol


_OPERATION_NAMES: Dict[str, Dict[str, str]] = {}


def _rest_operation(response, service: str) -> str:
    """A REST service's operation, from moto's action name (Batch: the path's first segment after
    ``/v1/``; its tag calls share ``/v1/tags/{arn}`` and differ by method)."""
    try:
        action = response._get_action() or ""
    except Exception:
        action = ""
    if service == "batch" and action == "tags":
        return {"POST": "TagResource", "DELETE": "UntagResource"}.get(response.method, "ListTagsForResource")
    names = _OPERATION_NAMES.get(service)
    if names is None:
        import botocore.session

        try:
            model = botocore.session.get_session().get_service_model(service)
            names = {n.lower(): n for n in model.operation_names}
        except Exception:
            names = {}
        _OPERATION_NAMES[service] = names
    return names.get(action.lower(), action)


def install(check: Callable[[Any], None]) -> Callable[[], None]:
    """Run ``check(response)`` before every moto request is answered (after moto's own, disabled,
    authentication step); an :class:`AccessDenied` it raises becomes the response. Returns a
    function that removes the hook."""
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def hooked(self, resource: str = "*") -> None:
        original(self, resource)
        try:
            check(self)
        except AccessDenied as denied:
            self.response_headers.update(denied.extra_headers)
            raise
        except Exception:  # an emulator bug must not pass for a missing permission: answer, and log it
            log.exception("IAM check failed on a request; answering it unchecked")

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = hooked

    def uninstall() -> None:
        if ActionAuthenticatorMixin._authenticate_and_authorize_normal_action is hooked:
            ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = original

    return uninstall
