variable "create" {
  description = "Whether to create any resource in this module."
  type        = bool
  default     = true
  nullable    = false
}

variable "name" {
  description = "Function name; also the prefix of the rule (\"<name>-failed\"), events queue (\"<name>-events\"), DLQ (\"<name>-dlq\"), alert topic (\"<name>-alerts\"), alarms and role, and the `service` dimension of the function's metrics (POWERTOOLS_SERVICE_NAME)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
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

variable "alert_on_runnable_timeout" {
  description = "Whether jobs of these queues that Batch cancelled after a RUNNABLE time limit (statusReason \"Canceled by JobStateTimeLimit action ...\"; modules/job-queue runnable_time_limit_actions) are announced on the alert topic. Needs an alert topic encrypted with a customer managed key (EventBridge cannot use alias/aws/sns; the plan fails otherwise). A topic passed in as alert_topic_arn must allow events.amazonaws.com to sns:Publish for the rule \"<name>-runnable-timeout\", and its key (and a DLQ key given as dlq_kms_master_key_id) must let events.amazonaws.com kms:GenerateDataKey* and kms:Decrypt."
  type        = bool
  default     = true
  nullable    = false
}

variable "restrict_to_job_queues" {
  description = "Whether the EventBridge rule matches only failures in job_queue_arns (detail.jobQueue); false matches every queue in the account and Region."
  type        = bool
  default     = true
  nullable    = false
}

variable "fallback_job_queue_arn" {
  description = "Job queue ARN (e.g. an on-demand queue) the function resubmits to once a lineage has lost fallback_after_spot_losses Spot hosts (SPOTKIT_FALLBACK_JOB_QUEUE); null: always resubmit to the job's own queue. The function may submit to it and the rule matches its failures too."
  type        = string
  default     = null
}

variable "fallback_after_spot_losses" {
  description = "The K-th (and every later) Spot loss of one lineage is resubmitted to fallback_job_queue_arn instead of the original queue (SPOTKIT_FALLBACK_AFTER_LOSSES, whole number >= 1). Ignored without a fallback queue."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.fallback_after_spot_losses >= 1 && floor(var.fallback_after_spot_losses) == var.fallback_after_spot_losses
    error_message = "The fallback_after_spot_losses must be a whole number >= 1."
  }
}

variable "max_resubmissions" {
  description = "How many times one lineage of a job may be resubmitted after Spot loss (SPOTKIT_MAX_RESUBMISSIONS)."
  type        = number
  default     = 3
  nullable    = false

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
  nullable    = false
}

variable "lambda_runtime" {
  description = "Lambda runtime: python3.9 to python3.13 (python3.13, the newest that hashicorp/aws 5.x and Lambda both accept, is the default; the function's code supports python3.9 and later)."
  type        = string
  default     = "python3.13"
  nullable    = false

  validation {
    condition     = contains(["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"], var.lambda_runtime)
    error_message = "The lambda_runtime must be python3.9, python3.10, python3.11, python3.12 or python3.13."
  }
}

variable "lambda_timeout" {
  description = "Function timeout, in seconds (1-900)."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.lambda_timeout >= 1 && var.lambda_timeout <= 900
    error_message = "The lambda_timeout must be between 1 and 900 seconds."
  }
}

variable "lambda_memory_mib" {
  description = "Function memory, in MiB (128-10240)."
  type        = number
  default     = 256
  nullable    = false

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
  nullable    = false

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "The tracing_mode must be Active or PassThrough."
  }
}

variable "log_level" {
  description = "Powertools log level (POWERTOOLS_LOG_LEVEL): DEBUG, INFO, WARNING, ERROR or CRITICAL."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "The log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's embedded-metric-format metrics (POWERTOOLS_METRICS_NAMESPACE); the budget-exhausted alarm reads it."
  type        = string
  default     = "spotkit"
  nullable    = false

  validation {
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255 && !can(regex("^AWS/", var.metrics_namespace))
    error_message = "The metrics_namespace must be 1-255 characters and must not start with \"AWS/\" (reserved for AWS services)."
  }
}

variable "decision_event_bus_name" {
  description = "EventBridge event bus (name or ARN) the function publishes its decisions to (source \"spotkit\": resubmitted, fell back, revision switched, not resubmitted, budget exhausted, not resubmittable; schemas/decision-event.schema.json). \"default\" is the account's default bus; null or \"\" publishes nothing."
  type        = string
  default     = "default"

  validation {
    condition     = var.decision_event_bus_name == null ? true : (var.decision_event_bus_name == "" || can(regex("^(arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/)?[A-Za-z0-9._/-]{1,256}$", var.decision_event_bus_name)))
    error_message = "The decision_event_bus_name must be an event bus name (letters, digits, . _ - /), an event bus ARN, \"\" or null."
  }
}

