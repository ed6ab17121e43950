variable "create" {
  description = "Whether to create any resource in this module."
  type        = bool
  default     = true
  nullable    = false
}

variable "name" {
  description = "Name prefix: role \"<name>-fis\", experiment templates tagged Name = \"<name>-spot-interruption\" and \"<name>-terminate-instance\", alarm \"<name>-stop\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,40}$", var.name))
    error_message = "The name must start with a letter and hold at most 41 letters, digits and hyphens (it prefixes the IAM role, alarm and template Name tags)."
  }
}

variable "tags" {
  description = "Tags for every resource (the experiment templates get them too, with Name added)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Targets
################################################################################

variable "compute_environment_readable_name" {
  description = "Readable name of the Spot compute environment whose instances the experiments may act on: the value of the spotkit:compute-environment tag modules/batch-compute puts on them (its output spot_compute_environment_readable_name; the compute environment's own name is generated)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.compute_environment_readable_name))
    error_message = "The compute_environment_readable_name must be 1-128 letters, digits, hyphens or underscores."
  }
}

variable "opt_in_tag" {
  description = "The one tag an instance must carry for FIS to act on it: the templates select by it and the role's policy allows ec2:SendSpotInstanceInterruptions / ec2:TerminateInstances only on instances that carry it (aws:ResourceTag condition). modules/batch-compute adds it with chaos_opt_in = true."
  type        = map(string)
  default     = { "spotkit:chaos" = "opt-in" }
  nullable    = false

  validation {
    condition     = length(var.opt_in_tag) == 1 && alltrue([for k, v in var.opt_in_tag : length(k) > 0 && length(v) > 0 && substr(lower(k), 0, 4) != "aws:"])
    error_message = "The opt_in_tag must hold exactly one non-empty key (not starting with aws:) and non-empty value."
  }
}

variable "selection_mode" {
  description = "How many of the matching running instances one experiment acts on: COUNT(n) (n >= 1), PERCENT(p) (1-100) or ALL."
  type        = string
  default     = "COUNT(1)"
  nullable    = false

  validation {
    condition     = can(regex("^(ALL|COUNT\\([1-9][0-9]*\\)|PERCENT\\(([1-9][0-9]?|100)\\))$", var.selection_mode))
    error_message = "The selection_mode must be COUNT(n) with n >= 1, PERCENT(p) with p from 1 to 100, or ALL."
  }
}

variable "duration_before_interruption" {
  description = "durationBeforeInterruption of aws:ec2:send-spot-instance-interruptions: time between the interruption notice and the interruption, as ISO 8601 minutes from PT2M (the real Spot notice) to PT15M."
  type        = string
  default     = "PT2M"
  nullable    = false

  validation {
    condition     = can(regex("^PT([2-9]|1[0-5])M$", var.duration_before_interruption))
    error_message = "The duration_before_interruption must be PT2M to PT15M (whole minutes)."
  }
}

################################################################################
# Stop conditions
################################################################################

variable "stop_condition_alarm_arns" {
  description = "CloudWatch alarm ARNs that stop a running experiment when they go to ALARM (aws:cloudwatch:alarm stop conditions). With none here and create_stop_condition_alarm = false, the templates have the single stop condition {source = none}."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.stop_condition_alarm_arns) <= 4 && alltrue([for a in var.stop_condition_alarm_arns : can(regex("^arn:[a-z-]+:cloudwatch:[a-z0-9-]+:[0-9]{12}:alarm:.+$", a))])
    error_message = "The stop_condition_alarm_arns must be at most 4 CloudWatch alarm ARNs (FIS allows 5 stop conditions per template; one is kept for the alarm this module can create)."
  }
}

variable "create_stop_condition_alarm" {
  description = "Whether to create the alarm \"<name>-stop\" (AWS/SQS ApproximateNumberOfMessagesVisible of stop_condition_queue_name >= stop_condition_alarm_threshold) and add it to the templates' stop conditions. Point it at the resubmit dead-letter queue: a FAILED job the pipeline gave up on stops the experiment. Requires stop_condition_queue_name."
  type        = bool
  default     = false
  nullable    = false
}

variable "stop_condition_queue_name" {
  description = "Name of the SQS queue the created stop-condition alarm watches (e.g. the resubmit DLQ, modules/spot-resubmit output dlq_name). Required when create_stop_condition_alarm is true."
  type        = string
  default     = null
}

variable "stop_condition_alarm_threshold" {
  description = "Messages visible in stop_condition_queue_name at which the created alarm fires (whole number >= 1)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.stop_condition_alarm_threshold >= 1 && floor(var.stop_condition_alarm_threshold) == var.stop_condition_alarm_threshold
    error_message = "The stop_condition_alarm_threshold must be a whole number >= 1."
  }
}

variable "stop_condition_alarm_period_seconds" {
  description = "Period of the created alarm, in seconds (60 or a multiple of 60: SQS metrics are published every minute)."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.stop_condition_alarm_period_seconds >= 60 && var.stop_condition_alarm_period_seconds % 60 == 0
    error_message = "The stop_condition_alarm_period_seconds must be 60 or a multiple of 60."
  }
}

variable "stop_condition_alarm_actions" {
  description = "ARNs notified when the created alarm changes to ALARM or OK (e.g. the resubmit alert topic)."
  type        = list(string)
  default     = []
  nullable    = false
}

################################################################################
# IAM
################################################################################

variable "iam_role_path" {
  description = "Path of the FIS role."
  type        = string
  default     = "/"
  nullable    = false
}

variable "iam_role_permissions_boundary" {
  description = "ARN of a permissions boundary for the FIS role (null: none)."
  type        = string
  default     = null
}
