variable "region" {
  description = "AWS Region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "spotkit-complete"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default = {
    project = "spotkit"
    example = "complete"
  }
}

variable "subnet_ids" {
  description = "IDs of existing subnets for the compute environments (several Availability Zones give Spot more pools)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "IDs of existing security groups for the instances (outbound HTTPS to AWS endpoints and the image registry)."
  type        = list(string)
}

variable "lambda_zip_path" {
  description = "Path of the resubmit function's package (`spotkit package` builds build/resubmit.zip at the repository root)."
  type        = string
  default     = "../../build/resubmit.zip"
}

variable "image" {
  description = "Container image of the job definition."
  type        = string
  default     = "public.ecr.aws/amazonlinux/amazonlinux:2023"
}

variable "chaos_stop_condition_alarm_arns" {
  description = "More CloudWatch alarm ARNs (e.g. your service's SLO alarm) that stop the chaos experiments, besides the alarm on the resubmit DLQ."
  type        = list(string)
  default     = []
}
