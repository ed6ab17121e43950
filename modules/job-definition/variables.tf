variable "create" {
  description = "Whether to register the job definition."
  type        = bool
  default     = true
  nullable    = false
}

variable "name" {
  description = "Job definition name (each change registers a new revision under this name)."
  type        = string
}

variable "image" {
  description = "Container image, e.g. \"public.ecr.aws/amazonlinux/amazonlinux:2023\"."
  type        = string
}

variable "command" {
  description = "Container command as an argv list; `Ref::<name>` placeholders are replaced by job parameters."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "vcpus" {
  description = "vCPUs reserved per attempt (resourceRequirements VCPU)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.vcpus > 0
    error_message = "The vcpus must be greater than 0."
  }
}

variable "memory_mib" {
  description = "Memory reserved per attempt, in MiB (resourceRequirements MEMORY)."
  type        = number
  default     = 2048
  nullable    = false

  validation {
    condition     = var.memory_mib >= 4
    error_message = "The memory_mib must be at least 4 MiB."
  }
}

variable "environment" {
  description = "Plain environment variables of the container (visible to anyone who can describe the job: never secrets)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "parameters" {
  description = "Default job parameters substituted into `Ref::<name>` placeholders of the command; SubmitJob parameters override them."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "job_role_arn" {
  description = "IAM role the job's containers assume (null: none)."
  type        = string
  default     = null
}

variable "attempt_duration_seconds" {
  description = "Timeout of one attempt, in seconds (at least 60); null or 0 means no timeout. A timed-out attempt is not retried."
  type        = number
  default     = null

  validation {
    condition     = var.attempt_duration_seconds == null ? true : (var.attempt_duration_seconds == 0 || var.attempt_duration_seconds >= 60)
    error_message = "The attempt_duration_seconds must be null, 0 or at least 60."
  }
}

variable "propagate_tags" {
  description = "Whether tags of the job and job definition are propagated to the ECS task."
  type        = bool
  default     = true
  nullable    = false
}

variable "retry_attempts" {
  description = "Attempts per job (1-10) under Batch's native retry strategy, counting the first one."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.retry_attempts >= 1 && var.retry_attempts <= 10 && floor(var.retry_attempts) == var.retry_attempts
    error_message = "The retry_attempts must be a whole number between 1 and 10."
  }
}

variable "evaluate_on_exit" {
  description = <<-EOT
    Ordered retry conditions (at most 5), each with `action` (RETRY or EXIT) and at least one of
    `on_status_reason`, `on_reason` (letters, digits, `.`, `:`, spaces and an optional trailing `*`)
    and `on_exit_code` (digits and an optional trailing `*`). The first match decides; when none
    matches, Batch retries. The default retries only Spot host losses ("Host EC2*") and fails
    everything else at once. See AWS Batch User Guide, "Automated job retries".
  EOT
  type = list(object({
    action           = string
    on_status_reason = optional(string)
    on_reason        = optional(string)
    on_exit_code     = optional(string)
  }))
  default = [
    { action = "RETRY", on_status_reason = "Host EC2*" },
    { action = "EXIT", on_reason = "*" },
  ]
  nullable = false

  validation {
    condition     = length(var.evaluate_on_exit) <= 5
    error_message = "AWS Batch accepts at most 5 evaluate_on_exit entries."
  }

  validation {
    condition     = alltrue([for c in var.evaluate_on_exit : contains(["RETRY", "EXIT"], upper(c.action))])
    error_message = "Every evaluate_on_exit entry needs action RETRY or EXIT."
  }

  validation {
    condition = alltrue([for c in var.evaluate_on_exit : alltrue([
      for v in [c.on_status_reason, c.on_reason] : can(regex("^[A-Za-z0-9.: ]*\\*?$", coalesce(v, "x")))
      ]) && can(regex("^[0-9]*\\*?$", coalesce(c.on_exit_code, "0")))
      && (c.on_status_reason != null || c.on_reason != null || c.on_exit_code != null)
    ])
    error_message = "Each evaluate_on_exit entry needs on_status_reason, on_reason or on_exit_code; reasons allow only letters, digits, '.', ':', spaces and a trailing '*', exit codes only digits and a trailing '*'."
  }
}

variable "tags" {
  description = "Tags for the job definition."
  type        = map(string)
  default     = {}
  nullable    = false
}
