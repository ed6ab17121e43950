variable "create" {
  description = "Whether to create any resource in this module."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix of every resource, e.g. \"spotkit-dev\" (compute environment \"<name>-spot\", job queue \"<name>-spot\", job definition \"<name>-job\", function \"<name>-resubmit\")."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Subnet IDs for the compute environments."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security group IDs for the compute environments."
  type        = list(string)
}

variable "lambda_zip_path" {
  description = "Path of the resubmit function's package (`spotkit package` builds build/resubmit.zip)."
  type        = string
}

variable "compute" {
  description = <<-EOT
    Compute settings (every key optional; see modules/batch-compute for meaning and defaults):
    allocation_strategy, instance_types, min_vcpus, max_vcpus, desired_vcpus, bid_percentage,
    image_id, ec2_key_pair, create_on_demand, on_demand_instance_types, on_demand_max_vcpus,
    service_role_arn, instance_profile_arn, spot_fleet_role_arn (passing a role ARN skips creating it).
  EOT
  type        = any
  default     = {}
}

variable "job_queue" {
  description = "Job queue settings (every key optional): priority (default 1), state (default ENABLED)."
  type        = any
  default     = {}
}

variable "job_definition" {
  description = <<-EOT
    Job definition settings (see modules/job-definition): image (required), command, vcpus,
    memory_mib, environment, parameters, attempt_duration_seconds, propagate_tags, retry_attempts,
    evaluate_on_exit, job_role_arn.
  EOT
  type        = any
}

variable "resubmit" {
  description = <<-EOT
    Resubmit function settings (every key optional; see modules/spot-resubmit): lambda_runtime,
    lambda_timeout, lambda_memory_mib, reserved_concurrent_executions, tracing_mode, log_level,
    log_retention_days, log_kms_key_arn, max_resubmissions, metrics_namespace,
    event_max_age_seconds, event_max_retry_attempts, events_message_retention_seconds,
    max_receive_count, batch_size, maximum_batching_window_seconds, maximum_concurrency,
    submit_job_rate_per_second, event_source_mapping_enabled, dlq_message_retention_seconds, dlq_kms_master_key_id,
    create_kms_key, kms_key_arn (an existing key: skips creating one), kms_key_enable_rotation,
    kms_key_deletion_window_in_days, alert_topic_arn (skips creating the topic),
    alert_topic_kms_master_key_id, create_alarms, alarm_period_seconds,
    events_oldest_message_alarm_seconds, fallback_job_queue_arn (ignored when
    compute.create_on_demand is true: the on-demand queue is the fallback),
    fallback_after_spot_losses, idempotency_ttl_seconds, idempotency_table_kms_key_arn,
    idempotency_table_point_in_time_recovery, idempotency_table_name (an existing table: skips
    creating it), create_idempotency_table (false without a table name: no idempotency).
  EOT
  type        = any
  default     = {}
}

variable "chaos" {
  description = <<-EOT
    Chaos settings (every key optional; see modules/chaos-fis): create (default false: the FIS role
    and the "spot-interruption" and "terminate-instance" experiment templates), opt_in (default
    false: tag the Spot compute environment and its instances spotkit:chaos = opt-in, the only
    instances the experiments can act on), selection_mode (default COUNT(1)),
    duration_before_interruption (default PT2M), stop_condition_alarm_arns (default []),
    create_stop_condition_alarm (default false: an alarm on the resubmit DLQ stops the
    experiments), require_stop_condition (default false: true fails the plan unless
    create_stop_condition_alarm or stop_condition_alarm_arns gives the templates a stop condition).
  EOT
  type        = any
  default     = {}

  validation {
    condition = alltrue([for k in keys(var.chaos) : contains([
      "create", "opt_in", "selection_mode", "duration_before_interruption", "stop_condition_alarm_arns",
      "create_stop_condition_alarm", "require_stop_condition",
    ], k)])
    error_message = "The chaos keys must be among create, opt_in, selection_mode, duration_before_interruption, stop_condition_alarm_arns, create_stop_condition_alarm, require_stop_condition."
  }

  validation {
    condition = (!try(var.chaos.require_stop_condition, false) || !try(var.chaos.create, false) ||
    try(var.chaos.create_stop_condition_alarm, false) || length(try(var.chaos.stop_condition_alarm_arns, [])) > 0)
    error_message = "The chaos.require_stop_condition setting needs chaos.create_stop_condition_alarm = true or at least one chaos.stop_condition_alarm_arns entry."
  }
}
