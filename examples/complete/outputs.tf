output "job_queue_arn" {
  description = "ARN of the Spot job queue to submit jobs to."
  value       = module.spotkit.job_queue_arn
}

output "on_demand_job_queue_arn" {
  description = "ARN of the on-demand job queue (the resubmit fallback)."
  value       = module.spotkit.on_demand_job_queue_arn
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

output "on_demand_compute_environment_name" {
  description = "Name of the on-demand compute environment (generated; read from its ARN)."
  value       = module.spotkit.on_demand_compute_environment_name
}

output "resubmit_fallback_job_queue_arn" {
  description = "Queue the resubmit function falls back to after fallback_after_spot_losses Spot losses of one lineage."
  value       = module.spotkit.resubmit_fallback_job_queue_arn
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic (subscribe to it: DLQ, budget-exhausted and RUNNABLE-timeout alerts)."
  value       = module.spotkit.alert_topic_arn
}

output "chaos_spot_interruption_template_id" {
  description = "FIS experiment template sending a Spot interruption to one opted-in instance: aws fis start-experiment --experiment-template-id <id>."
  value       = module.spotkit.chaos_spot_interruption_template_id
}

output "chaos_terminate_instance_template_id" {
  description = "FIS experiment template terminating one opted-in instance."
  value       = module.spotkit.chaos_terminate_instance_template_id
}

output "chaos_stop_condition_alarm_arn" {
  description = "ARN of the alarm (resubmit DLQ not empty) that stops the experiments."
  value       = module.spotkit.chaos_stop_condition_alarm_arn
}
