provider "aws" {
  region = var.region
}

# Every group of spotkit-stack set: Spot plus an on-demand fallback, custom RUNNABLE time limits,
# a job definition with its own retry rules, tuned resubmission, and chaos experiments that stop
# on an alarm.
module "spotkit" {
  source = "../../modules/spotkit-stack"

  name               = var.name
  tags               = var.tags
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  lambda_zip_path    = var.lambda_zip_path

  compute = {
    allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    # Several types (and sizes) of similar shape: more Spot pools, fewer interruptions.
    instance_types = ["m5.large", "m5a.large", "m6i.large", "m6a.large", "m7i.large"]
    min_vcpus      = 0
    max_vcpus      = 64
    # Lineages that keep losing Spot hosts finish on this on-demand compute environment and
    # queue (resubmit.fallback_after_spot_losses).
    create_on_demand         = true
    on_demand_instance_types = ["m6i.large"]
    on_demand_max_vcpus      = 16
  }

  job_queue = {
    priority = 10
    runnable_time_limit_actions = [
      # Give Spot two hours to come back before cancelling (and alerting).
      { reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 7200 },
      { reason = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", max_time_seconds = 600 },
      { reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", max_time_seconds = 600 },
    ]
  }

  job_definition = {
    image                    = var.image
    command                  = ["sh", "-c", "echo processing Ref::input && sleep 60"]
    vcpus                    = 2
    memory_mib               = 4096
    parameters               = { input = "s3://example-bucket/input.csv" }
    environment              = { LOG_LEVEL = "info" }
    attempt_duration_seconds = 3600
    retry_attempts           = 3
    evaluate_on_exit = [
      { action = "RETRY", on_status_reason = "Host EC2*" },
      # Exit code 137: killed (e.g. out of memory) -- retrying would fail the same way.
      { action = "EXIT", on_exit_code = "137" },
      { action = "EXIT", on_reason = "*" },
    ]
  }

  resubmit = {
    max_resubmissions               = 5
    fallback_after_spot_losses      = 2
    batch_size                      = 100
    maximum_batching_window_seconds = 2
    maximum_concurrency             = 2
    log_retention_days              = 90
    log_level                       = "INFO"
    alert_on_runnable_timeout       = true
  }

  chaos = {
    create         = true
    opt_in         = true
    selection_mode = "COUNT(1)"
    # An alarm on the resubmit DLQ (a job the pipeline gave up on) stops a running experiment;
    # require_stop_condition fails the plan if that guard rail is ever removed.
    create_stop_condition_alarm = true
    stop_condition_alarm_arns   = var.chaos_stop_condition_alarm_arns
    require_stop_condition      = true
  }
}
