output "arn" {
  description = "Job definition ARN including the revision (arn:...:job-definition/<name>:<revision>)."
  value       = try(aws_batch_job_definition.this[0].arn, null)
}

output "arn_without_revision" {
  description = "Job definition ARN without the revision (arn:...:job-definition/<name>)."
  value       = try(regex("^(.*):[0-9]+$", aws_batch_job_definition.this[0].arn)[0], null)
}

output "name" {
  description = "Job definition name."
  value       = try(aws_batch_job_definition.this[0].name, null)
}

output "revision" {
  description = "Job definition revision."
  value       = try(aws_batch_job_definition.this[0].revision, null)
}
