# One Spot stack: compute environment(s) -> job queue(s) -> job definition, plus the function
# that resubmits jobs lost to Spot reclaims. Grouped inputs use `any` + try() so callers set only
# what differs from the defaults (Terraform >= 1.0 has no optional object attributes); the child
# modules type and validate every value.

module "compute" {
  source = "../batch-compute"

  create             = var.create
  name               = var.name
  tags               = var.tags
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  allocation_strategy = try(var.compute.allocation_strategy, "BEST_FIT")
  instance_types      = try(var.compute.instance_types, ["m5.large"])
  min_vcpus           = try(var.compute.min_vcpus, 0)
  max_vcpus           = try(var.compute.max_vcpus, 16)
  desired_vcpus       = try(var.compute.desired_vcpus, null)
  bid_percentage      = try(var.compute.bid_percentage, 100)
  image_id            = try(var.compute.image_id, null)
  ec2_key_pair        = try(var.compute.ec2_key_pair, null)

  create_on_demand         = try(var.compute.create_on_demand, false)
  on_demand_instance_types = try(var.compute.on_demand_instance_types, null)
  on_demand_max_vcpus      = try(var.compute.on_demand_max_vcpus, 16)

  create_service_role    = try(var.compute.service_role_arn, null) == null
  service_role_arn       = try(var.compute.service_role_arn, null)
  create_instance_role   = try(var.compute.instance_profile_arn, null) == null
  instance_profile_arn   = try(var.compute.instance_profile_arn, null)
  create_spot_fleet_role = try(var.compute.spot_fleet_role_arn, null) == null
  spot_fleet_role_arn    = try(var.compute.spot_fleet_role_arn, null)

  # Chaos: only the Spot compute environment opts in (see modules/batch-compute).
  chaos_opt_in = try(var.chaos.opt_in, false)
}

module "spot_queue" {
  source = "../job-queue"

  create                   = var.create
  name                     = "${var.name}-spot"
  compute_environment_arns = [module.compute.spot_compute_environment_arn]
  priority                 = try(var.job_queue.priority, 1)
  state                    = try(var.job_queue.state, "ENABLED")
  tags                     = var.tags
}

module "on_demand_queue" {
  source = "../job-queue"

  create                   = var.create && try(var.compute.create_on_demand, false)
  name                     = "${var.name}-ondemand"
  compute_environment_arns = [module.compute.on_demand_compute_environment_arn]
  priority                 = try(var.job_queue.priority, 1)
  state                    = try(var.job_queue.state, "ENABLED")
  tags                     = var.tags
}

module "job_definition" {
  source = "../job-definition"

  create = var.create
  name   = "${var.name}-job"
  tags   = var.tags

  image                    = var.job_definition.image
  command                  = try(var.job_definition.command, [])
  vcpus                    = try(var.job_definition.vcpus, 1)
  memory_mib               = try(var.job_definition.memory_mib, 2048)
  environment              = try(var.job_definition.environment, {})
  parameters               = try(var.job_definition.parameters, {})
  job_role_arn             = try(var.job_definition.job_role_arn, null)
  attempt_duration_seconds = try(var.job_definition.attempt_duration_seconds, null)
  propagate_tags           = try(var.job_definition.propagate_tags, true)
  retry_attempts           = try(var.job_definition.retry_attempts, 3)
  evaluate_on_exit = try(var.job_definition.evaluate_on_exit, [
    { action = "RETRY", on_status_reason = "Host EC2*" },
    { action = "EXIT", on_reason = "*" },
  ])
}

module "resubmit" {
  source = "../spot-resubmit"

  create = var.create
  name   = "${var.name}-resubmit"
  tags   = var.tags

  job_queue_arns      = compact([module.spot_queue.arn, module.on_demand_queue.arn])
  job_definition_arns = [module.job_definition.arn]
  lambda_zip_path     = var.lambda_zip_path

