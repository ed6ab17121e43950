variable "region" {
  description = "AWS Region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "spotkit-minimal"
}

variable "subnet_ids" {
  description = "IDs of existing subnets for the compute environment (several Availability Zones give Spot more pools)."
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
