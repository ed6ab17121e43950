variable "create" {
  description = "Whether to create any resource in this module."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix of every resource, e.g. \"spotkit-dev\" (compute environment Name tag \"<name>-spot\", job queue \"<name>-spot\", job definition \"<name>-job\", function \"<name>-resubmit\")."
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

# Grouped settings are typed objects with optional() attributes: a caller sets only what differs,
# an attribute left out is null and the child module's default applies (its variables are
# nullable = false). The child modules hold every default and validation; only the attributes
# this composition itself decides on (create_on_demand, chaos.create, chaos.opt_in,
# chaos.require_stop_condition) default here. A wrongly typed attribute is an error; an attribute
# the type does not declare is dropped by Terraform without a word (tests/spotkit_stack.tftest.hcl).

variable "compute" {
  description = <<-EOT
    Compute settings (see modules/batch-compute for meaning, defaults and validation):
    allocation_strategy (default SPOT_PRICE_CAPACITY_OPTIMIZED), instance_types, min_vcpus,
    max_vcpus, desired_vcpus, bid_percentage, image_id, ec2_key_pair, create_on_demand (default
    false: also an on-demand compute environment and queue, the resubmit fallback),
    on_demand_instance_types, on_demand_max_vcpus, service_role_arn, instance_profile_arn,
    spot_fleet_role_arn (passing a role ARN skips creating it). Units: vCPUs, percent.
  EOT
  type = object({
    allocation_strategy      = optional(string)
    instance_types           = optional(list(string))
    min_vcpus                = optional(number)
    max_vcpus                = optional(number)
    desired_vcpus            = optional(number)
    bid_percentage           = optional(number)
    image_id                 = optional(string)
    ec2_key_pair             = optional(string)
    create_on_demand         = optional(bool, false)
    on_demand_instance_types = optional(list(string))
    on_demand_max_vcpus      = optional(number)
    service_role_arn         = optional(string)
    instance_profile_arn     = optional(string)
    spot_fleet_role_arn      = optional(string)
  })
  default  = {}
  nullable = false
}

variable "job_queue" {
  description = "Job queue settings (see modules/job-queue): priority, state, runnable_time_limit_actions (list of {reason, max_time_seconds}; [] turns the RUNNABLE time limits off)."
  type = object({
    priority = optional(number)
    state    = optional(string)
    runnable_time_limit_actions = optional(list(object({
      reason           = string
      max_time_seconds = number
    })))
  })
  default  = {}
  nullable = false
}

variable "job_definition" {
  description = <<-EOT
    Job definition settings (see modules/job-definition): image (required), command, vcpus,
    memory_mib (MiB), environment, parameters, attempt_duration_seconds (seconds; 0 or unset: no
    timeout), propagate_tags, retry_attempts, evaluate_on_exit, job_role_arn.
  EOT
  type = object({
    image                    = string
    command                  = optional(list(string))
    vcpus                    = optional(number)
    memory_mib               = optional(number)
    environment              = optional(map(string))
    parameters               = optional(map(string))
    job_role_arn             = optional(string)
    attempt_duration_seconds = optional(number)
    propagate_tags           = optional(bool)
    retry_attempts           = optional(number)
    evaluate_on_exit = optional(list(object({
      action           = string
      on_status_reason = optional(string)
      on_reason        = optional(string)
      on_exit_code     = optional(string)
    })))
  })
}

variable "resubmit" {
  description = <<-EOT
    Resubmit function settings (see modules/spot-resubmit for meaning, units and defaults):
    lambda_runtime, lambda_timeout, lambda_memory_mib, reserved_concurrent_executions,
    tracing_mode, log_level, log_retention_days, log_kms_key_arn, max_resubmissions,
    metrics_namespace, event_max_age_seconds, event_max_retry_attempts,
    events_message_retention_seconds, max_receive_count, batch_size,
    maximum_batching_window_seconds, maximum_concurrency, submit_job_rate_per_second,
    event_source_mapping_enabled, dlq_message_retention_seconds, dlq_kms_master_key_id,
    create_kms_key, kms_key_arn (an existing key: skips creating one), kms_key_enable_rotation,
    kms_key_deletion_window_in_days, alert_topic_arn (skips creating the topic),
    alert_topic_kms_master_key_id, create_alarms, alarm_period_seconds,
    events_oldest_message_alarm_seconds, alert_on_runnable_timeout, fallback_job_queue_arn
    (ignored when compute.create_on_demand is true: the on-demand queue is the fallback),
    fallback_after_spot_losses, idempotency_ttl_seconds, idempotency_table_kms_key_arn,
    idempotency_table_point_in_time_recovery, idempotency_table_name (an existing table: skips
    creating it), create_idempotency_table (false without a table name: no idempotency),
    decision_event_bus_name (where the decision events go: "default" bus unless set; "" = off).
  EOT
  type = object({
    lambda_runtime                           = optional(string)
    lambda_timeout                           = optional(number)
    lambda_memory_mib                        = optional(number)
    reserved_concurrent_executions           = optional(number)
    tracing_mode                             = optional(string)
    log_level                                = optional(string)
    log_retention_days                       = optional(number)
    log_kms_key_arn                          = optional(string)
    max_resubmissions                        = optional(number)
    metrics_namespace                        = optional(string)
    event_max_age_seconds                    = optional(number)
    event_max_retry_attempts                 = optional(number)
    events_message_retention_seconds         = optional(number)
    max_receive_count                        = optional(number)
    batch_size                               = optional(number)
    maximum_batching_window_seconds          = optional(number)
    maximum_concurrency                      = optional(number)
    submit_job_rate_per_second               = optional(number)
    event_source_mapping_enabled             = optional(bool)
    dlq_message_retention_seconds            = optional(number)
    dlq_kms_master_key_id                    = optional(string)
    create_kms_key                           = optional(bool)
    kms_key_arn                              = optional(string)
    kms_key_enable_rotation                  = optional(bool)
    kms_key_deletion_window_in_days          = optional(number)
    alert_topic_arn                          = optional(string)
    alert_topic_kms_master_key_id            = optional(string)
    create_alarms                            = optional(bool)
    alarm_period_seconds                     = optional(number)
    events_oldest_message_alarm_seconds      = optional(number)
    alert_on_runnable_timeout                = optional(bool)
    fallback_job_queue_arn                   = optional(string)
    fallback_after_spot_losses               = optional(number)
    idempotency_ttl_seconds                  = optional(number)
    idempotency_table_kms_key_arn            = optional(string)
    idempotency_table_point_in_time_recovery = optional(bool)
    idempotency_table_name                   = optional(string)
    create_idempotency_table                 = optional(bool)
    decision_event_bus_name                  = optional(string)
  })
  default  = {}
  nullable = false
}

variable "chaos" {
  description = <<-EOT
    Chaos settings (see modules/chaos-fis): create (default false: the FIS role and the
    "spot-interruption" and "terminate-instance" experiment templates), opt_in (default false: tag
    the Spot compute environment and its instances spotkit:chaos = opt-in, the only instances the
    experiments can act on), selection_mode, duration_before_interruption,
    stop_condition_alarm_arns, create_stop_condition_alarm (an alarm on the resubmit DLQ stops the
    experiments), require_stop_condition (default false: true fails the plan unless
    create_stop_condition_alarm or stop_condition_alarm_arns gives the templates a stop condition).
  EOT
  type = object({
    create                       = optional(bool, false)
    opt_in                       = optional(bool, false)
    selection_mode               = optional(string)
    duration_before_interruption = optional(string)
    stop_condition_alarm_arns    = optional(list(string))
    create_stop_condition_alarm  = optional(bool)
    require_stop_condition       = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition = (!var.chaos.require_stop_condition || !var.chaos.create ||
    coalesce(var.chaos.create_stop_condition_alarm, false) || length(coalesce(var.chaos.stop_condition_alarm_arns, [])) > 0)
    error_message = "The chaos.require_stop_condition setting needs chaos.create_stop_condition_alarm = true or at least one chaos.stop_condition_alarm_arns entry."
  }
}
