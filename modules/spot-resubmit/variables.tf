variable "create" {
  description = "Whether to create any resource in this module."
  type        = bool
  default     = true
}

variable "name" {
  description = "Function name; also the prefix of the rule (\"<name>-failed\"), DLQ (\"<name>-dlq\"), alert topic (\"<name>-alerts\") and role."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

################################################################################
# What the function may resubmit
################################################################################

variable "job_queue_arns" {
  description = "Job queue ARNs the function may submit to (batch:SubmitJob resources)."
  type        = list(string)

  validation {
    condition     = length(var.job_queue_arns) > 0
    error_message = "Give at least one job queue ARN: the function's SubmitJob permission is scoped to them."
  }
}

variable "job_definition_arns" {
  description = "Job definition ARNs (with or without revision) the function may submit; every revision of each is allowed."
  type        = list(string)

  validation {
    condition     = length(var.job_definition_arns) > 0
    error_message = "Give at least one job definition ARN: the function's SubmitJob permission is scoped to them."
  }
}

variable "restrict_to_job_queues" {
  description = "Whether the EventBridge rule matches only failures in job_queue_arns (detail.jobQueue); false matches every queue in the account and Region."
  type        = bool
  default     = true
}

variable "max_resubmissions" {
  description = "How many times one lineage of a job may be resubmitted after Spot loss (SPOTKIT_MAX_RESUBMISSIONS)."
  type        = number
  default     = 3

  validation {
    condition     = var.max_resubmissions >= 0 && floor(var.max_resubmissions) == var.max_resubmissions
    error_message = "The max_resubmissions must be a whole number >= 0."
  }
}

################################################################################
# Lambda function
################################################################################

variable "lambda_zip_path" {
  description = "Path of the function's deployment package (built by `spotkit package` into build/resubmit.zip)."
  type        = string
}

variable "lambda_handler" {
  description = "Function handler (module.function)."
  type        = string
  default     = "app.handler"
}

variable "lambda_runtime" {
  description = "Lambda runtime, e.g. \"python3.12\". Not validated here on purpose: hashicorp/aws 3.39 only knows runtimes up to python3.8, so the local emulator environment passes \"python3.8\" while real environments use \"python3.12\"."
  type        = string
  default     = "python3.12"
}

variable "lambda_timeout" {
  description = "Function timeout, in seconds (1-900)."
  type        = number
  default     = 60

  validation {
    condition     = var.lambda_timeout >= 1 && var.lambda_timeout <= 900
    error_message = "The lambda_timeout must be between 1 and 900 seconds."
  }
}

variable "lambda_memory_mib" {
  description = "Function memory, in MiB (128-10240)."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_mib >= 128 && var.lambda_memory_mib <= 10240
    error_message = "The lambda_memory_mib must be between 128 and 10240 MiB."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function (null: unreserved). A cap keeps a mass Spot reclaim below the SubmitJob quota (50/s per account)."
  type        = number
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: Active or PassThrough."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "The tracing_mode must be Active or PassThrough."
  }
}

variable "log_level" {
  description = "Powertools log level (POWERTOOLS_LOG_LEVEL): DEBUG, INFO, WARNING, ERROR or CRITICAL."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "The log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "environment_variables" {
  description = "Extra environment variables for the function. Plain text: never secrets (read those from SSM/Secrets Manager at run time)."
  type        = map(string)
  default     = {}
}

variable "lambda_kms_key_arn" {
  description = "KMS key ARN encrypting the function's environment variables (null: the AWS managed aws/lambda key)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days (0: never expire)."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "KMS key ARN encrypting the function's log group (null: CloudWatch Logs default encryption)."
  type        = string
  default     = null
}

################################################################################
# Delivery: EventBridge target retries and the dead-letter queue
################################################################################

variable "event_max_age_seconds" {
  description = "How long EventBridge keeps retrying delivery of one event to the function, in seconds (60-86400) before sending it to the DLQ."
  type        = number
  default     = 3600

  validation {
    condition     = var.event_max_age_seconds >= 60 && var.event_max_age_seconds <= 86400
    error_message = "The event_max_age_seconds must be between 60 and 86400."
  }
}

variable "event_max_retry_attempts" {
  description = "How many times EventBridge retries delivery of one event to the function (0-185) before sending it to the DLQ."
  type        = number
  default     = 185

  validation {
    condition     = var.event_max_retry_attempts >= 0 && var.event_max_retry_attempts <= 185
    error_message = "The event_max_retry_attempts must be between 0 and 185."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long undelivered events and failed invocations stay in the DLQ, in seconds (60-1209600)."
  type        = number
  default     = 1209600
}

variable "dlq_kms_master_key_id" {
  description = <<-EOT
    KMS key (ID, ARN or alias) encrypting the DLQ. The default AWS managed alias/aws/sqs serves the
    function's own dead-letter writes; EventBridge writes to a DLQ as the events.amazonaws.com
    service principal, which an AWS managed key policy cannot grant, so on AWS pass a customer
    managed key whose policy lets events.amazonaws.com use it. See Amazon EventBridge User Guide,
    "Using dead-letter queues to process undelivered events".
  EOT
  type        = string
  default     = "alias/aws/sqs"
}

################################################################################
# Idempotency: a redelivered FAILED event must not resubmit the job twice
################################################################################

variable "create_idempotency_table" {
  description = "Whether to create the DynamoDB idempotency table (SPOTKIT_IDEMPOTENCY_TABLE); false uses idempotency_table_name, or runs without idempotency when that is null."
  type        = bool
  default     = true
}

variable "idempotency_table_name" {
  description = "Name of the idempotency table: the table to create (null: \"<name>-idempotency\") or, with create_idempotency_table false, an existing table (partition key `id` string, TTL attribute `expiration`)."
  type        = string
  default     = null
}

variable "idempotency_ttl_seconds" {
  description = "How long the record of one resubmission is kept, in seconds (SPOTKIT_IDEMPOTENCY_TTL_SECONDS, 300-2592000). A duplicate of the FAILED event that arrives later is resubmitted again, so keep it above event_max_age_seconds plus Lambda's 6 h asynchronous event age."
  type        = number
  default     = 86400

  validation {
    condition     = var.idempotency_ttl_seconds >= 300 && var.idempotency_ttl_seconds <= 2592000 && floor(var.idempotency_ttl_seconds) == var.idempotency_ttl_seconds
    error_message = "The idempotency_ttl_seconds must be a whole number of seconds between 300 and 2592000 (30 days)."
  }
}

variable "idempotency_table_kms_key_arn" {
  description = "KMS key ARN encrypting the created idempotency table (null: the AWS managed aws/dynamodb key)."
  type        = string
  default     = null
}

variable "idempotency_table_point_in_time_recovery" {
  description = "Whether the created idempotency table has point-in-time recovery (continuous backups)."
  type        = bool
  default     = true
}

################################################################################
# Alerts
################################################################################

variable "create_alert_topic" {
  description = "Whether to create the SNS alert topic (\"<name>-alerts\"); false uses alert_topic_arn."
  type        = bool
  default     = true
}

variable "alert_topic_arn" {
  description = "Existing SNS topic ARN for alerts, used when create_alert_topic is false."
  type        = string
  default     = null
}

variable "alert_topic_kms_master_key_id" {
  description = "KMS key (ID, ARN or alias) encrypting the created alert topic."
  type        = string
  default     = "alias/aws/sns"
}

################################################################################
# IAM
################################################################################

variable "iam_role_path" {
  description = "Path of the function's IAM role."
  type        = string
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  description = "ARN of a permissions boundary for the function's IAM role (null: none)."
  type        = string
  default     = null
}
