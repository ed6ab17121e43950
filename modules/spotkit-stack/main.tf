# One Spot stack: compute environment(s) -> job queue(s) -> job definition, plus the function
# that resubmits jobs lost to Spot reclaims and the FIS chaos templates. Every grouped setting is
# passed through as it is: an attribute the caller left out is null, and the child module's own
# default applies (see variables.tf).

locals {
  c = var.compute
  r = var.resubmit
}

module "compute" {
  source = "../batch-compute"

  create             = var.create
  name               = var.name
  tags               = var.tags
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  allocation_strategy = local.c.allocation_strategy
  instance_types      = local.c.instance_types
  min_vcpus           = local.c.min_vcpus
  max_vcpus           = local.c.max_vcpus
  desired_vcpus       = local.c.desired_vcpus
  bid_percentage      = local.c.bid_percentage
  image_id            = local.c.image_id
  ec2_key_pair        = local.c.ec2_key_pair

  create_on_demand         = local.c.create_on_demand
  on_demand_instance_types = local.c.on_demand_instance_types
  on_demand_max_vcpus      = local.c.on_demand_max_vcpus

  # Passing a role ARN skips creating that role.
  create_service_role    = local.c.service_role_arn == null
  service_role_arn       = local.c.service_role_arn
  create_instance_role   = local.c.instance_profile_arn == null
  instance_profile_arn   = local.c.instance_profile_arn
  create_spot_fleet_role = local.c.spot_fleet_role_arn == null
  spot_fleet_role_arn    = local.c.spot_fleet_role_arn

  # Chaos: only the Spot compute environment opts in (see modules/batch-compute).
  chaos_opt_in = var.chaos.opt_in
}

module "spot_queue" {
  source = "../job-queue"

  create                      = var.create
  name                        = "${var.name}-spot"
  compute_environment_arns    = [module.compute.spot_compute_environment_arn]
  priority                    = var.job_queue.priority
  state                       = var.job_queue.state
  runnable_time_limit_actions = var.job_queue.runnable_time_limit_actions
  tags                        = var.tags
}

module "on_demand_queue" {
  source = "../job-queue"

  create                      = var.create && local.c.create_on_demand
  name                        = "${var.name}-ondemand"
  compute_environment_arns    = [module.compute.on_demand_compute_environment_arn]
  priority                    = var.job_queue.priority
  state                       = var.job_queue.state
  runnable_time_limit_actions = var.job_queue.runnable_time_limit_actions
  tags                        = var.tags
}

module "job_definition" {
  source = "../job-definition"

  create = var.create
  name   = "${var.name}-job"
  tags   = var.tags

  image                    = var.job_definition.image
  command                  = var.job_definition.command
  vcpus                    = var.job_definition.vcpus
  memory_mib               = var.job_definition.memory_mib
  environment              = var.job_definition.environment
  parameters               = var.job_definition.parameters
  job_role_arn             = var.job_definition.job_role_arn
  attempt_duration_seconds = var.job_definition.attempt_duration_seconds
  propagate_tags           = var.job_definition.propagate_tags
  retry_attempts           = var.job_definition.retry_attempts
  evaluate_on_exit         = var.job_definition.evaluate_on_exit
}

module "resubmit" {
  source = "../spot-resubmit"

  create = var.create
  name   = "${var.name}-resubmit"
  tags   = var.tags

  job_queue_arns      = compact([module.spot_queue.arn, module.on_demand_queue.arn])
  job_definition_arns = [module.job_definition.arn]
  lambda_zip_path     = var.lambda_zip_path

