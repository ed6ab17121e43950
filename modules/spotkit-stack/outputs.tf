output "job_queue_arn" {
  description = "ARN of the Spot job queue."
  value       = module.spot_queue.arn
}

output "job_queue_name" {
  description = "Name of the Spot job queue."
  value       = module.spot_queue.name
}

output "on_demand_job_queue_arn" {
  description = "ARN of the on-demand job queue (null when compute.create_on_demand is false)."
  value       = module.on_demand_queue.arn
}

output "on_demand_job_queue_name" {
  description = "Name of the on-demand job queue (null when compute.create_on_demand is false)."
  value       = module.on_demand_queue.name
}

output "job_definition_arn" {
  description = "ARN of the job definition, with revision."
  value       = module.job_definition.arn
}

output "job_definition_name" {
  description = "Name of the job definition."
  value       = module.job_definition.name
}

output "compute_environment_arn" {
  description = "ARN of the Spot compute environment."
  value       = module.compute.spot_compute_environment_arn
}

output "compute_environment_name" {
  description = "Name of the Spot compute environment."
  value       = module.compute.spot_compute_environment_name
}

output "compute_environment_readable_name" {
  description = "Readable name of the Spot compute environment (its Name tag, and the spotkit:compute-environment tag of its instances); the name itself is generated."
  value       = module.compute.spot_compute_environment_readable_name
}

output "on_demand_compute_environment_arn" {
  description = "ARN of the on-demand compute environment (null when not created)."
  value       = module.compute.on_demand_compute_environment_arn
}

output "on_demand_compute_environment_name" {
  description = "Name of the on-demand compute environment (null when not created)."
  value       = module.compute.on_demand_compute_environment_name
}

output "ecs_cluster_arn" {
  description = "ARN of the ECS cluster behind the Spot compute environment."
  value       = module.compute.spot_ecs_cluster_arn
}

output "compute_environment_allocation_strategy" {
  description = "Allocation strategy of the Spot compute environment (BEST_FIT: Spot Fleet; the others: EC2 Auto Scaling group)."
  value       = module.compute.spot_allocation_strategy
}

output "spot_fleet_role_arn" {
  description = "ARN of the Spot Fleet role (null unless the allocation strategy is BEST_FIT)."
  value       = module.compute.spot_fleet_role_arn
}

output "resubmit_function_name" {
  description = "Name of the resubmit function."
  value       = module.resubmit.function_name
}

output "resubmit_function_arn" {
  description = "ARN of the resubmit function."
  value       = module.resubmit.function_arn
}

output "resubmit_rule_name" {
  description = "Name of the EventBridge rule that sends FAILED-job events to the resubmit events queue."
  value       = module.resubmit.rule_name
}

output "resubmit_events_queue_url" {
  description = "URL of the resubmit events queue (EventBridge -> queue -> function)."
  value       = module.resubmit.events_queue_url
}

output "resubmit_events_queue_arn" {
  description = "ARN of the resubmit events queue."
  value       = module.resubmit.events_queue_arn
}

output "resubmit_event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the events queue to the resubmit function."
  value       = module.resubmit.event_source_mapping_uuid
}

output "resubmit_kms_key_arn" {
  description = "ARN of the KMS key encrypting the resubmit queues (null when they are not KMS-encrypted)."
  value       = module.resubmit.kms_key_arn
}

output "resubmit_fallback_job_queue_arn" {
  description = "Job queue the resubmit function falls back to after repeated Spot losses (the on-demand queue when compute.create_on_demand is true; null: none)."
  value       = module.resubmit.fallback_job_queue_arn
}

output "resubmit_alarm_names" {
  description = "Names of the resubmit pipeline's CloudWatch alarms, by purpose."
  value       = module.resubmit.alarm_names
}

output "resubmit_dlq_url" {
  description = "URL of the resubmit dead-letter queue."
  value       = module.resubmit.dlq_url
}

output "resubmit_dlq_arn" {
  description = "ARN of the resubmit dead-letter queue."
  value       = module.resubmit.dlq_arn
}

output "resubmit_log_group_name" {
  description = "CloudWatch Logs log group of the resubmit function."
  value       = module.resubmit.log_group_name
}

output "idempotency_table_name" {
  description = "Name of the resubmit function's DynamoDB idempotency table (null when idempotency is off)."
  value       = module.resubmit.idempotency_table_name
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic."
  value       = module.resubmit.alert_topic_arn
}

output "chaos_fis_role_arn" {
  description = "ARN of the AWS FIS role of the chaos experiment templates (null unless chaos.create)."
  value       = module.chaos.fis_role_arn
}

output "chaos_spot_interruption_template_id" {
  description = "ID of the FIS experiment template sending Spot interruptions to opted-in instances (null unless chaos.create)."
  value       = module.chaos.spot_interruption_template_id
}

output "chaos_terminate_instance_template_id" {
  description = "ID of the FIS experiment template terminating opted-in instances (null unless chaos.create)."
  value       = module.chaos.terminate_instance_template_id
}

output "chaos_opt_in" {
  description = "Whether the Spot compute environment and its instances carry the chaos opt-in tag."
  value       = module.compute.chaos_opt_in
}

output "chaos_opt_in_tag" {
  description = "The tag (map of one key) an instance must carry for the FIS experiments to act on it."
  value       = module.compute.chaos_opt_in_tag
}

output "chaos_stop_condition_alarm_arn" {
  description = "ARN of the alarm (resubmit DLQ not empty) that stops the FIS experiments (null unless chaos.create_stop_condition_alarm)."
  value       = module.chaos.stop_condition_alarm_arn
}
