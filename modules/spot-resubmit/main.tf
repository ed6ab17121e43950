data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # The data source's id is the Region name on hashicorp/aws 5.x and 6.x; its `name` attribute is
  # deprecated in 6.x (replaced by `region`, which 5.x lacks).
  region     = data.aws_region.current.id
  account_id = data.aws_caller_identity.current.account_id

  create_alert_topic = var.create && var.create_alert_topic
  alert_topic_arn    = local.create_alert_topic ? aws_sns_topic.alerts[0].arn : var.alert_topic_arn

  # One customer managed key for both queues (and the created alert topic) unless one is passed
  # in. Not AWS managed alias/aws/sqs: EventBridge sends to the events queue and the DLQ as the
  # events.amazonaws.com service principal, and an AWS managed key's policy cannot grant that, so
  # every delivery (and every dead letter) would fail.
  create_kms_key = var.create && var.create_kms_key
  kms_key_arn    = local.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  dlq_kms_key_id = var.dlq_kms_master_key_id != null ? var.dlq_kms_master_key_id : local.kms_key_arn
  alert_topic_kms_key_id = (
    var.alert_topic_kms_master_key_id != null ? var.alert_topic_kms_master_key_id :
    local.kms_key_arn != null ? local.kms_key_arn : "alias/aws/sns"
  )

  # Names and ARNs built from inputs, not from resource attributes, where a policy needs them
  # before the resource exists (the key policy names the queues and alarms that use the key).
  rule_name          = "${var.name}-failed"
  runnable_rule_name = "${var.name}-runnable-timeout"
  runnable_rule_arn  = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.runnable_rule_name}"
  # the created alert topic's ARN, before it exists (the key policy that encrypts it names it)
  alert_topic_arn_built = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${var.name}-alerts"
  rule_arn              = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.rule_name}"
  events_queue_name     = "${var.name}-events"
  dlq_name              = "${var.name}-dlq"
  queue_arn_prefix      = "arn:${local.partition}:sqs:${local.region}:${local.account_id}"
  alarm_arn_pattern     = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*"

  # spotkit's decision events (functions/resubmit/publish.py): "" turns them off; a bus ARN is used
  # as given, a name is the bus of this account and Region.
  decision_event_bus = var.decision_event_bus_name == null ? "" : var.decision_event_bus_name
  decision_event_bus_arn = (local.decision_event_bus == "" ? null :
    startswith(local.decision_event_bus, "arn:") ? local.decision_event_bus :
  "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${local.decision_event_bus}")

  # AWS recommends a visibility timeout of at least six times the function timeout, so a batch
  # throttled behind an earlier one is not redelivered while it waits; the batching window holds
  # received messages too. Lambda Developer Guide, "Creating and configuring an Amazon SQS event
  # source mapping".
  events_visibility_timeout_seconds = 6 * var.lambda_timeout + var.maximum_batching_window_seconds

  fallback_job_queue_arns = var.fallback_job_queue_arn == null ? [] : [var.fallback_job_queue_arn]
  # Every queue a lineage may run in: the rule watches them and the function may submit to them.
  all_job_queue_arns = distinct(concat(var.job_queue_arns, local.fallback_job_queue_arns))

  log_group_name = "/aws/lambda/${var.name}"

  # Idempotency table: created here, or an existing one passed by name, or none (empty name).
  create_idempotency_table = var.create && var.create_idempotency_table
  idempotency_table_name   = local.create_idempotency_table ? aws_dynamodb_table.idempotency[0].name : var.idempotency_table_name
  idempotency_table_arn = (
    local.create_idempotency_table ? aws_dynamodb_table.idempotency[0].arn :
    var.idempotency_table_name == null ? null :
    "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.idempotency_table_name}"
  )

  # SubmitJob is authorised against the job definition ARN as submitted: with a revision
  # (".../name:3") or without (".../name"). Allow both forms for every revision.
  job_definitions_unversioned = distinct([for a in var.job_definition_arns : replace(a, "/:[0-9]+$/", "")])
  job_definition_resources    = concat(local.job_definitions_unversioned, [for a in local.job_definitions_unversioned : "${a}:*"])

  # https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html
  event_pattern = {
    source      = ["aws.batch"]
    detail-type = ["Batch Job State Change"]
    detail = merge(
      { status = ["FAILED"] },
      var.restrict_to_job_queues ? { jobQueue = local.all_job_queue_arns } : {},
    )
  }

  # The contract with functions/resubmit/app.py. Plain text: no secrets here.
  lambda_environment = merge(var.environment_variables, {
    SPOTKIT_MAX_RESUBMISSIONS = tostring(var.max_resubmissions)
    SPOTKIT_ALERT_TOPIC_ARN   = local.alert_topic_arn == null ? "" : local.alert_topic_arn
    # Empty: no idempotency (a duplicate delivery of one FAILED event may resubmit twice).
    SPOTKIT_IDEMPOTENCY_TABLE       = local.idempotency_table_name == null ? "" : local.idempotency_table_name
    SPOTKIT_IDEMPOTENCY_TTL_SECONDS = tostring(var.idempotency_ttl_seconds)
    # Empty: every resubmission goes back to the job's own queue.
    SPOTKIT_FALLBACK_JOB_QUEUE    = var.fallback_job_queue_arn == null ? "" : var.fallback_job_queue_arn
    SPOTKIT_FALLBACK_AFTER_LOSSES = tostring(var.fallback_after_spot_losses)
    # Per-invocation share of the SubmitJob budget; "0": unpaced (backoff on throttling only).
    SPOTKIT_SUBMIT_JOB_RATE = (var.submit_job_rate_per_second == 0 || var.maximum_concurrency == null ? "0" :
    tostring(var.submit_job_rate_per_second / var.maximum_concurrency))
    # Where the decision events go (PutEvents, source "spotkit"); "" = not published.
    SPOTKIT_DECISION_EVENT_BUS = local.decision_event_bus
    # The service name is the `service` dimension of every metric the alarms read.
    POWERTOOLS_SERVICE_NAME      = var.name
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
  })
}