  lambda_runtime                 = local.r.lambda_runtime
  lambda_timeout                 = local.r.lambda_timeout
  lambda_memory_mib              = local.r.lambda_memory_mib
  reserved_concurrent_executions = local.r.reserved_concurrent_executions
  tracing_mode                   = local.r.tracing_mode
  log_level                      = local.r.log_level
  log_retention_days             = local.r.log_retention_days
  log_kms_key_arn                = local.r.log_kms_key_arn
  max_resubmissions              = local.r.max_resubmissions
  event_max_age_seconds          = local.r.event_max_age_seconds
  event_max_retry_attempts       = local.r.event_max_retry_attempts
  dlq_kms_master_key_id          = local.r.dlq_kms_master_key_id
  create_alert_topic             = local.r.alert_topic_arn == null
  alert_topic_arn                = local.r.alert_topic_arn
  alert_topic_kms_master_key_id  = local.r.alert_topic_kms_master_key_id
  metrics_namespace              = local.r.metrics_namespace
  alert_on_runnable_timeout      = local.r.alert_on_runnable_timeout

  # Buffered delivery: rule -> events queue -> event source mapping (batches) -> function.
  events_message_retention_seconds = local.r.events_message_retention_seconds
  max_receive_count                = local.r.max_receive_count
  batch_size                       = local.r.batch_size
  maximum_batching_window_seconds  = local.r.maximum_batching_window_seconds
  maximum_concurrency              = local.r.maximum_concurrency
  submit_job_rate_per_second       = local.r.submit_job_rate_per_second
  event_source_mapping_enabled     = local.r.event_source_mapping_enabled
  dlq_message_retention_seconds    = local.r.dlq_message_retention_seconds

  # Passing kms_key_arn uses that key instead of creating one.
  create_kms_key                  = local.r.create_kms_key != null ? local.r.create_kms_key : local.r.kms_key_arn == null
  kms_key_arn                     = local.r.kms_key_arn
  kms_key_enable_rotation         = local.r.kms_key_enable_rotation
  kms_key_deletion_window_in_days = local.r.kms_key_deletion_window_in_days

  create_alarms                       = local.r.create_alarms
  alarm_period_seconds                = local.r.alarm_period_seconds
  events_oldest_message_alarm_seconds = local.r.events_oldest_message_alarm_seconds

  # With an on-demand queue, lineages that keep losing Spot hosts finish there.
  fallback_job_queue_arn     = local.c.create_on_demand ? module.on_demand_queue.arn : local.r.fallback_job_queue_arn
  fallback_after_spot_losses = local.r.fallback_after_spot_losses

  # Passing idempotency_table_name uses that existing table; create_idempotency_table = false
  # without a name turns idempotency off.
  create_idempotency_table                 = local.r.create_idempotency_table != null ? local.r.create_idempotency_table : local.r.idempotency_table_name == null
  idempotency_table_name                   = local.r.idempotency_table_name
  idempotency_ttl_seconds                  = local.r.idempotency_ttl_seconds
  idempotency_table_kms_key_arn            = local.r.idempotency_table_kms_key_arn
  idempotency_table_point_in_time_recovery = local.r.idempotency_table_point_in_time_recovery

  # spotkit's decisions as EventBridge events (source "spotkit"): notifications subscribe to them.
  decision_event_bus_name = local.r.decision_event_bus_name != null ? local.r.decision_event_bus_name : "default"
}

# AWS FIS experiment templates against the Spot compute environment's opted-in instances; the
# opt-in tag comes from the compute module so both sides always agree on it.
module "chaos" {
  source = "../chaos-fis"

  create = var.create && var.chaos.create
  name   = "${var.name}-chaos"
  tags   = var.tags

  compute_environment_readable_name = module.compute.spot_compute_environment_readable_name
  opt_in_tag                        = module.compute.chaos_opt_in_tag
  selection_mode                    = var.chaos.selection_mode
  duration_before_interruption      = var.chaos.duration_before_interruption

  stop_condition_alarm_arns    = var.chaos.stop_condition_alarm_arns
  create_stop_condition_alarm  = var.chaos.create_stop_condition_alarm
  stop_condition_queue_name    = module.resubmit.dlq_name
  stop_condition_alarm_actions = compact([module.resubmit.alert_topic_arn])
}
