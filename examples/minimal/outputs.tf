output "job_queue_arn" {
  description = "ARN of the Spot job queue to submit jobs to."
  value       = module.spotkit.job_queue_arn
}

output "job_definition_arn" {
  description = "ARN of the job definition, with revision."
  value       = module.spotkit.job_definition_arn
}

output "compute_environment_name" {
  description = "Name of the Spot compute environment (generated; read from its ARN)."
  value       = module.spotkit.compute_environment_name
}

output "compute_environment_readable_name" {
  description = "Readable name of the Spot compute environment (its Name tag)."
  value       = module.spotkit.compute_environment_readable_name
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic (subscribe to it: DLQ, budget-exhausted and RUNNABLE-timeout alerts)."
  value       = module.spotkit.alert_topic_arn
}
