output "arn" {
  description = "Job queue ARN."
  value       = try(aws_batch_job_queue.this[0].arn, null)
}

output "name" {
  description = "Job queue name."
  value       = try(aws_batch_job_queue.this[0].name, null)
}
