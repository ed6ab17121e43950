# https://docs.aws.amazon.com/batch/latest/userguide/job_queue_parameters.html
# compute_environment_order blocks (hashicorp/aws >= 5.40.0) and not the compute_environments
# list, which 6.0 removed: the same source is valid on 5.x and 6.x.
resource "aws_batch_job_queue" "this" {
  count = var.create ? 1 : 0

  name     = var.name
  state    = var.state
  priority = var.priority

  dynamic "compute_environment_order" {
    for_each = var.compute_environment_arns
    content {
      order               = compute_environment_order.key
      compute_environment = compute_environment_order.value
    }
  }

  # A job at the head of the queue that cannot be placed (no Spot capacity, or a compute
  # environment that can never fit it) blocks every job behind it. After max_time_seconds in
  # RUNNABLE with that reason Batch cancels it: the job ends FAILED with statusReason
  # "Canceled by JobStateTimeLimit action due to reason: <reason>", which the resubmit module
  # alerts on. https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html
  dynamic "job_state_time_limit_action" {
    for_each = var.runnable_time_limit_actions
    content {
      action           = "CANCEL"
      state            = "RUNNABLE"
      max_time_seconds = job_state_time_limit_action.value.max_time_seconds
      reason           = job_state_time_limit_action.value.reason
    }
  }

  tags = merge(var.tags, { Name = var.name })
}
