output "function_name" {
  description = "Name of the resubmit function."
  value       = try(aws_lambda_function.this[0].function_name, null)
}

output "function_arn" {
  description = "ARN of the resubmit function."
  value       = try(aws_lambda_function.this[0].arn, null)
}

output "rule_name" {
  description = "Name of the EventBridge rule matching FAILED Batch jobs."
  value       = try(aws_cloudwatch_event_rule.failed[0].name, null)
}

output "rule_arn" {
  description = "ARN of the EventBridge rule matching FAILED Batch jobs."
  value       = try(aws_cloudwatch_event_rule.failed[0].arn, null)
}

output "events_queue_url" {
  description = "URL of the events queue (\"<name>-events\") the rule sends FAILED-job events to and the function consumes."
  value       = try(aws_sqs_queue.events[0].id, null)
}

output "events_queue_arn" {
  description = "ARN of the events queue."
  value       = try(aws_sqs_queue.events[0].arn, null)
}

output "dlq_url" {
  description = "URL of the dead-letter queue (events EventBridge could not deliver, records the function failed max_receive_count times, failed direct invocations)."
  value       = try(aws_sqs_queue.dlq[0].id, null)
}

output "dlq_name" {
  description = "Name of the dead-letter queue (e.g. the dimension of an alarm on it)."
  value       = try(aws_sqs_queue.dlq[0].name, null)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the events queue (created or passed in; null when the queues are not KMS-encrypted)."
  value       = var.create ? local.kms_key_arn : null
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping, e.g. for `aws lambda get-event-source-mapping --uuid`."
  value       = try(aws_lambda_event_source_mapping.this[0].uuid, null)
}

output "alarm_names" {
  description = "Names of the created CloudWatch alarms, by purpose (dlq_not_empty, budget_exhausted, events_backlog, decision_events_failed); empty without alarms."
  value = { for k, v in {
    dlq_not_empty          = try(aws_cloudwatch_metric_alarm.dlq_not_empty[0].alarm_name, null)
    budget_exhausted       = try(aws_cloudwatch_metric_alarm.budget_exhausted[0].alarm_name, null)
    events_backlog         = try(aws_cloudwatch_metric_alarm.events_backlog[0].alarm_name, null)
    decision_events_failed = try(aws_cloudwatch_metric_alarm.decision_events_failed[0].alarm_name, null)
  } : k => v if v != null }
}

output "alarm_arns" {
  description = "ARNs of the created CloudWatch alarms, by purpose (same keys as alarm_names)."
  value = { for k, v in {
    dlq_not_empty          = try(aws_cloudwatch_metric_alarm.dlq_not_empty[0].arn, null)
    budget_exhausted       = try(aws_cloudwatch_metric_alarm.budget_exhausted[0].arn, null)
    events_backlog         = try(aws_cloudwatch_metric_alarm.events_backlog[0].arn, null)
    decision_events_failed = try(aws_cloudwatch_metric_alarm.decision_events_failed[0].arn, null)
  } : k => v if v != null }
}

output "fallback_job_queue_arn" {
  description = "Job queue the function falls back to after fallback_after_spot_losses Spot losses of a lineage (null: none)."
  value       = var.create ? var.fallback_job_queue_arn : null
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic in use (created or passed in)."
  value       = var.create ? local.alert_topic_arn : null
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = try(aws_iam_role.lambda[0].arn, null)
}

output "log_group_name" {
  description = "Name of the function's CloudWatch Logs log group."
  value       = try(aws_cloudwatch_log_group.lambda[0].name, null)
}

output "idempotency_table_name" {
  description = "Name of the DynamoDB idempotency table in use (created or passed in; null when idempotency is off)."
  value       = var.create ? local.idempotency_table_name : null
}

output "idempotency_table_arn" {
  description = "ARN of the DynamoDB idempotency table in use (null when idempotency is off)."
  value       = var.create ? local.idempotency_table_arn : null
}

output "runnable_timeout_rule_name" {
  description = "Name of the EventBridge rule that announces RUNNABLE-time-limit cancellations on the alert topic (null when not created)."
  value       = try(aws_cloudwatch_event_rule.runnable_timeout[0].name, null)
}

output "decision_event_bus_name" {
  description = "Event bus the function publishes its decision events to (source \"spotkit\"); null when publishing is off."
  value       = var.create && local.decision_event_bus != "" ? local.decision_event_bus : null
}