################################################################################
# Customer managed key for the queues and the alert topic
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
################################################################################

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy, not an IAM policy: Resource "*" in a key policy means this key only. The kms:* statement is AWS's default key policy statement for the account root (access is then decided by IAM policies); the two service statements allow only GenerateDataKey/Decrypt, bound to this rule, these queues and this account's alarms by conditions.
  #checkov:skip=CKV_AWS_111:A key policy, not an IAM policy: Resource "*" in a key policy means this key only. The kms:* statement is AWS's default key policy statement for the account root (access is then decided by IAM policies); the two service statements allow only GenerateDataKey/Decrypt, bound to this rule, these queues and this account's alarms by conditions.
  #checkov:skip=CKV_AWS_356:A key policy, not an IAM policy: Resource "*" in a key policy means this key only (a key policy cannot name another resource).
  count = local.create_kms_key ? 1 : 0

  # The account decides through IAM policies (the function's role, operators, Terraform itself).
  statement {
    sid       = "AccountIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # EventBridge encrypts what it sends to the events queue and to the DLQ: only for this module's
  # rules, and only for these two queues (SQS puts the queue ARN in the encryption context).
  statement {
    sid       = "EventBridgeToTheQueues"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.create_runnable_alert ? [local.rule_arn, local.runnable_rule_arn] : [local.rule_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:sqs:arn"
      values   = ["${local.queue_arn_prefix}:${local.events_queue_name}", "${local.queue_arn_prefix}:${local.dlq_name}"]
    }
  }

  # EventBridge publishes the RUNNABLE-timeout alert to the (encrypted) alert topic: that rule only.
  dynamic "statement" {
    for_each = local.create_runnable_alert ? [1] : []
    content {
      sid       = "EventBridgeToTheAlertTopic"
      actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [local.runnable_rule_arn]
      }
      # SNS encrypts with the topic's ARN as encryption context (the shape AWS's own examples of a
      # service publishing to an encrypted topic use: Amazon GameLift FlexMatch guide, "Set up an
      # SNS topic with server-side encryption").
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:aws:sns:topicArn"
        values   = [local.alert_topic_arn_built]
      }
    }
  }

  # CloudWatch publishes alarm notifications to the (encrypted) alert topic: this module's alarms only.
  statement {
    sid       = "CloudWatchAlarmsToTheAlertTopic"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarm_arn_pattern]
    }
  }
}

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "Encrypts the events queue, DLQ and alert topic of ${var.name}"
  enable_key_rotation     = var.kms_key_enable_rotation
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# Alert topic
################################################################################

