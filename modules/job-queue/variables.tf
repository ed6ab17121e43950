variable "create" {
  description = "Whether to create the job queue."
  type        = bool
  default     = true
  nullable    = false
}

variable "name" {
  description = "Job queue name (up to 128 letters, digits, hyphens and underscores)."
  type        = string
}

variable "compute_environment_arns" {
  description = "Compute environment ARNs in the order the scheduler tries them (1 to 3 entries), e.g. [spot, on-demand]."
  type        = list(string)

  validation {
    condition     = length(var.compute_environment_arns) >= 1 && length(var.compute_environment_arns) <= 3
    error_message = "A job queue takes 1 to 3 compute environments."
  }
}

variable "runnable_time_limit_actions" {
  description = <<-EOT
    Jobs Batch cancels after max_time_seconds (600-86,400) at the head of the queue in RUNNABLE
    with this statusReason reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY (no instance could be
    launched, e.g. no Spot capacity), MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE (the job
    needs more vCPUs than max_vcpus), MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT (no instance type
    fits the job). The job ends FAILED with statusReason "Canceled by JobStateTimeLimit action due
    to reason: <reason>". Defaults: 1 h for capacity (Spot often returns within it), 10 min for
    the misconfigurations (they do not resolve by waiting). [] turns it off. AWS Batch User Guide,
    "Jobs stuck in a RUNNABLE status".
  EOT
  type = list(object({
    reason           = string
    max_time_seconds = number
  }))
  default = [
    { reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 3600 },
    { reason = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", max_time_seconds = 600 },
    { reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", max_time_seconds = 600 },
  ]
  nullable = false

  validation {
    condition = alltrue([for a in var.runnable_time_limit_actions : contains([
      "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
      "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    ], a.reason) && a.max_time_seconds >= 600 && a.max_time_seconds <= 86400])
    error_message = "Each runnable_time_limit_actions entry needs a documented reason (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY, MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE, MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT) and max_time_seconds between 600 and 86400."
  }

  validation {
    condition     = length(distinct([for a in var.runnable_time_limit_actions : a.reason])) == length(var.runnable_time_limit_actions)
    error_message = "Each reason may appear once in runnable_time_limit_actions."
  }
}

variable "priority" {
  description = "Priority among queues sharing a compute environment (0-1000, higher is scheduled first)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.priority >= 0 && var.priority <= 1000
    error_message = "The priority must be between 0 and 1000."
  }
}

variable "state" {
  description = "ENABLED (accepts jobs) or DISABLED (finishes queued jobs, accepts no new ones)."
  type        = string
  default     = "ENABLED"
  nullable    = false

  validation {
    condition     = contains(["ENABLED", "DISABLED"], var.state)
    error_message = "The state must be ENABLED or DISABLED."
  }
}

variable "tags" {
  description = "Tags for the job queue."
  type        = map(string)
  default     = {}
  nullable    = false
}
