# Read by `spotkit chaos` and the tests through `terraform output -json`: keep these names.
output "job_queue_arn" {
  description = "ARN of the Spot job queue."
  value       = module.spotkit.job_queue_arn
}

output "job_queue_name" {
  description = "Name of the Spot job queue."
  value       = module.spotkit.job_queue_name
}

output "job_definition_arn" {
  description = "ARN (with revision) of the job definition."
  value       = module.spotkit.job_definition_arn
}

output "job_definition_name" {
  description = "Name of the job definition."
  value       = module.spotkit.job_definition_name
}

output "compute_environment_arn" {
  description = "ARN of the Spot compute environment."
  value       = module.spotkit.compute_environment_arn
}

output "compute_environment_name" {
  description = "Name of the Spot compute environment."
  value       = module.spotkit.compute_environment_name
}

output "on_demand_job_queue_arn" {
  description = "ARN of the on-demand job queue (null when absent)."
  value       = module.spotkit.on_demand_job_queue_arn
}

output "on_demand_job_queue_name" {
  description = "Name of the on-demand job queue (null when absent)."
  value       = module.spotkit.on_demand_job_queue_name
}

output "compute_environment_readable_name" {
  description = "Readable name of the Spot compute environment (its Name tag); compute_environment_name is the generated one."
  value       = module.spotkit.compute_environment_readable_name
}

output "on_demand_compute_environment_arn" {
  description = "ARN of the on-demand compute environment (null when absent)."
  value       = module.spotkit.on_demand_compute_environment_arn
}

output "on_demand_compute_environment_name" {
  description = "Name of the on-demand compute environment (null when absent)."
  value       = module.spotkit.on_demand_compute_environment_name
}

output "resubmit_function_name" {
  description = "Name of the resubmit function."
  value       = module.spotkit.resubmit_function_name
}

output "resubmit_rule_name" {
  description = "Name of the EventBridge rule that sends FAILED-job events to the resubmit events queue."
  value       = module.spotkit.resubmit_rule_name
}

output "resubmit_events_queue_url" {
  description = "URL of the resubmit events queue (EventBridge -> queue -> event source mapping -> function)."
  value       = module.spotkit.resubmit_events_queue_url
}

output "resubmit_event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the events queue to the resubmit function."
  value       = module.spotkit.resubmit_event_source_mapping_uuid
}

output "resubmit_dlq_url" {
  description = "URL of the resubmit dead-letter queue."
  value       = module.spotkit.resubmit_dlq_url
}

output "resubmit_fallback_job_queue_arn" {
  description = "Job queue the resubmit function falls back to after repeated Spot losses (the on-demand queue when compute.create_on_demand is true; null: none)."
  value       = module.spotkit.resubmit_fallback_job_queue_arn
}

output "idempotency_table_name" {
  description = "Name of the resubmit function's DynamoDB idempotency table (null when idempotency is off)."
  value       = module.spotkit.idempotency_table_name
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic."
  value       = module.spotkit.alert_topic_arn
}

output "ecs_cluster_arn" {
  description = "ARN of the ECS cluster behind the Spot compute environment."
  value       = module.spotkit.ecs_cluster_arn
}

output "compute_environment_allocation_strategy" {
  description = "Allocation strategy of the Spot compute environment (BEST_FIT: Spot Fleet; the others: EC2 Auto Scaling group)."
  value       = module.spotkit.compute_environment_allocation_strategy
}

output "chaos_fis_role_arn" {
  description = "ARN of the AWS FIS role the chaos experiment templates run with (null unless chaos.create)."
  value       = module.spotkit.chaos_fis_role_arn
}

output "chaos_spot_interruption_template_id" {
  description = "ID of the FIS experiment template \"spot-interruption\": `aws fis start-experiment --experiment-template-id <id>` (null unless chaos.create)."
  value       = module.spotkit.chaos_spot_interruption_template_id
}

output "chaos_terminate_instance_template_id" {
  description = "ID of the FIS experiment template \"terminate-instance\" (null unless chaos.create)."
  value       = module.spotkit.chaos_terminate_instance_template_id
}

output "chaos_opt_in_tag" {
  description = "The tag an instance must carry for the FIS experiments to act on it (set on the Spot compute environment's instances when chaos.opt_in)."
  value       = module.spotkit.chaos_opt_in_tag
}

output "chaos_stop_condition_alarm_arn" {
  description = "ARN of the alarm (resubmit DLQ not empty) that stops the FIS experiments (null unless chaos.create_stop_condition_alarm)."
  value       = module.spotkit.chaos_stop_condition_alarm_arn
}