resource "aws_sns_topic" "alerts" {
  count = local.create_alert_topic ? 1 : 0

  name              = "${var.name}-alerts"
  kms_master_key_id = local.alert_topic_kms_key_id
  tags              = var.tags
}

################################################################################
# Queues: EventBridge -> "<name>-events" -> (max_receive_count receives) -> "<name>-dlq"
################################################################################

# Receives events EventBridge could not deliver to the events queue (after the target retry
# policy), events the function failed max_receive_count times (redrive), and direct asynchronous
# invocations the function failed (its dead-letter config).
resource "aws_sqs_queue" "dlq" {
  count = var.create ? 1 : 0

  name                      = local.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  kms_master_key_id         = local.dlq_kms_key_id
  tags                      = var.tags
}

# Buffers FAILED-job events between EventBridge and the function, so bursts (a mass Spot reclaim)
# are absorbed here and consumed in batches at the event source mapping's pace.
resource "aws_sqs_queue" "events" {
  count = var.create ? 1 : 0

  name                       = local.events_queue_name
  visibility_timeout_seconds = local.events_visibility_timeout_seconds
  message_retention_seconds  = var.events_message_retention_seconds
  kms_master_key_id          = local.kms_key_arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[0].arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

# EventBridge sends as the events.amazonaws.com service principal: allow this rule only.
data "aws_iam_policy_document" "queue" {
  for_each = var.create ? { events = local.events_queue_name, dlq = local.dlq_name } : {}

  statement {
    sid       = "EventBridgeFromTheRule"
    actions   = ["sqs:SendMessage"]
    resources = ["${local.queue_arn_prefix}:${each.value}"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      # The DLQ also takes what the RUNNABLE-timeout rule could not deliver to the alert topic.
      values = each.key == "dlq" && local.create_runnable_alert ? [aws_cloudwatch_event_rule.failed[0].arn, local.runnable_rule_arn] : [aws_cloudwatch_event_rule.failed[0].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  count = var.create ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id
  policy    = data.aws_iam_policy_document.queue["dlq"].json
}

resource "aws_sqs_queue_policy" "events" {
  count = var.create ? 1 : 0

  queue_url = aws_sqs_queue.events[0].id
  policy    = data.aws_iam_policy_document.queue["events"].json
}

################################################################################
# Idempotency table: one item per failed job id, so a redelivered FAILED event resubmits once.
# Item layout is Powertools for AWS Lambda's (id, expiration, status, data, in_progress_expiration).
# https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/
################################################################################

resource "aws_dynamodb_table" "idempotency" {
  count = local.create_idempotency_table ? 1 : 0

  name         = coalesce(var.idempotency_table_name, "${var.name}-idempotency")
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  # DynamoDB deletes expired items within days, not at once: Powertools also compares
  # `expiration` itself, so an expired item that still exists counts as absent.
  ttl {
    attribute_name = "expiration"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.idempotency_table_kms_key_arn
  }

  point_in_time_recovery {
    enabled = var.idempotency_table_point_in_time_recovery
  }

  tags = var.tags
}

################################################################################
# IAM role of the function, scoped to the resources it touches
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbatch.html
################################################################################

data "aws_iam_policy_document" "assume" {
  count = var.create ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  count = var.create ? 1 : 0

  name                 = "${var.name}-lambda"
  path                 = var.iam_role_path
  description          = "Resubmits AWS Batch jobs lost to Spot reclaims (${var.name})"
  assume_role_policy   = data.aws_iam_policy_document.assume[0].json
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "lambda" {
  count = var.create ? 1 : 0

  statement {
    sid       = "ResubmitToKnownQueuesAndDefinitions"
    actions   = ["batch:SubmitJob"]
    resources = concat(local.all_job_queue_arns, local.job_definition_resources)
  }

  # SubmitJob with tags (the lineage tag is always there) is also authorized as batch:TagResource,
  # on the job and on the job definition revision: AWS has answered "is not authorized to perform:
  # batch:TagResource on resource: ...:job-definition/<name>:<revision>" to a tagged SubmitJob
  # (wri/gfw-data-api#175). The emulator checks both.
  statement {
    sid       = "TagResubmittedJobs"
    actions   = ["batch:TagResource"]
    resources = concat(["arn:${local.partition}:batch:${local.region}:${local.account_id}:job/*"], local.job_definition_resources)
  }

  # DescribeJobs (the failed jobs and their array parents: tags, lineage, timeout -- AWS's events
  # carry none of them), ListJobs (on a redelivered record, find the submission whose response was
  # lost) and DescribeJobDefinitions (a deregistered revision: find the latest ACTIVE one) support
  # no resource-level permissions: "*" is the only valid resource (Service Authorization Reference,
  # AWS Batch).
  statement {
    sid       = "DescribeAndListJobs"
    actions   = ["batch:DescribeJobs", "batch:ListJobs", "batch:DescribeJobDefinitions"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.alert_topic_arn == null ? [] : [local.alert_topic_arn]
    content {
      sid       = "PublishAlerts"
      actions   = ["sns:Publish"]
      resources = [statement.value]
    }
  }

  # One PutEvents per batch of records: the decision events (source "spotkit").
  dynamic "statement" {
    for_each = local.decision_event_bus_arn == null ? [] : [local.decision_event_bus_arn]
    content {
      sid       = "PublishDecisionEvents"
      actions   = ["events:PutEvents"]
      resources = [statement.value]
    }
  }

  # Powertools reads, claims (conditional put), completes and, when the submission raises,
  # releases the idempotency record. No Scan/Query: every access is by key.
  dynamic "statement" {
    for_each = local.idempotency_table_arn == null ? [] : [local.idempotency_table_arn]
    content {
      sid       = "IdempotencyRecords"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = [statement.value]
    }
  }

  # The event source mapping polls the events queue with the function's role.
  statement {
    sid = "ConsumeEventsQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [aws_sqs_queue.events[0].arn]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[0].arn]
  }

  # The queues (the module's key by default), topic and idempotency table are encrypted with KMS;
  # keys are only usable through those services. The module's key delegates to IAM (its root
  # statement), so this statement is what lets the role read the events queue and write the DLQ;
  # a key passed in must allow the role in its own policy or delegate to IAM the same way.
  statement {
    sid       = "EncryptedQueuesTopicAndTable"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = concat(
        ["sns.${local.region}.amazonaws.com", "sqs.${local.region}.amazonaws.com"],
        local.idempotency_table_arn == null ? [] : ["dynamodb.${local.region}.amazonaws.com"],
      )
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[0].arn}:*"]
  }

  # X-Ray has no resource-level permissions either.
  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid       = "XRay"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  count = var.create ? 1 : 0

  name   = "resubmit"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.lambda[0].json
}

################################################################################
# Function
################################################################################

resource "aws_cloudwatch_log_group" "lambda" {
  count = var.create ? 1 : 0

  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function calls only public AWS APIs (Batch, DynamoDB, SNS, SQS, CloudWatch) and reaches no private resource; a VPC would add NAT or endpoint cost and a failure mode with no data path to protect.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly by spotkit package from the reviewed commit and Terraform deploys exactly that file (source_code_hash pins it); Lambda code signing needs an AWS Signer profile and signed S3 objects, a deploy path the kit does not use.
  count = var.create ? 1 : 0

  function_name    = var.name
  description      = "Resubmits AWS Batch jobs that failed because their Spot host was reclaimed"
  role             = aws_iam_role.lambda[0].arn
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = var.lambda_handler
  runtime          = var.lambda_runtime
  timeout          = var.lambda_timeout
  memory_size      = var.lambda_memory_mib
  kms_key_arn      = var.lambda_kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrent_executions == null ? -1 : var.reserved_concurrent_executions

  environment {
    variables = local.lambda_environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  # Only direct asynchronous invocations use it: the event source mapping invokes synchronously
  # and failed records go back to the events queue, then to the DLQ by its redrive policy.
  dead_letter_config {
    target_arn = aws_sqs_queue.dlq[0].arn
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}

################################################################################
# EventBridge: every FAILED Batch job -> the events queue
################################################################################

resource "aws_cloudwatch_event_rule" "failed" {
  count = var.create ? 1 : 0

  name          = local.rule_name
  description   = "AWS Batch jobs that reached FAILED (${var.name} decides which were lost to Spot)"
  event_pattern = jsonencode(local.event_pattern)
  tags          = var.tags
}

# A new target ID (the Lambda target was "resubmit"): Terraform creates this target before it
# destroys the old one, and a shared ID would let that destroy remove the new target.
resource "aws_cloudwatch_event_target" "events_queue" {
  count = var.create ? 1 : 0

  rule      = aws_cloudwatch_event_rule.failed[0].name
  target_id = "resubmit-queue"
  arn       = aws_sqs_queue.events[0].arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_max_age_seconds
    maximum_retry_attempts       = var.event_max_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq[0].arn
  }

  depends_on = [aws_sqs_queue_policy.events, aws_sqs_queue_policy.dlq]
}

################################################################################
# Event source mapping: events queue -> function, in batches, with partial batch responses
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
################################################################################

resource "aws_lambda_event_source_mapping" "this" {
  count = var.create ? 1 : 0

  event_source_arn                   = aws_sqs_queue.events[0].arn
  function_name                      = aws_lambda_function.this[0].arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_seconds
  enabled                            = var.event_source_mapping_enabled
  # The function returns the records it could not handle (batchItemFailures); only those go
  # back to the queue, and after max_receive_count receives to the DLQ.
  function_response_types = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = var.maximum_concurrency == null ? [] : [var.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.batch_size <= 10 || var.maximum_batching_window_seconds >= 1
      error_message = "maximum_batching_window_seconds must be at least 1 when batch_size is above 10 (AWS Lambda rule for SQS event sources)."
    }
  }

  # AWS checks, when the mapping is created, that the function's role may read the queue.
  depends_on = [aws_iam_role_policy.lambda]
}

################################################################################
# RUNNABLE timeouts -> the alert topic
#
# A job that Batch cancelled after runnable_time_limit_actions (modules/job-queue) ends FAILED with
# statusReason "Canceled by JobStateTimeLimit action due to reason: <reason>". It was never lost to
# Spot, so the function does not resubmit it: somebody has to know.
# https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html
################################################################################

locals {
  create_runnable_alert = var.create && var.alert_on_runnable_timeout && (local.create_alert_topic || var.alert_topic_arn != null)
}

resource "aws_cloudwatch_event_rule" "runnable_timeout" {
  count = local.create_runnable_alert ? 1 : 0

  name        = local.runnable_rule_name
  description = "Jobs of ${var.name}'s queues cancelled by a job queue's RUNNABLE time limit (no capacity, or a compute environment that cannot run them)"
  event_pattern = jsonencode({
    source      = ["aws.batch"]
    detail-type = ["Batch Job State Change"]
    detail = merge(
      { status = ["FAILED"], statusReason = [{ prefix = "Canceled by JobStateTimeLimit action" }] },
      var.restrict_to_job_queues ? { jobQueue = local.all_job_queue_arns } : {},
    )
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "runnable_timeout" {
  count = local.create_runnable_alert ? 1 : 0

  rule      = aws_cloudwatch_event_rule.runnable_timeout[0].name
  target_id = "alert-topic"
  arn       = local.alert_topic_arn

  input_transformer {
    input_paths = {
      job    = "$.detail.jobName"
      id     = "$.detail.jobId"
      queue  = "$.detail.jobQueue"
      reason = "$.detail.statusReason"
    }
    input_template = "\"spotkit: job <job> (<id>) in <queue> was cancelled while RUNNABLE: <reason>. It was not resubmitted.\""
  }

  retry_policy {
    maximum_event_age_in_seconds = var.event_max_age_seconds
    maximum_retry_attempts       = var.event_max_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq[0].arn
  }

  lifecycle {
    precondition {
      # EventBridge cannot publish to a topic encrypted with the AWS managed key alias/aws/sns: its
      # key policy cannot be changed to let events.amazonaws.com use it.
      condition     = local.alert_topic_kms_key_id != "alias/aws/sns" || !local.create_alert_topic
      error_message = "alert_on_runnable_timeout needs the alert topic encrypted with a customer managed key (create_kms_key, kms_key_arn or alert_topic_kms_master_key_id), or set alert_on_runnable_timeout = false."
    }
  }

  # the topic and the DLQ accept this rule's deliveries before it can send any
  depends_on = [aws_sns_topic_policy.alerts, aws_sqs_queue_policy.dlq]
}

# The created alert topic accepts the rule's notifications (a topic passed in needs the same
# statement in its own policy).
data "aws_iam_policy_document" "alert_topic" {
  count = local.create_runnable_alert && local.create_alert_topic ? 1 : 0

  statement {
    sid       = "EventBridgeRunnableTimeouts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts[0].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.runnable_rule_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # SNS's default topic policy statement (the one a topic has until a policy is set): principals of
  # the owning account may manage, subscribe to and publish to it. SNS Developer Guide, "Example
  # cases for Amazon SNS access control".
  statement {
    sid = "OwningAccount"
    actions = ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:AddPermission", "sns:RemovePermission",
    "sns:DeleteTopic", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:Publish"]
    resources = [aws_sns_topic.alerts[0].arn]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceOwner"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  count = local.create_runnable_alert && local.create_alert_topic ? 1 : 0

  arn    = aws_sns_topic.alerts[0].arn
  policy = data.aws_iam_policy_document.alert_topic[0].json
}

################################################################################
# Alarms, notifying the alert topic
################################################################################

locals {
  create_alarms = var.create && var.create_alarms
  alarm_actions = local.alert_topic_arn == null ? [] : [local.alert_topic_arn]
}

# Anything in the DLQ is a FAILED job nobody looked at: an event EventBridge could not deliver,
# or a record the function failed max_receive_count times.
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  count = local.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-dlq-not-empty"
  alarm_description   = "FAILED-job events in ${local.dlq_name}: the resubmit pipeline gave up on them. Inspect, fix, then redrive or delete."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[0].name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# The function emits `budget-exhausted` when a lineage has used max_resubmissions: that job is
# not coming back by itself.
resource "aws_cloudwatch_metric_alarm" "budget_exhausted" {
  count = local.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-budget-exhausted"
  alarm_description   = "A job lost its Spot host after ${var.max_resubmissions} resubmissions and was not resubmitted again (see the alert topic for the lineage)."
  namespace           = var.metrics_namespace
  metric_name         = "budget-exhausted"
  dimensions          = { service = var.name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# Decision events that PutEvents did not take after retries: subscribers (notifications, users'
# rules) missed them. The resubmissions themselves happened.
resource "aws_cloudwatch_metric_alarm" "decision_events_failed" {
  count = local.create_alarms && local.decision_event_bus_arn != null ? 1 : 0

  alarm_name          = "${var.name}-decision-events-failed"
  alarm_description   = "spotkit decision events were not published to ${local.decision_event_bus} (logged by the function with the job ids): notifications and subscribers missed them."
  namespace           = var.metrics_namespace
  metric_name         = "decision-events-failed"
  dimensions          = { service = var.name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# A backlog: the function is throttled, failing, or the mapping is disabled.
resource "aws_cloudwatch_metric_alarm" "events_backlog" {
  count = local.create_alarms && var.events_oldest_message_alarm_seconds > 0 ? 1 : 0

  alarm_name          = "${var.name}-events-backlog"
  alarm_description   = "The oldest FAILED-job event in ${local.events_queue_name} has waited at least ${var.events_oldest_message_alarm_seconds} s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.events[0].name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.events_oldest_message_alarm_seconds
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
