variable "create" {
  description = "Whether to create the job queue."
  type        = bool
  default     = true
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

variable "priority" {
  description = "Priority among queues sharing a compute environment (0-1000, higher is scheduled first)."
  type        = number
  default     = 1

  validation {
    condition     = var.priority >= 0 && var.priority <= 1000
    error_message = "The priority must be between 0 and 1000."
  }
}

variable "state" {
  description = "ENABLED (accepts jobs) or DISABLED (finishes queued jobs, accepts no new ones)."
  type        = string
  default     = "ENABLED"

  validation {
    condition     = contains(["ENABLED", "DISABLED"], var.state)
    error_message = "The state must be ENABLED or DISABLED."
  }
}

variable "tags" {
  description = "Tags for the job queue."
  type        = map(string)
  default     = {}
}
