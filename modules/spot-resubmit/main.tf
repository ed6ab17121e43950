data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  create_alert_topic = var.create && var.create_alert_topic
  alert_topic_arn    = local.create_alert_topic ? aws_sns_topic.alerts[0].arn : var.alert_topic_arn

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
      var.restrict_to_job_queues ? { jobQueue = var.job_queue_arns } : {},
    )
  }

  # The contract with functions/resubmit/app.py. Plain text: no secrets here.
  lambda_environment = merge(var.environment_variables, {
    SPOTKIT_MAX_RESUBMISSIONS = tostring(var.max_resubmissions)
    SPOTKIT_ALERT_TOPIC_ARN   = local.alert_topic_arn == null ? "" : local.alert_topic_arn
    # Empty: no idempotency (a duplicate delivery of one FAILED event may resubmit twice).
    SPOTKIT_IDEMPOTENCY_TABLE       = local.idempotency_table_name == null ? "" : local.idempotency_table_name
    SPOTKIT_IDEMPOTENCY_TTL_SECONDS = tostring(var.idempotency_ttl_seconds)
    POWERTOOLS_SERVICE_NAME         = "spotkit-resubmit"
    POWERTOOLS_LOG_LEVEL            = var.log_level
  })
}

################################################################################
# Alert topic and dead-letter queue
################################################################################

resource "aws_sns_topic" "alerts" {
  count = local.create_alert_topic ? 1 : 0

  name              = "${var.name}-alerts"
  kms_master_key_id = var.alert_topic_kms_master_key_id
  tags              = var.tags
}

# Receives events EventBridge could not deliver to the function (after the target retry policy)
# and asynchronous invocations the function failed (after Lambda's own two retries).
resource "aws_sqs_queue" "dlq" {
  count = var.create ? 1 : 0

  name                      = "${var.name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  kms_master_key_id         = var.dlq_kms_master_key_id
  tags                      = var.tags
}

data "aws_iam_policy_document" "dlq" {
  count = var.create ? 1 : 0

  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[0].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.failed[0].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  count = var.create ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id
  policy    = data.aws_iam_policy_document.dlq[0].json
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
    resources = concat(var.job_queue_arns, local.job_definition_resources)
  }

  statement {
    sid       = "TagResubmittedJobs"
    actions   = ["batch:TagResource"]
    resources = ["arn:${local.partition}:batch:${local.region}:${local.account_id}:job/*"]
  }

  # DescribeJobs supports no resource-level permissions: "*" is the only valid resource.
  statement {
    sid       = "DescribeJobs"
    actions   = ["batch:DescribeJobs"]
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

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[0].arn]
  }

  # The topic, queue and idempotency table are encrypted with KMS; keys are only usable through
  # those services (a customer managed key's own policy must allow the role too).
  statement {
    sid       = "EncryptedTopicQueueAndTable"
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

  # Note: moto (the local emulator's base) does not store DeadLetterConfig, so against the
  # emulator every plan shows this block as an in-place change. AWS stores it; no diff there.
  dead_letter_config {
    target_arn = aws_sqs_queue.dlq[0].arn
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}

################################################################################
# EventBridge: every FAILED Batch job -> the function
################################################################################

resource "aws_cloudwatch_event_rule" "failed" {
  count = var.create ? 1 : 0

  name          = "${var.name}-failed"
  description   = "AWS Batch jobs that reached FAILED (${var.name} decides which were lost to Spot)"
  event_pattern = jsonencode(local.event_pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "lambda" {
  count = var.create ? 1 : 0

  rule      = aws_cloudwatch_event_rule.failed[0].name
  target_id = "resubmit"
  arn       = aws_lambda_function.this[0].arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_max_age_seconds
    maximum_retry_attempts       = var.event_max_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq[0].arn
  }
}

resource "aws_lambda_permission" "events" {
  count = var.create ? 1 : 0

  statement_id  = "AllowEventBridge"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.failed[0].arn
}
