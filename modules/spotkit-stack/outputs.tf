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
  description = "Name of the EventBridge rule that triggers the resubmit function."
  value       = module.resubmit.rule_name
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