variable "environment_variables" {
  description = "Extra environment variables for the function. Plain text: never secrets (read those from SSM/Secrets Manager at run time)."
  type        = map(string)
  default     = {}
  nullable    = false
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
  nullable    = false
}

variable "log_kms_key_arn" {
  description = "KMS key ARN encrypting the function's log group (null: CloudWatch Logs default encryption)."
  type        = string
  default     = null
}

################################################################################
# Delivery: EventBridge -> events queue -> event source mapping -> function
################################################################################

variable "event_max_age_seconds" {
  description = "How long EventBridge keeps retrying delivery of one event to the events queue, in seconds (60-86400), before sending it to the DLQ."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.event_max_age_seconds >= 60 && var.event_max_age_seconds <= 86400
    error_message = "The event_max_age_seconds must be between 60 and 86400."
  }
}

variable "event_max_retry_attempts" {
  description = "How many times EventBridge retries delivery of one event to the events queue (0-185) before sending it to the DLQ."
  type        = number
  default     = 185
  nullable    = false

  validation {
    condition     = var.event_max_retry_attempts >= 0 && var.event_max_retry_attempts <= 185
    error_message = "The event_max_retry_attempts must be between 0 and 185."
  }
}

variable "events_message_retention_seconds" {
  description = "How long a FAILED-job event waits in the events queue for the function, in seconds (60-1209600). Keep it below dlq_message_retention_seconds: a message moved to the DLQ keeps its original enqueue time."
  type        = number
  default     = 345600
  nullable    = false

  validation {
    condition     = var.events_message_retention_seconds >= 60 && var.events_message_retention_seconds <= 1209600
    error_message = "The events_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "max_receive_count" {
  description = "Receives of one message from the events queue before SQS moves it to the DLQ (redrive policy maxReceiveCount, 1-1000). Each receive is one attempt of the function on that record."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "The max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "batch_size" {
  description = "Most records the event source mapping passes to one invocation (BatchSize, 1-10000). Above 10, maximum_batching_window_seconds must be at least 1."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "The batch_size must be a whole number between 1 and 10000."
  }
}

variable "maximum_batching_window_seconds" {
  description = "How long the event source mapping gathers records before invoking, in seconds (MaximumBatchingWindowInSeconds, 0-300; 0: invoke with what one poll returns). Grouping reclaimed children of one array job into one resubmission needs them in one batch, so a few seconds help."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.maximum_batching_window_seconds >= 0 && var.maximum_batching_window_seconds <= 300 && floor(var.maximum_batching_window_seconds) == var.maximum_batching_window_seconds
    error_message = "The maximum_batching_window_seconds must be a whole number of seconds between 0 and 300."
  }
}

variable "maximum_concurrency" {
  description = "Most concurrent invocations the event source mapping starts (ScalingConfig.MaximumConcurrency, 2-1000; null: no cap beyond the function's reserved concurrency). Keep it at or below reserved_concurrent_executions when both are set, or the mapping is throttled."
  type        = number
  default     = null

  validation {
    condition     = var.maximum_concurrency == null || try(var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000 && floor(var.maximum_concurrency) == var.maximum_concurrency, false)
    error_message = "The maximum_concurrency must be null or a whole number between 2 and 1000."
  }
}

variable "submit_job_rate_per_second" {
  description = "SubmitJob calls per second the function may make across all its concurrent invocations (the AWS Batch quota is 50 per second per account, shared with every other submitter: lower it to leave them headroom). With maximum_concurrency set, each invocation paces itself at this rate / maximum_concurrency (SPOTKIT_SUBMIT_JOB_RATE); 0 or no maximum_concurrency: unpaced, throttled calls are backed off and retried. null: the default, 50."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.submit_job_rate_per_second >= 0
    error_message = "The submit_job_rate_per_second must be 0 (unpaced) or a number > 0."
  }
}

variable "event_source_mapping_enabled" {
  description = "Whether the event source mapping polls the events queue (false: events wait in the queue, e.g. while draining or debugging)."
  type        = bool
  default     = true
  nullable    = false
}