  lambda_runtime                 = try(var.resubmit.lambda_runtime, "python3.12")
  lambda_timeout                 = try(var.resubmit.lambda_timeout, 60)
  lambda_memory_mib              = try(var.resubmit.lambda_memory_mib, 256)
  reserved_concurrent_executions = try(var.resubmit.reserved_concurrent_executions, null)
  tracing_mode                   = try(var.resubmit.tracing_mode, "Active")
  log_level                      = try(var.resubmit.log_level, "INFO")
  log_retention_days             = try(var.resubmit.log_retention_days, 30)
  log_kms_key_arn                = try(var.resubmit.log_kms_key_arn, null)
  max_resubmissions              = try(var.resubmit.max_resubmissions, 3)
  event_max_age_seconds          = try(var.resubmit.event_max_age_seconds, 3600)
  event_max_retry_attempts       = try(var.resubmit.event_max_retry_attempts, 185)
  dlq_kms_master_key_id          = try(var.resubmit.dlq_kms_master_key_id, null)
  create_alert_topic             = try(var.resubmit.alert_topic_arn, null) == null
  alert_topic_arn                = try(var.resubmit.alert_topic_arn, null)
  alert_topic_kms_master_key_id  = try(var.resubmit.alert_topic_kms_master_key_id, null)
  metrics_namespace              = try(var.resubmit.metrics_namespace, "spotkit")

  # Buffered delivery: rule -> events queue -> event source mapping (batches) -> function.
  events_message_retention_seconds = try(var.resubmit.events_message_retention_seconds, 345600)
  max_receive_count                = try(var.resubmit.max_receive_count, 5)
  batch_size                       = try(var.resubmit.batch_size, 10)
  maximum_batching_window_seconds  = try(var.resubmit.maximum_batching_window_seconds, 5)
  maximum_concurrency              = try(var.resubmit.maximum_concurrency, null)
  submit_job_rate_per_second       = try(var.resubmit.submit_job_rate_per_second, 50)
  event_source_mapping_enabled     = try(var.resubmit.event_source_mapping_enabled, true)
  dlq_message_retention_seconds    = try(var.resubmit.dlq_message_retention_seconds, 1209600)

  # Passing kms_key_arn uses that key instead of creating one.
  create_kms_key                  = try(var.resubmit.create_kms_key, try(var.resubmit.kms_key_arn, null) == null)
  kms_key_arn                     = try(var.resubmit.kms_key_arn, null)
  kms_key_enable_rotation         = try(var.resubmit.kms_key_enable_rotation, true)
  kms_key_deletion_window_in_days = try(var.resubmit.kms_key_deletion_window_in_days, 30)

  create_alarms                       = try(var.resubmit.create_alarms, true)
  alarm_period_seconds                = try(var.resubmit.alarm_period_seconds, 300)
  events_oldest_message_alarm_seconds = try(var.resubmit.events_oldest_message_alarm_seconds, 3600)

  # With an on-demand queue, lineages that keep losing Spot hosts finish there.
  fallback_job_queue_arn     = try(var.compute.create_on_demand, false) ? module.on_demand_queue.arn : try(var.resubmit.fallback_job_queue_arn, null)
  fallback_after_spot_losses = try(var.resubmit.fallback_after_spot_losses, 2)

  # Passing idempotency_table_name uses that existing table; create_idempotency_table = false
  # without a name turns idempotency off.
  create_idempotency_table                 = try(var.resubmit.create_idempotency_table, try(var.resubmit.idempotency_table_name, null) == null)
  idempotency_table_name                   = try(var.resubmit.idempotency_table_name, null)
  idempotency_ttl_seconds                  = try(var.resubmit.idempotency_ttl_seconds, 86400)
  idempotency_table_kms_key_arn            = try(var.resubmit.idempotency_table_kms_key_arn, null)
  idempotency_table_point_in_time_recovery = try(var.resubmit.idempotency_table_point_in_time_recovery, true)
}

# AWS FIS experiment templates against the Spot compute environment's opted-in instances; the
# opt-in tag comes from the compute module so both sides always agree on it.
module "chaos" {
  source = "../chaos-fis"

  create = var.create && try(var.chaos.create, false)
  name   = "${var.name}-chaos"
  tags   = var.tags

  compute_environment_name     = module.compute.spot_compute_environment_name
  opt_in_tag                   = module.compute.chaos_opt_in_tag
  selection_mode               = try(var.chaos.selection_mode, "COUNT(1)")
  duration_before_interruption = try(var.chaos.duration_before_interruption, "PT2M")

  stop_condition_alarm_arns    = try(var.chaos.stop_condition_alarm_arns, [])
  create_stop_condition_alarm  = try(var.chaos.create_stop_condition_alarm, false)
  stop_condition_queue_name    = module.resubmit.dlq_name
  stop_condition_alarm_actions = compact([module.resubmit.alert_topic_arn])
}
