# modules/job-queue's shape: dynamic job_state_time_limit_action blocks over a list checkov can
# expand (a variable default); the capacity entry passes.
variable "runnable_time_limit_actions" {
  type = list(object({ reason = string, max_time_seconds = number }))
  default = [
    { reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 3600 },
    { reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", max_time_seconds = 600 },
  ]
}

resource "aws_batch_job_queue" "queue" {
  name     = "queue"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = "arn:aws:batch:us-east-1:123456789012:compute-environment/spot"
  }

  dynamic "job_state_time_limit_action" {
    for_each = var.runnable_time_limit_actions
    content {
      action           = "CANCEL"
      state            = "RUNNABLE"
      max_time_seconds = job_state_time_limit_action.value.max_time_seconds
      reason           = job_state_time_limit_action.value.reason
    }
  }
}