variable "dlq_message_retention_seconds" {
  description = "How long events EventBridge could not deliver, events the function failed max_receive_count times, and failed direct invocations stay in the DLQ, in seconds (60-1209600)."
  type        = number
  default     = 1209600
  nullable    = false

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "The dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_kms_master_key_id" {
  description = "KMS key (ID, ARN or alias) encrypting the DLQ; null: the module's key (see create_kms_key / kms_key_arn). EventBridge writes to the DLQ as the events.amazonaws.com service principal, which an AWS managed key such as alias/aws/sqs cannot grant, so a key given here must be a customer managed key whose policy lets events.amazonaws.com use it (Amazon EventBridge User Guide, \"Using dead-letter queues to process undelivered events\")."
  type        = string
  default     = null
}

################################################################################
# Encryption: one customer managed key for the queues (and the alert topic)
################################################################################

variable "create_kms_key" {
  description = "Whether to create the customer managed KMS key (alias \"alias/<name>\") that encrypts the events queue, the DLQ and the created alert topic. Its policy lets events.amazonaws.com (this module's two rules only: the queues, and the created alert topic for the RUNNABLE-timeout rule) and cloudwatch.amazonaws.com (this module's alarms only) use it; IAM policies of the account govern everyone else. False uses kms_key_arn, whose policy must allow the same."
  type        = bool
  default     = true
  nullable    = false
}

variable "kms_key_arn" {
  description = "ARN of an existing customer managed key for the queues (and the created alert topic), used when create_kms_key is false; its policy must let events.amazonaws.com (GenerateDataKey*, Decrypt) and, for alarm notifications, cloudwatch.amazonaws.com use it. Null with create_kms_key false: the queues are not KMS-encrypted."
  type        = string
  default     = null
}

variable "kms_key_enable_rotation" {
  description = "Whether AWS KMS rotates the created key's material every year."
  type        = bool
  default     = true
  nullable    = false
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the created key is deleted after destroy, in days (7-30)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30
    error_message = "The kms_key_deletion_window_in_days must be between 7 and 30."
  }
}

################################################################################
# Idempotency: a redelivered FAILED event must not resubmit the job twice
################################################################################

variable "create_idempotency_table" {
  description = "Whether to create the DynamoDB idempotency table (SPOTKIT_IDEMPOTENCY_TABLE); false uses idempotency_table_name, or runs without idempotency when that is null."
  type        = bool
  default     = true
  nullable    = false
}

variable "idempotency_table_name" {
  description = "Name of the idempotency table: the table to create (null: \"<name>-idempotency\") or, with create_idempotency_table false, an existing table (partition key `id` string, TTL attribute `expiration`)."
  type        = string
  default     = null
}

variable "idempotency_ttl_seconds" {
  description = "How long the record of one resubmission is kept, in seconds (SPOTKIT_IDEMPOTENCY_TTL_SECONDS, 300-2592000). A duplicate of the FAILED event that arrives later is resubmitted again, so keep it above event_max_age_seconds plus the time an event may wait in the events queue (max_receive_count x its visibility timeout while the mapping runs, up to events_message_retention_seconds while it is disabled)."
  type        = number
  default     = 86400
  nullable    = false

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
  nullable    = false
}

################################################################################
# Alerts
################################################################################

variable "create_alert_topic" {
  description = "Whether to create the SNS alert topic (\"<name>-alerts\"); false uses alert_topic_arn."
  type        = bool
  default     = true
  nullable    = false
}

variable "alert_topic_arn" {
  description = "Existing SNS topic ARN for alerts, used when create_alert_topic is false."
  type        = string
  default     = null
}

variable "alert_topic_kms_master_key_id" {
  description = "KMS key (ID, ARN or alias) encrypting the created alert topic; null: the module's key when there is one, else alias/aws/sns. CloudWatch alarms cannot publish to a topic encrypted with the AWS managed alias/aws/sns (its policy cannot grant cloudwatch.amazonaws.com), so with alarms keep a customer managed key here."
  type        = string
  default     = null
}

variable "create_alarms" {
  description = "Whether to create the CloudWatch alarms (DLQ not empty, budget exhausted, and with events_oldest_message_alarm_seconds the events queue backlog), notifying the alert topic."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_period_seconds" {
  description = "Period of every alarm, in seconds (60 or a multiple of 60)."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0
    error_message = "The alarm_period_seconds must be 60 or a multiple of 60."
  }
}

variable "events_oldest_message_alarm_seconds" {
  description = "Alarm when the oldest message of the events queue is at least this old, in seconds (ApproximateAgeOfOldestMessage; 0: no such alarm; null: the default, 3600). Records the function keeps failing stay up to max_receive_count x the queue's visibility timeout, so set it above that."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.events_oldest_message_alarm_seconds == 0 || var.events_oldest_message_alarm_seconds >= 60
    error_message = "The events_oldest_message_alarm_seconds must be 0 (no alarm) or at least 60."
  }
}

################################################################################
# IAM
################################################################################

variable "iam_role_path" {
  description = "Path of the function's IAM role."
  type        = string
  default     = "/"
  nullable    = false
}

variable "iam_role_permissions_boundary" {
  description = "ARN of a permissions boundary for the function's IAM role (null: none)."
  type        = string
  default     = null
}
