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

output "dlq_url" {
  description = "URL of the dead-letter queue (undelivered events and failed invocations)."
  value       = try(aws_sqs_queue.dlq[0].id, null)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
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
